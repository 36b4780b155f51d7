"""Runs beside the consumers: sends parked messages when they are due.

The schedule lives in the database (`scheduled_messages`), so a restart loses
nothing: the next scheduler picks up where the last one stopped. Several
notifier instances may run one each; a lease on each message (schedule.take)
makes sure only one of them sends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from services.notifier import handlers, schedule
from services.notifier.context import Notifier

log = logging.getLogger("pairing.notifier.scheduler")


class Background:
    """Runs `run_forever` as a task between start() and stop(). The scheduler and the receipt
    checker share only this: when each looks again is its own (see their run_forever)."""

    task_name = "notifier-background"
    _task: asyncio.Task | None = None

    async def run_forever(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run_forever(), name=self.task_name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


class Scheduler(Background):
    task_name = "notifier-scheduler"

    def __init__(self, notifier: Notifier, poll_seconds: float = 5.0):
        self.notifier = notifier
        self.poll_seconds = poll_seconds

    async def run_due(self, early: bool = False) -> int:
        """One pass: try everything due now. Tests call this with a frozen clock."""
        return await handlers.run_due(self.notifier, early)

    async def run_forever(self) -> None:
        wake = self.notifier.wake
        while True:
            early = wake.is_set()
            wake.clear()
            try:
                await self.run_due(early)
                pause = await self.pause()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scheduler pass failed; trying again shortly")
                pause = self.poll_seconds
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(wake.wait(), pause)

    async def pause(self) -> float:
        """Sleep until the next message is due, but look again at least every poll_seconds."""
        due = await schedule.next_due(self.notifier)
        if due is None:
            return self.poll_seconds
        return min(self.poll_seconds, max(0.05, (due - self.notifier.now()).total_seconds()))
