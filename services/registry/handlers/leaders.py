"""Registering, changing, importing and reading leaders."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

from pydantic import ValidationError
from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm.exc import StaleDataError

from schemas.events import (
    LeaderContactChanged,
    LeaderProfile,
    LeaderProfileChanged,
    PairAnswer,
    PairDeclined,
)
from schemas.topics import LEADER_CONTACTS, LEADER_PROFILES, RESPONSES
from services.common.crypto import Cipher
from services.common.store import UnitOfWork, utc_now
from services.registry import event_refs
from services.registry.adapters import spreadsheets
from services.registry.adapters.areas import areas
from services.registry.adapters.gazetteer import locate_town
from services.registry.adapters.orm import (
    LeaderRow,
    PairRow,
    ResponseRow,
    RoundRow,
)
from services.registry.domain.importing import RowProblem, parse_rows
from services.registry.domain.leaders import Consent, LeaderIn, merged_consents
from services.registry.domain.registering import change_of, contact_changed, leaves_the_programme, split_record
from services.registry.domain.rounds import RoundStatus
from services.registry.handlers.common import Conflict, NotFound, audit, event, event_body
from services.registry.person_keys import PersonKeys
from services.registry.retention import REMOVED as CONTACT_REMOVED

log = logging.getLogger(__name__)


@dataclass(slots=True)
class StoredLeader:
    """A stored leader as an import reads it: the columns it compares and changes, as plain values.
    An ORM entity for each of thousands of rows cost more than the rest of reading them; the
    import writes its changes with one statement of its own (write_changed_rows)."""

    id: str
    version: int
    status: str
    public: dict
    sealed: bytes
    digest_of_sealed: str | None


Known = dict[str, LeaderRow | StoredLeader]  # an import's leaders by id: stored, or created by the import


async def register_leader(uow: UnitOfWork, cipher: Cipher, leader: LeaderIn, *, keys: PersonKeys) -> tuple[LeaderRow, str]:
    """Create or update a leader and share the new profile and contact views.

    Returns the row and what happened: created, updated or unchanged (domain/registering.py).
    """
    leader = checked(leader)
    assert leader.id
    row, outcome = await registered(uow, cipher, leader, await uow.session.get(LeaderRow, leader.id), None, keys=keys)
    assert isinstance(row, LeaderRow)  # read or made as an entity here
    return row, outcome


async def registered(
    uow: UnitOfWork,
    cipher: Cipher,
    leader: LeaderIn,
    row: LeaderRow | StoredLeader | None,
    known: Known | None,
    *,
    keys: PersonKeys,
) -> tuple[LeaderRow | StoredLeader, str]:
    """register_leader's work on a checked leader with their stored row, if any; `known` holds an
    import's rows (load_known), and gains the ones it creates."""
    assert leader.id
    record = leader.model_dump(mode="json")
    public, sealed = split_record(record)
    plain = cipher.plain(sealed)
    stored, checked_digest = None, None
    if row is not None:
        # The sealed part is decrypted to compare it only when its digest does not say it is the same.
        same = cipher.seals(plain, row.sealed, row.digest_of_sealed)
        stored = (row.public, sealed if same else cipher.open(row.sealed))
        checked_digest = row.digest_of_sealed if same else None
    outcome = change_of(stored, public, sealed)
    if row is not None and outcome == "unchanged":
        return row, outcome
    # Contact details removed by retention are shared again (with a new key) by any change, as before.
    contact = stored is None or CONTACT_REMOVED in stored[0] or contact_changed(stored, public, sealed)
    status_before = row.status if row is not None else None
    # The sealed part is encrypted again only when it changed: a change to topics alone keeps it as it is.
    unchanged_sealed = stored is not None and stored[1] == sealed
    row = save_leader(uow, cipher, row, leader, (public, plain), known, reseal=not unchanged_sealed, digest=checked_digest)
    await publish_leader(uow, row, leader, record, keys, contact=contact)
    if leaves_the_programme(status_before, leader.status):
        await decline_open_pairs(uow, row.id)
    return row, outcome


def checked(leader: LeaderIn) -> LeaderIn:
    """The leader with an id (made up when left out), refused when their contact details cannot work."""
    leader = leader.with_id()
    if problem := leader.contact_problem():
        raise Conflict(problem)
    return leader


def save_leader(
    uow: UnitOfWork,
    cipher: Cipher,
    row: LeaderRow | StoredLeader | None,
    leader: LeaderIn,
    record: tuple[dict, bytes],
    known: Known | None,
    *,
    reseal: bool = True,
    digest: str | None = None,
) -> LeaderRow | StoredLeader:
    """The leader's row, new or changed, at its next version: `record` is its public part and the
    plain text of its sealed part (Cipher.plain), which is encrypted, or kept as it was stored when
    `reseal` is False (the caller found it unchanged), with its digest beside it (`digest`: the
    stored one, which the caller checked, kept with the sealed part kept)."""
    if row is None:
        row = LeaderRow(id=leader.id, version=0, event_ref=event_refs.new_ref(), keyed_by_id=False)
        event_refs.remember(uow, row.id, row.event_ref)
        uow.session.add(row)
        if known is not None:
            known[row.id] = row
    values: dict[str, Any] = {"version": row.version + 1, "role": leader.role, "system": leader.system, "status": leader.status}
    sealed = cipher.seal_bytes(record[1]) if reseal else row.sealed
    digest = digest if not reseal and digest is not None else cipher.digest(record[1], sealed)
    values |= {"public": record[0], "sealed": sealed, "digest_of_sealed": digest}
    if isinstance(row, StoredLeader):
        # An import's stored leader: its row is written with the others' in one statement
        # (write_changed_rows), not by the ORM's flush one at a time. Every column, as the ORM's own
        # update does: writing only those that changed since the import read the row would mix a change
        # made meanwhile (a manager withdrawing them) with this one, the row disagreeing with itself.
        uow.session.info[CHANGED_ROWS][row.id] = {"row_id": row.id, "read_version": row.version, **values}
        row.version, row.status = values["version"], leader.status
        row.public, row.sealed, row.digest_of_sealed = record[0], sealed, digest
        return row
    for name, value in values.items():
        setattr(row, name, value)
    return row


# What an import says when write_changed_rows finds someone changed or removed meanwhile.
CHANGED_MEANWHILE = (
    "Some of these leaders were changed or removed by someone else while the file was being imported. The rows"
    " before them are stored. Import the same file again to finish: rows already stored are left as they are."
)

# session.info: the import's changed leaders' rows waiting for write_changed_rows, by id.
CHANGED_ROWS = "leaders: changed rows"


async def write_changed_rows(uow: UnitOfWork) -> None:
    """Write every row an import changed (save_leader) with one statement."""
    changed = uow.session.info.pop(CHANGED_ROWS, None)
    if changed:
        table = cast(Table, LeaderRow.__table__)  # a declarative class's table is a Table
        # Each row only if it is still at the version the import read. One time for the part, so the rows
        # written can be counted (a driver's count of rows an executemany matched cannot be relied on).
        stamp = utc_now()
        where = (table.c.id == bindparam("row_id")) & (table.c.version == bindparam("read_version"))
        await uow.session.execute(update(table).where(where), [{**row, "updated_at": stamp} for row in changed.values()])
        # A leader erased or changed by someone else since the import read them: writing over them would
        # bring the erased back through their events, or give two different records the same version
        # (the matcher keeps the first). The part fails and is rolled back, as the ORM's own update of a
        # row that has gone does; the person importing is asked to import the file again.
        written = table.c.id.in_(list(changed)) & (table.c.updated_at == stamp)
        found = await uow.session.scalar(select(func.count()).select_from(table).where(written))
        if found != len(changed):
            raise StaleDataError(f"{len(changed) - (found or 0)} leader(s) in the import were changed or removed meanwhile")
        # The statement went round the ORM: an entity of one of these leaders that the session already
        # held (the import's own endpoints hold none) is read again when next used, not left as it was.
        # By their identity keys (class, primary key, token): the import's session holds few entities (fewer
        # than the rows it changed), and reading an expired one's id would load it.
        for state in uow.session.identity_map.all_states():
            held = state.obj() if state.class_ is LeaderRow and state.key is not None and state.key[1][0] in changed else None
            if held is not None:
                uow.session.expire(held)


async def publish_leader(
    uow: UnitOfWork,
    row: LeaderRow | StoredLeader,
    leader: LeaderIn,
    record: dict[str, Any],
    keys: PersonKeys,
    *,
    contact: bool = True,
) -> None:
    """The new matching profile for the matcher, and the contact view for the notifier (left out when
    `contact` is False: the change leaves it as it was, and the notifier keeps the copy it has).
    `record` is the leader dumped to JSON, which the profile is made from.

    The profile always goes: a round is launched with each leader's version, and the matcher waits
    for that version of their profile."""
    profile = {"version": row.version, "status": leader.status, "profile": leader.matching_profile_data(record)}
    uow.publish_body(LEADER_PROFILES, row.id, event_body(LeaderProfileChanged, profile, row.id))
    if not contact:
        return
    # The contact record travels sealed with the leader's own key, so erasing them makes every copy unreadable.
    sealed = await keys.sealed_contact(uow, leader.contact(row.version))
    uow.publish(LEADER_CONTACTS, row.id, event(LeaderContactChanged, sealed, row.id))


async def replace_leader(
    uow: UnitOfWork, cipher: Cipher, leader_id: str, leader: LeaderIn, *, keys: PersonKeys
) -> tuple[LeaderRow, str]:
    """Replace an existing leader's record: the same events as any other change to a leader."""
    if await uow.session.get(LeaderRow, leader_id) is None:
        raise NotFound(f"there is no leader called {leader_id}; to add a new leader, send them to POST /leaders")
    return await register_leader(uow, cipher, leader.model_copy(update={"id": leader_id}), keys=keys)


async def decline_open_pairs(uow: UnitOfWork, leader_id: str) -> None:
    """Someone who leaves the programme has in effect said no to every pair still open,
    so each partner is told at once, and can be paired again (Always Event 4)."""
    pairs = (
        await uow.session.scalars(
            select(PairRow)
            .join(RoundRow, RoundRow.id == PairRow.round_id)
            .where(RoundRow.status == RoundStatus.published)
            .where((PairRow.lived_experience_id == leader_id) | (PairRow.professional_id == leader_id))
        )
    ).all()
    for pair in pairs:
        partner = pair.professional_id if pair.lived_experience_id == leader_id else pair.lived_experience_id
        answered = await uow.session.scalar(
            select(ResponseRow).where(
                ResponseRow.round_id == pair.round_id,
                ResponseRow.leader_id == leader_id,
                ResponseRow.partner_id == partner,
                ResponseRow.answer == "decline",
            )
        )
        if answered is not None:
            continue  # they said no already, and their partner was told then
        uow.session.add(
            ResponseRow(
                nonce=f"left-{uuid.uuid4().hex}",
                round_id=pair.round_id,
                leader_id=leader_id,
                partner_id=partner,
                answer="decline",
            )
        )
        data = PairAnswer(round_id=pair.round_id, leader_id=leader_id, partner_id=partner)
        uow.publish(RESPONSES, pair.round_id, event(PairDeclined, data, pair.round_id))


async def import_leaders(
    uow: UnitOfWork, cipher: Cipher, leaders: list[tuple[int, LeaderIn]], *, keys: PersonKeys
) -> tuple[dict[str, int], list[RowProblem]]:
    """Store every valid row; a row whose details conflict is reported, the others still land."""
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    problems: list[RowProblem] = []
    # One query for the rows that exist and one flush at the end, instead of a round trip per row.
    ids = [leader.id for _, leader in leaders if leader.id]
    known = await load_known(uow, ids)
    keys.expect(uow, ids)  # read with one query when the first is needed: a change to topics alone needs none
    uow.session.info[CHANGED_ROWS] = {}
    with uow.session.no_autoflush:
        for number, leader in leaders:
            # Neither the stored record nor the row has consents: there is nothing to merge.
            if (row := known.get(leader.id or "")) is not None and (row.public.get("consents") or leader.consents):
                stored = [Consent.model_validate(c) for c in row.public.get("consents") or []]
                leader = leader.model_copy(update={"consents": merged_consents(stored, list(leader.consents))})
            try:
                _, outcome = await registered(uow, cipher, checked(leader), row, known, keys=keys)
            except Conflict as exc:
                problems.append(RowProblem(number, "contact_method", str(exc)))
                continue
            counts[outcome] += 1
    await write_changed_rows(uow)
    await uow.session.flush()
    return counts, problems


async def load_known(uow: UnitOfWork, ids: list[str]) -> Known:
    """The stored leaders among `ids`, as plain values (StoredLeader), with their event references
    remembered for the transaction's events (as loading them as entities does)."""
    known: Known = {}
    # The table's own columns, not the entity's: the ORM's handling of each row it returns is skipped.
    table = cast(Table, LeaderRow.__table__)
    c = table.c
    columns = (c.id, c.version, c.status, c.public, c.sealed, c.digest_of_sealed)
    for chunk in range(0, len(ids), 1000):
        rows = await uow.session.execute(select(*columns, table.c.event_ref).where(table.c.id.in_(ids[chunk : chunk + 1000])))
        for *values, ref in rows.tuples():
            known[values[0]] = StoredLeader(*values)
            event_refs.remember(uow, values[0], ref)
    return known


@dataclass(frozen=True)
class ImportReport:
    """What importing a spreadsheet did: leaders created, updated and unchanged, and each problem by row and column."""

    counts: dict[str, int]
    problems: list[RowProblem]

    @property
    def rows_with_problems(self) -> int:
        return len({p.row for p in self.problems})


# Rows checked and stored between two calls of an import's `part_done`: the size of a batch of the
# outbox relay and of the matcher's projection, so the last part leaves them one batch to do.
IMPORT_PART = 500


async def import_spreadsheet(
    uow: UnitOfWork,
    cipher: Cipher,
    filename: str,
    content: bytes,
    *,
    keys: PersonKeys,
    part_done: Callable[[], Awaitable[None]] | None = None,
) -> ImportReport:
    """Read a CSV or Excel file and store every valid row; raises FileProblem when the file cannot be read at all
    (before anything is stored).

    The rows are checked and stored IMPORT_PART at a time, and `part_done` (the caller's commit) is
    awaited after each part: the first leaders' events are then on their way to the other services
    while the rest are still being stored. Importing the same file again changes nothing, so an
    import cut short (the database lost halfway) is finished by importing the file again."""
    header, rows = spreadsheets.read_rows(filename, content)
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    problems: list[RowProblem] = []
    seen: dict[str, int] = {}  # the ids of the rows read so far: the same id twice is a problem, whichever part
    for start in range(0, max(len(rows), 1), IMPORT_PART):
        valid, bad = parse_rows(header, rows[start : start + IMPORT_PART], locate_town, areas(), seen)
        stored, conflicts = await import_leaders(uow, cipher, valid, keys=keys)
        for outcome, count in stored.items():
            counts[outcome] += count
        problems += bad + conflicts
        if part_done is not None:
            await part_done()
    return ImportReport(counts, sorted(problems, key=lambda p: (p.row, p.column)))


async def read_leader(uow: UnitOfWork, cipher: Cipher, leader_id: str, actor: str, purpose: str) -> dict:
    """The leader as entered, including special-category data; the read is written to the audit log."""
    row = await uow.session.get(LeaderRow, leader_id)
    if row is None:
        raise NotFound(f"there is no leader called {leader_id}")
    audit(uow, actor, "read", leader_id, purpose)
    return {**row.public, **cipher.open(row.sealed), "id": row.id, "version": row.version}


async def share_under_references(uow: UnitOfWork, cipher: Cipher, keys: PersonKeys, batch: int = 500) -> int:
    """People registered before events carried event references: their profile, key and contact record
    shared once more, now under their reference, so the matcher and the notifier know them by it.
    One batch; returns how many were shared (0: none left). Someone whose contact details retention
    removed keeps them removed: only their profile goes."""
    rows = (await uow.session.scalars(select(LeaderRow).where(LeaderRow.shared_by_ref.is_(False)).limit(batch))).all()
    for row in rows:
        row.shared_by_ref = True
        entered = {**row.public, **cipher.open(row.sealed), "id": row.id}
        removed = entered.pop(CONTACT_REMOVED, None)
        try:
            leader = LeaderIn.model_validate(entered)
        except ValidationError as problem:  # never stops the registry starting; their next change shares them
            log.warning("a leader's record could not be read to share it under their event reference: %s", problem.title)
            continue
        profile = LeaderProfile(version=row.version, status=leader.status, profile=leader.matching_profile())
        uow.publish(LEADER_PROFILES, row.id, event(LeaderProfileChanged, profile, row.id))
        if removed:
            continue
        await keys.share_again(uow, row.id)
        contact = await keys.sealed_contact(uow, leader.contact(row.version))
        uow.publish(LEADER_CONTACTS, row.id, event(LeaderContactChanged, contact, row.id))
    return len(rows)
