"""The matcher's purge: its record of events published and handled goes once older than the broker
keeps events; newer records, and events not yet published, stay. On real databases."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from services.common.crypto import Cipher, new_key
from services.common.retention import purge_event_records
from services.common.store import Store, make_engine
from services.matcher.adapters.orm import Base, Inbox, Outbox

pytestmark = pytest.mark.integration

NOW = dt.datetime(2027, 6, 1, 12, tzinfo=dt.UTC)


async def test_old_event_records_go_and_the_rest_stay(database_url):
    store = Store(make_engine(database_url), Outbox, Inbox, Base.metadata, Cipher(new_key()))
    await store.prepare("matcher")
    old, recent = NOW - dt.timedelta(days=401), NOW - dt.timedelta(days=399)
    async with store.unit_of_work() as uow:
        uow.session.add_all(
            [
                Outbox(event_id="sent-long-ago", topic="matches.v1", key="r1", value=None, created_at=old, published_at=old),
                Outbox(event_id="sent-lately", topic="matches.v1", key="r2", value=None, created_at=recent, published_at=recent),
                Outbox(event_id="never-sent", topic="matches.v1", key="r3", value=b"x", created_at=old, published_at=None),
                Inbox(consumer="matcher.rounds", event_id="handled-long-ago", handled_at=old),
                Inbox(consumer="matcher.rounds", event_id="handled-lately", handled_at=recent),
            ]
        )
        await uow.commit()

    removed = await purge_event_records(store, NOW, keep_days=400)

    assert removed == {"events published": 1, "events handled": 1}
    async with store.unit_of_work() as uow:
        outbox = set(await uow.session.scalars(select(Outbox.event_id)))
        inbox = set(await uow.session.scalars(select(Inbox.event_id)))
        assert await uow.session.scalar(select(func.count()).select_from(Outbox)) == 2
    assert outbox == {"sent-lately", "never-sent"}, "an event not yet published is never purged"
    assert inbox == {"handled-lately"}
    await store.engine.dispose()
