"""Erasing a person everywhere: here, and through tombstones in the other services."""

from __future__ import annotations

import uuid

from sqlalchemy import Text, cast, delete, or_, select, update

from schemas.topics import LEADER_CONTACTS, LEADER_KEYS, LEADER_PROFILES
from services.common.store import UnitOfWork
from services.registry import event_refs
from services.registry.adapters.orm import (
    AnswerCodeRow,
    AuditRow,
    CohortMemberRow,
    DeliveryRow,
    EndedPairRow,
    FollowUpAnswerRow,
    LeaderRow,
    PairRow,
    ResponseRow,
    RoundRow,
    UnmatchedRow,
)
from services.registry.domain.erased import erased_marker, without_id
from services.registry.handlers.common import ERASED, NotFound, audit


async def erase_leader(uow: UnitOfWork, leader_id: str, actor: str, purpose: str, audit_key: bytes) -> None:
    """Remove a person everywhere: here, and (through tombstones) from the matcher and the notifier.
    The audit log keeps what was done about them, under a keyed digest of their id (`audit_key`)."""
    row = await uow.session.get(LeaderRow, leader_id)
    if row is None:
        raise NotFound(f"there is no leader called {leader_id}")
    outbox = uow.store.outbox
    ref, keyed_by_id = row.event_ref, row.keyed_by_id
    await uow.session.delete(row)  # and with it the only link from their event reference to them
    # Events already sent still sit in the outbox with their contents: remove them too.
    await uow.session.execute(delete(outbox).where(outbox.key.in_([leader_id, ref])))
    await uow.session.execute(
        delete(ResponseRow).where(or_(ResponseRow.leader_id == leader_id, ResponseRow.partner_id == leader_id))
    )
    await uow.session.execute(delete(DeliveryRow).where(DeliveryRow.leader_id == leader_id))
    await uow.session.execute(
        delete(AnswerCodeRow).where(or_(AnswerCodeRow.leader_id == leader_id, AnswerCodeRow.partner_id == leader_id))
    )
    await uow.session.execute(delete(UnmatchedRow).where(UnmatchedRow.leader_id == leader_id))
    ended = or_(EndedPairRow.lived_experience_id == leader_id, EndedPairRow.professional_id == leader_id)
    await uow.session.execute(delete(EndedPairRow).where(ended))  # with any words they added
    about = or_(FollowUpAnswerRow.leader_id == leader_id, FollowUpAnswerRow.partner_id == leader_id)
    await uow.session.execute(delete(FollowUpAnswerRow).where(about))  # "Did you meet?" and check-ins, with their words
    # Their partners' pairs stay in the round's history, without the erased person's id.
    await uow.session.execute(update(PairRow).where(PairRow.lived_experience_id == leader_id).values(lived_experience_id=ERASED))
    await uow.session.execute(update(PairRow).where(PairRow.professional_id == leader_id).values(professional_id=ERASED))
    await uow.session.execute(delete(CohortMemberRow).where(CohortMemberRow.leader_id == leader_id))
    await forget_in_rounds(uow, leader_id)
    # Every other table about a person (the work queue's tasks, and any added later) goes too; the audit stays.
    for table in LeaderRow.metadata.sorted_tables:
        if table.name != AuditRow.__tablename__ and "leader_id" in table.c:
            await uow.session.execute(delete(table).where(table.c.leader_id == leader_id))
    # Their data key went with the tables above; its tombstone tells the notifier to delete its copy,
    # so their contact records left on the topic, in logs or dead letters can no longer be read.
    # The tombstones are keyed by their event reference, like everything else about them on the topics
    # (the unit of work turns the id into it: services/registry/event_refs.py).
    for topic in (LEADER_PROFILES, LEADER_CONTACTS, LEADER_KEYS):
        uow.tombstone(topic, leader_id, str(uuid.uuid4()))
    if keyed_by_id:
        # Registered before events carried references: their first records are keyed by their id.
        for topic in (LEADER_PROFILES, LEADER_CONTACTS, LEADER_KEYS):
            event_refs.tombstone_by_id(uow, topic, leader_id, str(uuid.uuid4()))
    # The audit keeps every action, time and actor, and the erasure itself, under a digest of their id.
    marker = erased_marker(audit_key, leader_id)
    await forget_in_audit(uow, leader_id, marker)
    audit(uow, without_id(actor, leader_id, marker), "erased", marker, without_id(purpose, leader_id, marker))


async def forget_in_audit(uow: UnitOfWork, leader_id: str, marker: str) -> None:
    """Their id, in the audit log, becomes the marker: on their own rows, and where another person's row
    names them (an answer "yes to pl-018", a pair with them ended)."""
    mentions = or_(
        AuditRow.leader_id == leader_id,
        AuditRow.purpose.contains(leader_id, autoescape=True),
        AuditRow.actor.contains(leader_id, autoescape=True),
    )
    for row in (await uow.session.scalars(select(AuditRow).where(mentions))).all():
        if row.leader_id == leader_id:
            row.leader_id = marker
        row.purpose = without_id(row.purpose, leader_id, marker)[:500]
        row.actor = without_id(row.actor, leader_id, marker)[:200]


async def forget_in_rounds(uow: UnitOfWork, leader_id: str) -> None:
    """Take an erased person out of every round's people and its kept and ruled-out pairs."""
    # The id is removed, not kept as a placeholder: managers choose ids, and one may name the person.
    quoted = f'"{leader_id}"'  # how the id appears in the stored JSON text, on PostgreSQL and SQLite alike
    mentions = [
        cast(column, Text).contains(quoted, autoescape=True)
        for column in (RoundRow.leader_ids, RoundRow.locked_pairs, RoundRow.forbidden_pairs)
    ]
    for row in (await uow.session.scalars(select(RoundRow).where(or_(*mentions)))).all():
        kept = [p for p in row.locked_pairs or [] if leader_id not in p]
        ruled_out = [p for p in row.forbidden_pairs or [] if leader_id not in p]
        if leader_id in row.leader_ids or kept != (row.locked_pairs or []) or ruled_out != (row.forbidden_pairs or []):
            row.leader_ids = [i for i in row.leader_ids if i != leader_id]
            row.locked_pairs, row.forbidden_pairs = kept, ruled_out
