"""A big import is stored a part at a time (services/registry/handlers/leaders.py, import_spreadsheet):
each part is committed before the next is read, so the first leaders' events are on their way
while the rest are still being stored. These check that working in parts keeps every rule of
importing the file at once."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.orm.exc import StaleDataError

from services.common.crypto import Cipher, new_key
from services.registry.adapters.orm import LeaderRow
from services.registry.domain.importing import FileProblem
from services.registry.handlers import leaders
from services.registry.person_keys import PersonKeys
from tests.leader_sheets import a_row, spreadsheet

pytestmark = pytest.mark.integration


async def committed(store) -> tuple[int, int]:
    """Leaders and outbox rows as another connection sees them: only what has been committed."""
    async with store.engine.connect() as conn:
        people = (await conn.execute(text("select count(*) from leaders"))).scalar()
        events = (await conn.execute(text("select count(*) from outbox"))).scalar()
    return int(people or 0), int(events or 0)


async def test_each_part_is_committed_in_turn_and_problems_are_found_across_parts(registry_store, monkeypatch):
    monkeypatch.setattr(leaders, "IMPORT_PART", 2)
    tag = uuid.uuid4().hex[:6]
    content = spreadsheet(
        [
            a_row(f"part-{tag}-1"),  # row 2: first part
            a_row(f"part-{tag}-2"),  # row 3: first part
            a_row(f"part-{tag}-3", role="nurse"),  # row 4: second part, a problem
            a_row(f"part-{tag}-4"),  # row 5: second part
            a_row(f"part-{tag}-2", name="Someone Else"),  # row 6: third part, the id of row 3 again
        ]
    )
    cipher, keys = Cipher(new_key()), PersonKeys(Cipher(new_key()), Cipher(new_key()))
    seen: list[tuple[int, int]] = []
    async with registry_store.unit_of_work() as uow:

        async def part_done() -> None:
            await uow.commit()
            seen.append(await committed(registry_store))

        report = await leaders.import_spreadsheet(uow, cipher, "leaders.csv", content, keys=keys, part_done=part_done)
    # Each new leader has a profile, a key and a contact record to send: three events.
    assert seen == [(2, 6), (3, 9), (3, 9)]
    assert report.counts == {"created": 3, "updated": 0, "unchanged": 0}
    assert [(p.row, p.column) for p in report.problems] == [(4, "role"), (6, "id")]
    assert "row 3" in report.problems[1].message

    async with registry_store.unit_of_work() as uow:
        again = await leaders.import_spreadsheet(uow, cipher, "leaders.csv", content, keys=keys, part_done=uow.commit)
    assert again.counts == {"created": 0, "updated": 0, "unchanged": 3}
    assert await committed(registry_store) == (3, 9), "the same file again sends nothing"


async def test_a_file_that_cannot_be_read_stores_nothing_even_in_parts(registry_store, monkeypatch):
    monkeypatch.setattr(leaders, "IMPORT_PART", 1)
    content = spreadsheet([a_row(f"part-{uuid.uuid4().hex[:6]}")]).replace(b"topics", b"hobbies", 1)
    cipher, keys = Cipher(new_key()), PersonKeys(Cipher(new_key()), Cipher(new_key()))
    async with registry_store.unit_of_work() as uow:
        with pytest.raises(FileProblem):
            await leaders.import_spreadsheet(uow, cipher, "leaders.csv", content, keys=keys, part_done=uow.commit)
    assert await committed(registry_store) == (0, 0)


async def test_the_changed_rows_reach_the_database_and_the_session_alike(registry_store, monkeypatch):
    """An import writes its changed leaders' rows with one statement (save_leader, write_changed_rows):
    another connection reads every change, and the import's own session holds the same."""
    monkeypatch.setattr(leaders, "IMPORT_PART", 2)
    tag = uuid.uuid4().hex[:6]
    ids = [f"part-{tag}-{n}" for n in range(1, 7)]
    cipher, keys = Cipher(new_key()), PersonKeys(Cipher(new_key()), Cipher(new_key()))
    async with registry_store.unit_of_work() as uow:
        await leaders.import_spreadsheet(
            uow, cipher, "l.csv", spreadsheet([a_row(i) for i in ids]), keys=keys, part_done=uow.commit
        )
    async with registry_store.engine.connect() as conn:
        first = dict((await conn.execute(text("select id, updated_at from leaders"))).tuples().all())
    changed = [
        a_row(ids[0], topics="frailty"),  # what they are matched on: the sealed part stays as it was
        a_row(ids[1], email=f"new-{tag}@example.org"),  # a contact detail: sealed again
        a_row(ids[2]),  # unchanged
        a_row(ids[3], status="withdrawn"),
        # Each row sets only the columns it changes, with one statement for those alike: these two
        # are in the same part, and change different columns.
        a_row(ids[4], role="patient_leader"),
        a_row(ids[5], system="Q99", topics="frailty"),
    ]
    async with registry_store.unit_of_work() as uow:
        report = await leaders.import_spreadsheet(uow, cipher, "l.csv", spreadsheet(changed), keys=keys, part_done=uow.commit)
        in_session = {i: (await leaders.read_leader(uow, cipher, i, "test", "check")) for i in ids}
    assert report.counts == {"created": 0, "updated": 5, "unchanged": 1}
    async with registry_store.engine.connect() as conn:
        query = "select id, version, role, system, status, public, sealed, digest_of_sealed, updated_at from leaders"
        stored = {row.id: row for row in (await conn.execute(text(query)))}
    assert {i: stored[i].version for i in ids} == {ids[0]: 2, ids[1]: 2, ids[2]: 1, ids[3]: 2, ids[4]: 2, ids[5]: 2}
    assert {i: in_session[i]["version"] for i in ids} == {i: stored[i].version for i in ids}
    public = {i: json.loads(stored[i].public) if isinstance(stored[i].public, str) else stored[i].public for i in ids}
    assert public[ids[0]]["topics"] == ["frailty"] and public[ids[1]]["topics"] == ["mental health"]
    assert cipher.open(stored[ids[1]].sealed)["email"] == f"new-{tag}@example.org" == in_session[ids[1]]["email"]
    assert cipher.open(stored[ids[0]].sealed)["email"] == f"{ids[0]}@example.org" == in_session[ids[0]]["email"]
    assert (stored[ids[3]].status, in_session[ids[3]]["status"]) == ("withdrawn", "withdrawn")
    assert [(stored[i].role, stored[i].system, stored[i].status) for i in ids[3:]] == [
        ("carer_leader", "QHM", "withdrawn"),
        ("patient_leader", "QHM", "active"),
        ("carer_leader", "Q99", "active"),
    ]
    assert (in_session[ids[4]]["role"], in_session[ids[5]]["system"]) == ("patient_leader", "Q99")
    assert public[ids[5]]["topics"] == ["frailty"]
    # A sealed part written again has its digest written with it; one kept keeps its own.
    for i in ids:
        assert cipher.seals(cipher.plain(cipher.open(stored[i].sealed)), stored[i].sealed, stored[i].digest_of_sealed), i
    assert stored[ids[0]].updated_at != first[ids[0]] and stored[ids[2]].updated_at == first[ids[2]]


async def test_a_leader_the_session_already_held_is_read_again_after_the_import(registry_store):
    """The import writes changed rows round the ORM: an entity the session held from before shows the change."""
    cipher, keys = Cipher(new_key()), PersonKeys(Cipher(new_key()), Cipher(new_key()))
    leader = f"held-{uuid.uuid4().hex[:6]}"
    async with registry_store.unit_of_work() as uow:
        await leaders.import_spreadsheet(uow, cipher, "l.csv", spreadsheet([a_row(leader)]), keys=keys, part_done=uow.commit)
    async with registry_store.unit_of_work() as uow:
        held = await uow.session.get(LeaderRow, leader)  # kept, so the session keeps it too
        assert held is not None and held.version == 1
        changed = spreadsheet([a_row(leader, topics="frailty")])
        await leaders.import_spreadsheet(uow, cipher, "l.csv", changed, keys=keys, part_done=uow.commit)
        after = await leaders.read_leader(uow, cipher, leader, "test", "check")
        again = await uow.session.get(LeaderRow, leader)
        assert again is held and (held.version, held.public["topics"]) == (2, ["frailty"])
    assert (after["version"], after["topics"]) == (2, ["frailty"])


async def test_a_leader_erased_while_the_import_runs_is_not_brought_back(registry_store, monkeypatch):
    """Erased between the import reading them and writing their change: the part fails and is rolled
    back, as the ORM's own update of a row that has gone does, so no event brings them back."""
    tag = uuid.uuid4().hex[:6]
    ids = [f"gone-{tag}-1", f"gone-{tag}-2"]
    cipher, keys = Cipher(new_key()), PersonKeys(Cipher(new_key()), Cipher(new_key()))
    async with registry_store.unit_of_work() as uow:
        first = spreadsheet([a_row(i) for i in ids])
        await leaders.import_spreadsheet(uow, cipher, "l.csv", first, keys=keys, part_done=uow.commit)
    _, events_before = await committed(registry_store)
    write = leaders.write_changed_rows

    async def erased_meanwhile(uow) -> None:
        # The first of them gone before the rows are written, as an erasure committed in between leaves it.
        await uow.session.execute(text("delete from leaders where id = :id"), {"id": ids[0]})
        await write(uow)

    monkeypatch.setattr(leaders, "write_changed_rows", erased_meanwhile)
    changed = spreadsheet([a_row(i, topics="frailty") for i in ids])
    with pytest.raises(StaleDataError):
        async with registry_store.unit_of_work() as uow:
            await leaders.import_spreadsheet(uow, cipher, "l.csv", changed, keys=keys, part_done=uow.commit)
    _, events_after = await committed(registry_store)
    assert events_after == events_before, "no event for the erased leader, nor for the rest of the part"
    async with registry_store.engine.connect() as conn:
        rows = await conn.execute(text("select id, version from leaders where id like :t"), {"t": f"gone-{tag}-%"})
        versions = dict(rows.tuples().all())
    assert versions == dict.fromkeys(ids, 1), "the part is rolled back whole, the erasure's own transaction aside"


async def test_keys_are_read_only_when_a_contact_record_is_sent_and_then_together(registry_store, monkeypatch):
    """An import reads its part's keys with one query when the first is needed (PersonKeys.expect):
    a change to topics alone sends no contact record and reads none."""
    monkeypatch.setattr(leaders, "IMPORT_PART", 3)
    tag = uuid.uuid4().hex[:6]
    ids = [f"keys-{tag}-{n}" for n in range(1, 4)]
    cipher, keys = Cipher(new_key()), PersonKeys(Cipher(new_key()), Cipher(new_key()))
    async with registry_store.unit_of_work() as uow:
        await leaders.import_spreadsheet(
            uow, cipher, "l.csv", spreadsheet([a_row(i) for i in ids]), keys=keys, part_done=uow.commit
        )
    reads: list[list[str]] = []
    load = PersonKeys.load

    async def counted(self, uow, leader_ids) -> None:
        reads.append(sorted(set(leader_ids)))
        await load(self, uow, leader_ids)

    monkeypatch.setattr(PersonKeys, "load", counted)
    for changed, expected in (
        ([a_row(i, topics="frailty") for i in ids], []),
        ([a_row(ids[0]), a_row(ids[1], email=f"new-{tag}@example.org"), a_row(ids[2])], [sorted(ids)]),
    ):
        reads.clear()
        async with registry_store.unit_of_work() as uow:
            report = await leaders.import_spreadsheet(uow, cipher, "l.csv", spreadsheet(changed), keys=keys, part_done=uow.commit)
        assert report.counts["updated"] == 3
        assert reads == expected
    async with registry_store.engine.connect() as conn:
        contacts = (await conn.execute(text("select count(*) from outbox where topic = 'leaders.contact.v1'"))).scalar()
    assert contacts == 3 + 1, "a contact record for each new leader, and for the one whose email changed"


async def test_a_leader_changed_while_the_import_runs_keeps_the_change_and_the_part_is_refused(registry_store, monkeypatch):
    """Withdrawn by a manager between the import reading them and writing their change (found by two
    reviews): writing over that change would give two different records the same version, the matcher
    keeping one and the registry the other, or a status column that disagrees with the record. The
    part fails and is rolled back, the manager's change kept, as for a leader erased meanwhile."""
    ident = f"edited-{uuid.uuid4().hex[:6]}"
    cipher, keys = Cipher(new_key()), PersonKeys(Cipher(new_key()), Cipher(new_key()))
    async with registry_store.unit_of_work() as uow:
        await leaders.import_spreadsheet(uow, cipher, "l.csv", spreadsheet([a_row(ident)]), keys=keys, part_done=uow.commit)
    _, events_before = await committed(registry_store)
    read = leaders.load_known

    async def withdrawn_meanwhile(uow, ids):
        known = await read(uow, ids)
        # Committed by the manager's own request once the import has read them: the status column, the
        # record and the next version, as a change through the pages writes them.
        async with registry_store.engine.begin() as conn:
            public = (await conn.execute(text("select public from leaders where id = :id"), {"id": ident})).scalar()
            public = json.loads(public) if isinstance(public, str) else public
            await conn.execute(
                text("update leaders set status = 'withdrawn', public = :public, version = version + 1 where id = :id"),
                {"public": json.dumps({**public, "status": "withdrawn"}), "id": ident},
            )
        return known

    monkeypatch.setattr(leaders, "load_known", withdrawn_meanwhile)
    with pytest.raises(StaleDataError):
        async with registry_store.unit_of_work() as uow:
            changed = spreadsheet([a_row(ident, topics="frailty")])
            await leaders.import_spreadsheet(uow, cipher, "l.csv", changed, keys=keys, part_done=uow.commit)
    _, events_after = await committed(registry_store)
    assert events_after == events_before, "no event carries the import's record under the manager's version"
    async with registry_store.engine.connect() as conn:
        rows = await conn.execute(text("select status, public, version from leaders where id = :id"), {"id": ident})
        status, public, version = rows.one()
    public = json.loads(public) if isinstance(public, str) else public
    assert (status, public["status"], version) == ("withdrawn", "withdrawn", 2), "the manager's change stands whole"
