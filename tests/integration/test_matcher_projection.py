"""The matcher's copy of the matching profiles, a batch at a time (services/common/projection.py).

The batch's rows are read with one query first, so each event is applied without a query of
its own; these check that doing so keeps every rule of applying them one by one: the newest
version wins, a tombstone erases where it falls, and a redelivered event is applied once."""

from __future__ import annotations

import pytest
from sqlalchemy import select

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


async def test_a_batch_keeps_the_newest_version_erases_in_place_and_applies_each_event_once(tmp_path):
    store = Store(make_engine(f"sqlite:///{tmp_path / 'matcher.db'}"), Outbox, Inbox, Base.metadata)
    await store.prepare("matcher")
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
