"""The notifier's handlers: keep contact details, tell each person once, in the way they need.

Convention (the registry's and the matcher's): a handler receives what it needs
and the caller commits.

- Contact details (`apply_contact`, `load_contacts`) are a projection: each
  takes `(uow, event, ...)` inside the unit of work that
  services/common/projection.py opens, marks handled and commits.
- A message (`on_event` from a consumer, `run_due` from the schedule) cannot
  be sent and recorded in one transaction. These take the `Notifier` (the
  store, the channels, the rules) and drive short steps (delivery.py, schedule.py);
  each step opens one unit of work and commits it, and every function given a
  `uow` only changes it: its caller commits.

Where a message came from travels with it as `FromConsumer` or `FromSchedule`
(schedule.py); what it says and to whom is its `Notice` (notices.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.events import LeaderContact, LeaderContactChanged, OutcomePublished, PairDeclined, SealedContact
from schemas.topics import DELIVERIES
from services.common.crypto import Cipher
from services.common.logs import without_person
from services.common.store import UnitOfWork, handled_in
from services.notifier import batch, person_keys
from services.notifier.adapters.orm import ContactRow, ErasedRow, PersonKeyRow, WaitingContactRow
from services.notifier.compose import PlannedMessage
from services.notifier.contacts import MISSING, contact_of, digest, erased_among, project_contact
from services.notifier.context import Notifier
from services.notifier.delivery import send_and_record
from services.notifier.domain.messages import Route
from services.notifier.domain.quiet_hours import keeps_quiet_hours, next_allowed, quiet_hours_for
from services.notifier.erasure import PARTNER_ERASED, tell_in_person
from services.notifier.notices import Contacts, Notice, known, notice_for, report
from services.notifier.schedule import (
    RECHECK,
    RETRY,
    WAITING_FOR_CONTACT,
    FromConsumer,
    Origin,
    after_quiet_hours,
    due_keys,
    park,
    take,
    withdraw_waiting,
)

log = logging.getLogger("pairing.notifier")


# ---- contact details ----


async def apply_contact(uow: UnitOfWork, changed: LeaderContactChanged, cipher: Cipher) -> None:
    data = changed.data
    if isinstance(data, SealedContact):  # sealed with the leader's own key (older records are plain)
        opened = await person_keys.opened(uow, cipher, data)
        if opened is None:
            return  # its key has not come yet (it waits for it), or was destroyed
        data = opened
    await project_contact(uow, data, cipher)


async def load_contacts(uow: UnitOfWork, leader_ids: list[str]) -> list[Any]:
    """A batch's stored contacts, keys, records waiting for their keys and erasures, read at once
    (apply_contact and apply_key then find them in the session); those missing are noted as such
    (contacts.MISSING), so a batch of new people sends no query about each of them. On PostgreSQL a key
    the other consumer commits after this read is not seen: the record then waits for it, and is opened
    when first needed (person_keys.open_waiting), as when a record comes before its key.

    Returned, so the projection holds them until its commit: the session keeps unchanged rows only
    weakly, and rows nobody held would be gone again, each read once more with a query of its own."""
    session = uow.session
    digests = {digest(leader): leader for leader in leader_ids}
    found: list[Any] = []
    missing: set[tuple[type[Any], str]] = set()
    for model, column, keys in (
        (ContactRow, ContactRow.leader_id, leader_ids),
        (PersonKeyRow, PersonKeyRow.leader_id, leader_ids),
        (WaitingContactRow, WaitingContactRow.leader_id, leader_ids),
        (ErasedRow, ErasedRow.digest, list(digests)),
    ):
        rows = list(await session.scalars(select(model).where(column.in_(keys))))
        have = {getattr(row, column.key) for row in rows}
        missing |= {(model, key) for key in keys if key not in have}
        found += rows
    session.info[MISSING] = missing
    return found


async def contacts_in(session: AsyncSession, n: Notifier, notice: Notice) -> Contacts:
    return {leader: await contact_of(session, n.cipher, leader) for leader in [*notice.needed, *notice.wanted]}


async def contacts_for(n: Notifier, notice: Notice) -> Contacts:
    async with n.store.unit_of_work() as uow:
        contacts = await contacts_in(uow.session, n, notice)
        missing = [leader for leader, contact in contacts.items() if contact is None]
        if missing and await person_keys.open_waiting(uow, n.cipher, missing):
            await uow.commit()
            contacts = await contacts_in(uow.session, n, notice)
        return contacts


# ---- a message: from a consumer, or due on the schedule ----


async def on_event(n: Notifier, event: OutcomePublished | PairDeclined) -> None:
    """A consumer's entry: an outcome or a partner saying no. An outcome goes as a batch of one
    (batch.py), which also puts its reminders and questions on the schedule."""
    if isinstance(event, OutcomePublished):
        for _given_up, why in await on_outcomes(n, [event]):
            raise why  # the consumer dead-letters it, as for any event it gives up on
        return
    notice = notice_for(event)
    async with n.store.unit_of_work() as uow:  # one look at the database for both
        handled = await handled_in(uow.session, n.store, notice.consumer, str(event.event_id))
        contacts = None if handled else await contacts_in(uow.session, n, notice)
    if not handled:
        await attempt(n, notice, FromConsumer(), contacts)


async def on_outcomes(
    n: Notifier,
    events: list[OutcomePublished],
    dead_letter: batch.DeadLetter | None = None,
    places: Mapping[str, str] | None = None,
    last_try: bool = False,
) -> list[tuple[OutcomePublished, Exception]]:
    """A batch of outcomes (batch.py): events given up on go through `dead_letter`, or are returned, with why.
    On the consumer's `last_try` nothing is kept back for a later one."""
    return await batch.on_outcomes(n, events, attempt, dead_letter, places, last_try)


async def run_due(n: Notifier, early: bool = False) -> int:
    """The scheduler's entry: try every message that is due; returns how many were tried."""
    tried = 0
    for key in await due_keys(n, early):
        if n.stopping.is_set():
            break  # this instance is shutting down: it takes nothing new
        taken = await take(n, key, early)
        if taken is None:
            continue
        held, event = taken
        tried += 1
        try:
            await attempt(n, notice_for(event), held)
        except asyncio.CancelledError:
            # Stopped part way through: let it go now, or every other instance waits for its lease to run out.
            await held.release(n)
            raise
        except Exception:  # logged: one broken message must not stop the others
            log.exception("scheduled message %s could not be handled; trying again later", key)
            later = n.now() + dt.timedelta(seconds=n.rules.max_retry_seconds)
            await park(n, notice_for(event), held, RETRY, later, held.give_up_at)
    return tried


async def attempt(n: Notifier, notice: Notice, origin: Origin, contacts: Contacts | None = None) -> None:
    """Write the message and send it; or park it (contact details not here yet, quiet hours)."""
    if notice.cancels_round:
        await withdraw_waiting(n, notice)
    if await not_for_the_erased(n, notice, origin) or await no_longer_wanted(n, notice, origin):
        return
    now = n.now()
    contacts = contacts or await contacts_for(n, notice)
    for leader in notice.wanted:  # the person who said no, erased since: the message says "your partner"
        if contacts.get(leader) is None and await erased(n, [leader]):
            contacts.pop(leader, None)
    missing = [leader for leader in notice.needed if contacts[leader] is None]
    if missing or None in contacts.values():
        # Details on their way (a wanted name too: at start-up each topic's consumer catches up on its own).
        give_up_at = origin.contact_deadline(n, now)
        if now < give_up_at:
            await park(n, notice, origin, WAITING_FOR_CONTACT, min(now + RECHECK, give_up_at), give_up_at)
            # Details that came while we parked woke the scheduler too early to see this message: wake it again.
            if None not in (await contacts_for(n, notice)).values():
                n.wake.set()
            return
    if missing:
        await without_details(n, notice, origin, contacts, missing)
        return
    me = known(contacts, notice.leader_id)

    def replan(route: Route | None = None) -> PlannedMessage:
        return notice.plan(n.rules, contacts, route)

    planned = replan()
    if keeps_quiet_hours(planned.route, me):
        opens = next_allowed(now, quiet_hours_for(me, n.rules.quiet_hours))
        if opens > now:
            await after_quiet_hours(n, notice, origin, planned.channel, opens)
            return
    await send_and_record(n, notice, origin, planned, me, replan)


async def without_details(n: Notifier, notice: Notice, origin: Origin, contacts: Contacts, missing: list[str]) -> None:
    """Contact details never came: a person passes the message on; or, for a follow-up, it is dropped."""
    me = contacts[notice.leader_id]
    why = (
        "we do not have their contact details yet"
        if me is None
        else "cannot be told yet: we do not have their partner's contact details"
    )
    planned = notice.plan_for_a_person(n.rules, contacts, why)
    if planned is None:
        log.info(
            "round %s: a message not sent, as contact details for %d people are no longer held", notice.round_id, len(missing)
        )
        async with n.store.unit_of_work() as uow:
            if await origin.mark_done(uow, notice):
                await uow.commit()
        return
    log.warning(
        "round %s: no contact details for %d people after waiting; a person will pass it on", notice.round_id, len(missing)
    )
    # The task channel needs someone to address; only the id is known.
    me = me or LeaderContact(leader_id=notice.leader_id, version=1, name=f"leader {notice.leader_id}", role="patient_leader")
    await send_and_record(n, notice, origin, planned, me, lambda _route: planned)


async def erased(n: Notifier, leader_ids: list[str]) -> set[str]:
    async with n.store.sessions() as session:
        return await erased_among(session, leader_ids)


async def not_for_the_erased(n: Notifier, notice: Notice, origin: Origin) -> bool:
    """An event that arrived after someone it needs was erased: never sent. Told about an erased
    partner, the person hears from a member of staff instead (a "needs a person" report)."""
    gone = await erased(n, notice.needed)
    if not gone:
        return False
    async with n.store.unit_of_work() as uow:
        if not await origin.mark_done(uow, notice):
            return True
        if notice.leader_id not in gone:
            await tell_in_person(uow.session, notice, notice.leader_id)
            uow.publish(DELIVERIES, notice.leader_id, report(notice, "person", "needs_a_person", PARTNER_ERASED))
        await uow.commit()
    log.info("%s: not sent, as someone it is about was erased", notice.event.event_id)
    return True


async def no_longer_wanted(n: Notifier, notice: Notice, origin: Origin) -> bool:
    """A follow-up whose question was answered (or whose round ended) since it was scheduled: taken off, never sent."""
    async with n.store.unit_of_work() as uow:
        if not await notice.no_longer_wanted(uow.session, n.store):
            return False
        if await origin.mark_done(uow, notice):
            await uow.commit()
    log.info("%s: not sent, as it was answered or its round ended", without_person(notice.job_key))
    return True
