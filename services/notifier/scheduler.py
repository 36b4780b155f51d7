"""Runs beside the consumers: sends parked messages when they are due.

The schedule lives in the database (`scheduled_messages`), so a restart loses
nothing: the next scheduler picks up where the last one stopped. Several
notifier instances may run one each; a lease on each message (schedule.take)
makes sure only one of them sends it, and a scheduler that stops lets go of
the message it holds, so another instance sends it at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from services.common.background import Background
from services.notifier import handlers, schedule
from services.notifier.context import Notifier

log = logging.getLogger("pairing.notifier.scheduler")
# How long a stopping scheduler may finish the message in hand: one send (the email server's timeout).
GRACE_SECONDS = 10.0


class Scheduler(Background):
    task_name = "notifier-scheduler"

    def __init__(self, notifier: Notifier, poll_seconds: float = 5.0, grace_seconds: float = GRACE_SECONDS):
        self.notifier = notifier
        self.poll_seconds = poll_seconds
        self.grace_seconds = grace_seconds

    @property
    def stopping(self) -> asyncio.Event:
        """The notifier's own: handlers.run_due looks at it too, to let go of a message it cannot finish."""
        return self.notifier.stopping

    async def stop(self) -> None:
        """Finish the message in hand, for up to grace_seconds, and take no new one. One still in hand
        after that is let go (handlers.run_due), so another instance sends it without waiting for its lease."""
        self.notifier.wake.set()  # out of its pause at once
        await super().stop()

    async def run_due(self, early: bool = False) -> int:
        """One pass: try everything due now. Tests call this with a frozen clock."""
        return await handlers.run_due(self.notifier, early)

    async def run_forever(self) -> None:
        wake = self.notifier.wake
        while not self.stopping.is_set():
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
