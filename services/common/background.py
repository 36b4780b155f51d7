"""Work a service does beside its consumers, again and again until it stops: every service's outbox
relay, purge job and metrics sampler, and the notifier's scheduler, receipt checker and text reader.

Stopping asks before it cancels. A cancel alone can land while a pass commits: the database
connection is then left half returned to its pool (which logs that as an error, and an operator
reads it as a crash) and what the pass did may be done again. So `stop` sets `stopping`, the pass
in hand finishes and no other starts (a pause between passes, `rest`, ends at once), and only a
pass still running after `grace_seconds` (waiting for a database or server that has gone) is
cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

log = logging.getLogger(__name__)


class Background:
    """Runs `run_forever` as a task between start() and stop(). Its loop goes on `while not
    self.stopping.is_set()` and pauses between passes with `rest`, for as long as each kind chooses."""

    task_name = "background"
    # Long enough for a pass that writes to the database or asks a server once; far less than
    # runtime.SHUTDOWN_STEP_SECONDS, and than the time an orchestrator gives a stopping service.
    grace_seconds = 5.0
    _task: asyncio.Task | None = None
    _stopping: asyncio.Event | None = None

    @property
    def stopping(self) -> asyncio.Event:
        """Set by stop(): finish the pass in hand and start no other."""
        if self._stopping is None:
            self._stopping = asyncio.Event()
        return self._stopping

    async def run_forever(self) -> None:
        raise NotImplementedError

    async def rest(self, seconds: float) -> None:
        """A pause between passes, over at once when stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    def start(self) -> None:
        if self._task is None:
            self.stopping.clear()
            self._task = asyncio.create_task(self.run_forever(), name=self.task_name)
            self._task.add_done_callback(ended)

    async def stop(self) -> None:
        if self._task is None:
            return
        task, self._task = self._task, None
        self.stopping.set()
        try:
            await asyncio.wait({task}, timeout=self.grace_seconds)
        finally:
            task.cancel()  # nothing if it has ended; else a pass that did not finish in time
        # Waited for, not awaited: a caller's own time limit (runtime.stop_within) then ends the wait
        # even if the task does not end.
        await asyncio.wait({task})


def ended(task: asyncio.Task) -> None:
    """A loop that ended by an error, not by stopping, is said at once: no one else would hear of it."""
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("%s stopped by an error", task.get_name(), exc_info=error)
