"""A purge job: deletes what a service no longer needs to keep, at start-up and then once a day.

Each service gives its own `purge` (services/registry/retention.py,
services/notifier/retention.py, and `purge_event_records` below for the matcher);
how long each thing is kept is a setting, listed with why in the README's Retention section.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import typing
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import CursorResult, delete

from services.common.background import Background
from services.common.store import Store

log = logging.getLogger("pairing.retention")

DAY_SECONDS = 24 * 60 * 60


class PurgeJob(Background):
    """Runs `purge` now and then every `every_seconds`, between start() and stop()."""

    def __init__(self, name: str, purge: Callable[[], Awaitable[dict[str, int]]], every_seconds: float = DAY_SECONDS):
        self.name, self.purge, self.every_seconds = name, purge, every_seconds
        self.task_name = f"{name}-purge"

    async def run_once(self) -> dict[str, int]:
        removed = await self.purge()
        if any(removed.values()):
            log.info("%s: removed what is past its retention period: %s", self.name, removed)
        return removed

    async def run_forever(self) -> None:
        while not self.stopping.is_set():
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be away: try again at the next pass
                log.exception("%s: purge failed; trying again later", self.name)
            await self.rest(self.every_seconds)


async def purge_event_records(store: Store, now: dt.datetime, keep_days: int) -> dict[str, int]:
    """The service's record of events it has published (the body is already gone) and of events it
    has handled, once older than the broker keeps events: none of them can come again by then."""
    cutoff = now - dt.timedelta(days=keep_days)
    outbox, inbox = store.outbox, store.inbox
    async with store.unit_of_work() as uow:
        sent = await uow.session.execute(delete(outbox).where(outbox.published_at.is_not(None), outbox.published_at < cutoff))
        handled = await uow.session.execute(delete(inbox).where(inbox.handled_at < cutoff))
        await uow.commit()
    return {"events published": _count(sent), "events handled": _count(handled)}


def _count(result: Any) -> int:
    return typing.cast(CursorResult[Any], result).rowcount
