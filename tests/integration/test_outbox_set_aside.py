"""Counting the events the relay set aside (every few seconds, for the metrics) reads those rows
alone, through the index each service's migration builds, however many events were ever sent."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from sqlalchemy import insert, text
from sqlalchemy.dialects import postgresql, sqlite

from services.common.relay import SET_ASIDE, set_aside_count, set_aside_headers
from services.common.store import Store, make_engine

pytestmark = pytest.mark.integration


def outbox_row(event_id: str, *, value: bytes | None, published: bool, headers: dict | None = None) -> dict:
    now = dt.datetime.now(dt.UTC)
    return {
        "event_id": event_id,
        "topic": "leader-profiles.v1",
        "key": "a-key",
        "value": value,
        "headers": headers or {},
        "created_at": now,
        "published_at": now if published else None,
    }


@pytest.mark.parametrize("service", ["registry", "matcher", "notifier"])
async def test_the_set_aside_count_reads_only_the_rows_set_aside(service, database_url, database_kind):
    orm = importlib.import_module(f"services.{service}.adapters.orm")
    store = Store(make_engine(database_url), orm.Outbox, orm.Inbox, orm.Base.metadata)
    try:
        await store.prepare(service)  # the service's own migrations build its outbox and the index
        refused = {SET_ASIDE: "RecordTooLargeError"}
        rows = [outbox_row(f"sent-{i}", value=None, published=True) for i in range(2000)]
        rows += [outbox_row(f"aside-{i}", value=b"sealed", published=True, headers=refused) for i in range(3)]
        rows += [outbox_row(f"waiting-{i}", value=b"sealed", published=False) for i in range(5)]
        async with store.sessions() as session, session.begin():
            await session.execute(insert(store.outbox.__table__), rows)

        assert await set_aside_count(store) == 3

        query = set_aside_headers(store.outbox)
        async with store.sessions() as session, session.begin():
            if database_kind == "sqlite":
                sql = str(query.compile(dialect=sqlite.dialect()))
                plan = " ".join(str(row[-1]) for row in await session.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
            else:
                # So few rows that a plain scan may well be cheaper: asked whether the index can serve it at all.
                await session.execute(text("SET LOCAL enable_seqscan = off"))
                sql = str(query.compile(dialect=postgresql.dialect()))
                plan = " ".join(str(row[0]) for row in await session.execute(text(f"EXPLAIN {sql}")))
        assert "ix_outbox_set_aside" in plan, plan
    finally:
        await store.engine.dispose()
