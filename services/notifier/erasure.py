"""Forgetting an erased person: everything the notifier holds about them goes.

The registry erases a person and publishes a tombstone on `leaders.contact.v1`.
When the notifier hears it, in the projection's transaction:

- their contact details, delivery rows and scheduled messages are deleted;
- a scheduled message to someone else that names them (their partner's
  outcome, a "your partner said no") is cancelled: it would tell the partner
  about someone who is no longer here. Their partner is not left in silence:
  a "needs a person" report asks a member of staff to tell them in person;
- reminders and "no answer yet" tasks for them, or about them, are cancelled;
- a digest of their id is kept (never the id), so an outcome or answer about
  them that arrives later is never sent (`contacts.erased_among`);
- text files for them or naming them (text messages, tasks for a person) and
  their letters are deleted from the output folders.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import delete, select

from schemas.events import LeaderContact
from schemas.topics import DELIVERIES
from services.common.store import UnitOfWork
from services.notifier.adapters.channels import file_name
from services.notifier.adapters.orm import ContactRow, DeliveryRow, ErasedRow, ScheduledRow
from services.notifier.contacts import digest, made, stored
from services.notifier.domain.check_ins import QuestionDue
from services.notifier.domain.follow_ups import AnswerFollowUp
from services.notifier.notices import notice_for, report
from services.notifier.schedule import opened

log = logging.getLogger("pairing.notifier.erasure")

PARTNER_ERASED = (
    "not sent: their partner's details were erased from the programme; "
    "please tell them in person that their partner is no longer taking part"
)


async def forget_person(notifier, uow: UnitOfWork, leader_id: str) -> None:
    """A tombstone on the contact topic: the person was erased from the registry."""
    session = uow.session
    contact_row = await session.get(ContactRow, leader_id)
    contact = LeaderContact.model_validate(notifier.cipher.open(contact_row.sealed)) if contact_row else None
    await session.execute(delete(ContactRow).where(ContactRow.leader_id == leader_id))
    if await stored(session, ErasedRow, digest(leader_id)) is None:
        made(session, ErasedRow(digest=digest(leader_id)), digest(leader_id))
    cancelled = 0
    for row in (await session.scalars(select(ScheduledRow))).all():
        event = opened(notifier, row)
        notice = notice_for(event)
        to = notice.leader_id
        # Not for them, and not naming them (as the partner, or who said no): it stays.
        if to != leader_id and leader_id not in [*notice.needed, *notice.wanted]:
            continue
        await session.delete(row)
        cancelled += 1
        # A follow-up or question about them is just dropped: it asks about a pair that no longer stands.
        if to != leader_id and not isinstance(event, (AnswerFollowUp, QuestionDue)):
            await tell_in_person(session, notice, to)
            uow.publish(DELIVERIES, to, report(notice, "person", "needs_a_person", PARTNER_ERASED))
    await session.execute(delete(DeliveryRow).where(DeliveryRow.leader_id == leader_id))
    outbox = uow.store.outbox  # delivery reports about them, sent or not: the registry has forgotten them too
    await session.execute(delete(outbox).where(outbox.key == leader_id))
    removed = remove_files(notifier.folders, leader_id, contact)
    log.info("an erased person was forgotten: %d scheduled message(s) cancelled, %d file(s) removed", cancelled, removed)


async def tell_in_person(session, notice, to: str) -> None:
    """The partner's waiting message was cancelled: its delivery row asks a person to tell them."""
    rows = (
        await session.scalars(
            select(DeliveryRow).where(DeliveryRow.key.startswith(f"{notice.event.event_id}:"), DeliveryRow.leader_id == to)
        )
    ).all()
    for row in rows:
        await session.delete(row)
    session.add(
        DeliveryRow(
            key=notice.key("person"),
            round_id=notice.round_id,
            leader_id=to,
            channel="person",
            status="needs_a_person",
            attempts=0,
            detail=PARTNER_ERASED,
        )
    )


def personal_strings(leader_id: str, contact: LeaderContact | None) -> list[bytes]:
    """What would identify them in a text file: their id, name and contact details (and their proxy's)."""
    values: list[str | None] = [leader_id]
    if contact is not None:
        values += [contact.name, contact.email, contact.phone, contact.postal_address]
        if contact.proxy is not None:
            values += [contact.proxy.email, contact.proxy.phone, contact.proxy.postal_address]
    return [v.encode() for v in values if v and len(v) >= 3]


def remove_files(folders: tuple[Path, ...], leader_id: str, contact: LeaderContact | None) -> int:
    """Files for them (named by their delivery key) or naming them (text files only: a PDF letter's
    words are not searchable, and a letter names its partner only after it was sent to them)."""
    mine = file_name(f":{leader_id}:", "")
    wanted = personal_strings(leader_id, contact)
    removed = 0
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if not path.is_file():
                continue
            if mine in path.name or (path.suffix == ".txt" and any(w in path.read_bytes() for w in wanted)):
                path.unlink(missing_ok=True)
                removed += 1
    return removed
