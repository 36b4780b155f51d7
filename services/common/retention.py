"""A purge job: deletes what a service no longer needs to keep, at start-up and then once a day.

Each service gives its own `purge` (services/registry/retention.py,
services/notifier/retention.py); how long each thing is kept is a setting,
listed with why in the README's Retention section.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("pairing.retention")

DAY_SECONDS = 24 * 60 * 60


class PurgeJob:
    """Runs `purge` now and then every `every_seconds`, between start() and stop()."""

    def __init__(self, name: str, purge: Callable[[], Awaitable[dict[str, int]]], every_seconds: float = DAY_SECONDS):
        self.name, self.purge, self.every_seconds = name, purge, every_seconds
        self._task: asyncio.Task | None = None

    async def run_once(self) -> dict[str, int]:
        removed = await self.purge()
        if any(removed.values()):
            log.info("%s: removed what is past its retention period: %s", self.name, removed)
        return removed

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be away: try again at the next pass
                log.exception("%s: purge failed; trying again later", self.name)
            await asyncio.sleep(self.every_seconds)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run_forever(), name=f"{self.name}-purge")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
