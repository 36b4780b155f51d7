"""What the registry deletes when its retention period has passed (README: Retention).

- delivery reports and answers (with any reason given for a no): `REGISTRY_RETENTION_DAYS`
  after their last change;
- a withdrawn person's contact details (email, phone, postal address, the person who gets
  their messages), once no round they are in is still open: here, and through a tombstone
  on `leaders.contact.v1`, in the notifier. Their name stays, so the history still reads.
  Their data key goes too (with a tombstone on `leaders.keys.v1`), so their contact records
  still on the topic can no longer be read; a later change to them seals with a new key;
- audit log entries (who read or changed what, and when): `REGISTRY_AUDIT_RETENTION_DAYS` after they were written.
"""

from __future__ import annotations

import datetime as dt
import typing
import uuid
from typing import Any

from sqlalchemy import CursorResult, Result, Text, cast, delete, or_, select, update

from schemas.topics import LEADER_CONTACTS, LEADER_KEYS
from services.common.crypto import Cipher
from services.common.store import Store, UnitOfWork
from services.registry import event_refs
from services.registry.adapters.orm import (
    AuditRow,
    DeliveryRow,
    EndedPairRow,
    FollowUpAnswerRow,
    LeaderRow,
    PersonKeyRow,
    ResponseRow,
    RoundRow,
)

CONTACT_FIELDS = ("email", "phone", "postal_address", "proxy")
FINISHED_ROUNDS = ("closed", "cancelled")
REMOVED = "contact_details_removed_on"


async def purge(store: Store, cipher: Cipher, now: dt.datetime, keep_days: int, audit_days: int) -> dict[str, int]:
    cutoff = now - dt.timedelta(days=keep_days)
    async with store.unit_of_work() as uow:
        audit = await uow.session.execute(delete(AuditRow).where(AuditRow.at < now - dt.timedelta(days=audit_days)))
        deliveries = await uow.session.execute(delete(DeliveryRow).where(DeliveryRow.updated_at < cutoff))
        answers = await uow.session.execute(delete(ResponseRow).where(ResponseRow.answered_at < cutoff))
        # The pair stays ended (never proposed again); the words a person added go, like a reason for a no.
        words = await uow.session.execute(
            update(EndedPairRow)
            .where(EndedPairRow.ended_at < cutoff, EndedPairRow.sealed_words.is_not(None))
            .values(sealed_words=None)
        )
        follow_ups = await uow.session.execute(delete(FollowUpAnswerRow).where(FollowUpAnswerRow.answered_at < cutoff))
        withdrawn = await forget_withdrawn_contacts(uow, cipher, now.date())
        await uow.commit()
    return {
        "delivery reports": deleted(deliveries),
        "answers": deleted(answers),
        "words given when a pair ended": deleted(words),
        "answers to did you meet and check-ins": deleted(follow_ups),
        "withdrawn contact details": withdrawn,
        "audit log entries": deleted(audit),
    }


def deleted(result: Result[Any]) -> int:
    """How many rows a DELETE removed (its result is a cursor's, which counts them)."""
    return typing.cast(CursorResult[Any], result).rowcount


async def forget_withdrawn_contacts(uow: UnitOfWork, cipher: Cipher, today: dt.date) -> int:
    """Withdrawn people whose last round has closed: their contact details go."""
    rows = (await uow.session.scalars(select(LeaderRow).where(LeaderRow.status == "withdrawn"))).all()
    forgotten = 0
    for row in rows:
        if row.public.get(REMOVED) or await in_an_open_round(uow, row.id):
            continue
        sealed = cipher.open(row.sealed)
        row.sealed = cipher.seal({**sealed, **{field: None for field in CONTACT_FIELDS}})
        row.digest_of_sealed = None  # nothing of the details removed is kept, not even a digest
        row.public = {**row.public, REMOVED: today.isoformat()}
        uow.tombstone(LEADER_CONTACTS, row.id, str(uuid.uuid4()))  # keyed by their event reference at commit
        await uow.session.execute(delete(PersonKeyRow).where(PersonKeyRow.leader_id == row.id))
        uow.tombstone(LEADER_KEYS, row.id, str(uuid.uuid4()))
        if row.keyed_by_id:  # registered before event references: their first records are keyed by their id
            for topic in (LEADER_CONTACTS, LEADER_KEYS):
                event_refs.tombstone_by_id(uow, topic, row.id, str(uuid.uuid4()))
        forgotten += 1
    return forgotten


async def in_an_open_round(uow: UnitOfWork, leader_id: str) -> bool:
    quoted = f'"{leader_id}"'  # how the id appears in the stored JSON text (see handlers.forget_in_rounds)
    mentions = [cast(column, Text).contains(quoted, autoescape=True) for column in (RoundRow.leader_ids, RoundRow.locked_pairs)]
    query = select(RoundRow.id).where(or_(*mentions), RoundRow.status.not_in(FINISHED_ROUNDS)).limit(1)
    return (await uow.session.scalar(query)) is not None
