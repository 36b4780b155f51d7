"""A batch of outcomes, as a round's arrive: each person hears once, exactly as delivery.py
says, and one person's messages stay in order, with a few transactions for every few messages
instead of several for every message.

1. One look at the database for the batch: which events were handled before (or given up on
   in an earlier try of this very batch), who was erased, everyone's contact details, and any
   delivery row already made for these events.
2. The ordinary messages (every detail here, nothing tried before, no quiet hours in the way)
   go a few at a time (batch_groups.py), with never two messages to one person in the same few,
   nor in two fews next to each other. Each few is claimed in one transaction (its delivery rows
   made "sending") while the few before is sent, sent at once over the email server's
   connections, and recorded in one transaction (its rows "sent", its events marked handled, its
   delivery reports in the outbox) as soon as it is all sent. A few is claimed only once every
   few two or more before it is all sent (so a person's later message is never claimed ahead of
   an earlier one that failed), and sent only once the one before is all sent (so each person's
   messages go in the batch's order) and the one before that is recorded: at most two fews are
   ever sent and not yet recorded. Quiet hours and erasures are looked at again just before each
   few is sent (a message in quiet hours by then, or about someone erased, is let go, its row as if
   never claimed, for the one-message way). From its claim until it is recorded a few's rows'
   claim is kept fresh (delivery.kept_claimed), so no other handler takes it for one that
   stopped. While the database is away a few's results are written again and again
   (batch_run.through_outages): what was sent is never thrown away to be sent again.
3. A message that cannot be written or recorded is that message's problem alone: its event is
   dead-lettered, with why, and the others go on (one that was sent has its row say so first, so
   a replay only reports it). A failed send is noted on its row ("retrying"), and that person's
   later messages in the batch are held back for the next try, behind it; after its last try (its
   own, or the consumer's last try of the batch) the message is given up on, reported "failed" and
   its event dead-lettered there and then, with its place on the topic marked, so that trying the
   batch again never sends it again (a replay from the dead-letter topic comes from a new place,
   and is tried again). Its person's later messages in the batch are given up with it, after it.
   If the dead letter cannot be written, nothing is given up and the batch waits for the broker.
4. Any other message (an event tried before, details still on their way, someone erased, quiet
   hours, a round stopped, a row someone else claimed) goes the one-message way
   (handlers.attempt), in the batch's order, after the ordinary ones; so does every later
   message in the batch for the same person. Someone with an earlier outcome still on the
   schedule (from an earlier batch, or put there by this one) has their later ones put on the
   schedule behind it.
5. The reminders and questions of every outcome handled go on the schedule together.
6. If any message is to be tried again, the batch raises TryAgain (from the first failed send)
   and the consumer tries it again: what was recorded is skipped (the inbox), and what was given
   up on too (its place). Never on the consumer's last try.

Stopping part way (the batch is cancelled): every few being sent is sent and recorded first, and a
few claimed but not yet sent is let go (its rows as if never claimed), so a replay finds only the
messages never sent.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from schemas.events import LeaderContact, OutcomePublished
from services.common.store import skipped_duplicate
from services.notifier import check_ins, reminders
from services.notifier.adapters.orm import ContactRow
from services.notifier.batch_groups import tell_ordinary
from services.notifier.batch_run import GIVEN_UP, Attempt, DeadLetter, Run, TryAgain, in_quiet_hours, place, started_among
from services.notifier.contacts import erased_among
from services.notifier.context import Notifier
from services.notifier.domain.messages import choose_route
from services.notifier.notices import CONSUMER, OutcomeNotice
from services.notifier.schedule import BEHIND, outcomes_waiting, park

__all__ = ["GIVEN_UP", "DeadLetter", "TryAgain", "on_outcomes", "place"]


@dataclass
class Found:
    """What the batch's one look at the database found."""

    handled: set[str]
    contacts: dict[str, LeaderContact]
    erased: set[str]
    started: set[str]  # job keys ("{event id}:{leader id}") with a delivery row already
    given_up: set[str]  # event ids given up on in an earlier try of this batch
    waiting: dict[str, dt.datetime]  # people with an earlier outcome's message on the schedule: when it is due


async def on_outcomes(
    n: Notifier,
    events: list[OutcomePublished],
    one: Attempt,
    dead_letter: DeadLetter | None = None,
    places: Mapping[str, str] | None = None,
    last_try: bool = False,
) -> list[tuple[OutcomePublished, Exception]]:
    """Tell everyone in the batch once. Events given up on are dead-lettered through `dead_letter`;
    without one they are returned, with why, for the caller to dead-letter. Raises TryAgain when a
    message may still go on a later try (and its person's later ones wait for it); never on the
    consumer's `last_try`, when what fails is given up on instead (with its person's later ones)."""
    events = list({str(e.event_id): e for e in events}.values())  # a second copy in the batch is a redelivery
    run = Run(n, one, dead_letter, places or {}, last_try)
    notices = [OutcomeNotice(e) for e in events]
    found = await look(n, notices, run.places)
    run.contacts = found.contacts
    todo = [x for x in notices if str(x.event.event_id) not in found.handled | found.given_up]
    run.hold_behind_given_up([x for x in notices if str(x.event.event_id) not in found.handled], found.given_up)
    ordinary, others = sort_out(n, todo, found)
    others += await tell_ordinary(run, ordinary, found.contacts)
    order = {id(notice): i for i, notice in enumerate(todo)}
    later = Counter(notice.leader_id for notice in others)  # each person's messages still to go this way
    for notice in sorted(others, key=lambda x: order[id(x)]):
        later[notice.leader_id] -= 1
        if run.held_back(notice):
            continue
        if notice.leader_id in found.waiting and not notice.cancels_round:
            # Their earlier outcome is still on the schedule (quiet hours, say): this one goes after it.
            due = max(found.waiting[notice.leader_id], n.now())
            await run.alone(notice, park(n, notice, run.origin(notice), BEHIND, due, None))
            continue
        await run.alone(notice, one(n, notice, run.origin(notice)))
        run.hold_if_failed(notice)
        if later[notice.leader_id]:
            # Put on the schedule just now (their partner's details not here yet, say): their later ones wait behind it.
            found.waiting.update(await waiting_now(n, notice.leader_id))
    await run.let_go_of_held()
    unsettled = {event_id for event_id, origin in run.origins.items() if origin.failures or origin.given_up}
    unsettled |= {str(notice.event.event_id) for notice in run.waiting} | run.elsewhere
    handled = [e for e in events if str(e.event_id) not in unsettled | found.given_up]
    await schedule_follow_ups(n, handled, run.sealed, run.follow_ups, run.questions)
    retry = [origin.failures[-1] for origin in run.origins.values() if origin.failures and not origin.given_up]
    if retry or run.waiting:
        raise TryAgain(
            f"{len(retry)} message(s) of the batch to be tried again, and {len(run.waiting)} held back behind them"
        ) from (retry[0] if retry else None)
    if dead_letter is not None:
        return []
    return [
        (e, run.origins[str(e.event_id)].failures[-1])
        for e in events
        if str(e.event_id) in run.origins and run.origins[str(e.event_id)].given_up
    ]


async def look(n: Notifier, notices: list[OutcomeNotice], places: Mapping[str, str]) -> Found:
    async with n.store.unit_of_work() as uow:
        handled = await reminders.handled_among(uow.session, n.store, CONSUMER, [str(x.event.event_id) for x in notices])
        for _ in handled:
            skipped_duplicate(CONSUMER)
        marked = await reminders.handled_among(uow.session, n.store, GIVEN_UP, list(places.values()))
        given_up = {event_id for event_id, where in places.items() if where in marked}
        todo = [x for x in notices if str(x.event.event_id) not in handled | given_up]
        leaders = sorted({leader for x in todo for leader in x.needed})
        erased = await erased_among(uow.session, leaders)
        rows = (await uow.session.scalars(select(ContactRow).where(ContactRow.leader_id.in_(leaders)))).all() if leaders else []
        contacts = {row.leader_id: LeaderContact.model_validate(n.cipher.open(row.sealed)) for row in rows}
        started = await started_among(uow, todo, n.channels)
        waiting = await outcomes_waiting(uow, {x.leader_id for x in todo})
    return Found(handled, contacts, erased, started, given_up, waiting)


async def waiting_now(n: Notifier, leader_id: str) -> dict[str, dt.datetime]:
    """This person, if an outcome's message of theirs is on the schedule now: when it is due."""
    async with n.store.unit_of_work() as uow:
        return await outcomes_waiting(uow, {leader_id})


def sort_out(n: Notifier, notices: list[OutcomeNotice], found: Found) -> tuple[list[OutcomeNotice], list[OutcomeNotice]]:
    """The ordinary messages, and the others (in order) that go the one-message way."""
    now = n.now()
    ordinary: list[OutcomeNotice] = []
    others: list[OutcomeNotice] = []
    waiting: set[str] = set()  # people with a message going the one-message way: their later ones follow it
    for notice in notices:
        if notice.leader_id not in waiting and is_ordinary(n, notice, found, now):
            ordinary.append(notice)
        else:
            others.append(notice)
            waiting.add(notice.leader_id)
    return ordinary, others


def is_ordinary(n: Notifier, notice: OutcomeNotice, found: Found, now: dt.datetime) -> bool:
    if notice.cancels_round or notice.job_key in found.started or notice.leader_id in found.waiting:
        return False
    if any(leader in found.erased or leader not in found.contacts for leader in notice.needed):
        return False
    me = found.contacts[notice.leader_id]
    return not in_quiet_hours(n, choose_route(me), me, now)  # the route as notice.plan chooses it


async def schedule_follow_ups(
    n: Notifier,
    events: list[OutcomePublished],
    sealed: dict[str, dict[str, Any]],
    follow_ups: dict[str, list[Any]] | None = None,
    questions: dict[str, list[Any]] | None = None,
) -> None:
    """Reminders and questions (reminders.py, check_ins.py) for every outcome handled, in one transaction;
    `sealed` holds the rows written ahead with the messages, and `follow_ups` and `questions` what they
    were made from (by event id), so they are not worked out again here, on the event loop."""
    if not events:
        return
    async with n.store.unit_of_work() as uow:
        erased = reminders.Erased()  # who was erased, looked up once for both
        changed = await reminders.schedule_all(uow, n, events, sealed, erased, follow_ups)
        changed = await check_ins.schedule_all(uow, n, events, sealed, erased, questions) or changed
        if changed:
            await uow.commit()
