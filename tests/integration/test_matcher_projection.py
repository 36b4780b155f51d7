"""The matcher's copy of the matching profiles, a batch at a time (services/common/projection.py).

The batch's rows are read with one query first, so each event is applied without a query of
its own; these check that doing so keeps every rule of applying them one by one: the newest
version wins, a tombstone erases where it falls, and a redelivered event is applied once."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from schemas.events import LeaderProfile, LeaderProfileChanged
from services.common.crypto import Cipher, new_key
from services.common.projection import Change, apply_changes
from services.common.store import Store, make_engine
from services.matcher import handlers
from services.matcher.adapters.orm import Base, Inbox, Outbox, ProfileRow
from services.matcher.domain.generate import generate_cohort

pytestmark = pytest.mark.integration


def changed(profile, version: int) -> LeaderProfileChanged:
    data = LeaderProfile(version=version, status="active", profile=profile)
    return LeaderProfileChanged(producer="test", correlation_id=profile.id, data=data)


async def apply(store: Store, cipher: Cipher, changes: list[Change]) -> list:
    return await apply_changes(
        store,
        "matcher.profiles",
        changes,
        handlers.apply_profile,
        handlers.forget_leader,
        cipher,
        preload=handlers.load_profiles,
    )


async def matcher_store(database_url: str) -> Store:
    store = Store(make_engine(database_url), Outbox, Inbox, Base.metadata)
    await store.prepare("matcher")
    return store


async def test_a_batch_keeps_the_newest_version_erases_in_place_and_applies_each_event_once(database_url):
    store = await matcher_store(database_url)
    cipher = Cipher(new_key())
    a, b, c, d = generate_cohort(2, 2, seed=5).leaders[:4]
    b_first, c_newest = changed(b, 1), changed(c, 3)
    assert len(await apply(store, cipher, [Change(b.id, b_first), Change(c.id, c_newest)])) == 2

    a_second = changed(a, 2)
    b_again = changed(b, 1)  # b registered again after being erased: their first version once more
    batch = [
        Change(a.id, changed(a, 1)),  # new to the matcher, and changed again within the same batch
        Change(a.id, a_second),
        Change(b.id, None),  # b erased ...
        Change(b.id, b_again),  # ... and back, later in the same batch
        Change(c.id, changed(c, 2)),  # an older version replayed: never undoes version 3
        Change(c.id, c_newest),  # a redelivery of an event already applied: skipped
        Change(d.id, None),  # a tombstone for someone the matcher never had
    ]
    applied = await apply(store, cipher, batch)

    assert [e.event_id for e in applied] == [
        batch[0].event.event_id,
        a_second.event_id,
        b_again.event_id,
        batch[4].event.event_id,
    ]
    async with store.sessions() as session:
        rows = {row.leader_id: row for row in (await session.scalars(select(ProfileRow))).all()}
    assert {leader: row.version for leader, row in rows.items()} == {a.id: 2, b.id: 1, c.id: 3}
    assert cipher.open(rows[a.id].sealed)["id"] == a.id
    await store.engine.dispose()


# PostgreSQL only: it is what several instances share (SQLite lets no other writer in while the batch's transaction writes).
@pytest.mark.parametrize("database_kind", ["postgresql"])
async def test_a_newer_profile_written_meanwhile_by_another_instance_is_never_overwritten(database_url):
    """The batch's profiles are written with one statement at its commit, after the versions were read:
    a row another instance brought to a newer version in between keeps it."""
    store = await matcher_store(database_url)
    cipher = Cipher(new_key())
    a, b = generate_cohort(1, 1, seed=7).leaders[:2]
    await apply(store, cipher, [Change(a.id, changed(a, 1)), Change(b.id, changed(b, 1))])

    async def read_then_another_instance_writes(uow, leader_ids):
        versions = await handlers.load_profiles(uow, leader_ids)
        async with store.engine.begin() as conn:
            await conn.execute(update(ProfileRow).where(ProfileRow.leader_id == a.id).values(version=5, status="paused"))
        return versions

    applied = await apply_changes(
        store,
        "matcher.profiles",
        [Change(a.id, changed(a, 2)), Change(b.id, changed(b, 2))],
        handlers.apply_profile,
        handlers.forget_leader,
        cipher,
        preload=read_then_another_instance_writes,
    )
    assert len(applied) == 2, "both were new events, so both are marked handled"
    async with store.sessions() as session:
        rows = {row.leader_id: (row.version, row.status) for row in (await session.scalars(select(ProfileRow))).all()}
    assert rows == {a.id: (5, "paused"), b.id: (2, "active")}
    await store.engine.dispose()
