"""Promises a batch of outcomes (services/notifier/batch.py) must keep exactly as the one-message way
does, found broken by a review, on a real database (PostgreSQL and SQLite) and a real SMTP server:

- someone erased while the batch is under way hears nothing more (the batch's first look at the
  database is old news by the time a later few is sent);
- a person's later outcome never goes before an earlier one that the same batch put on the schedule
  (waiting for a partner's contact details)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from schemas.events import OutcomePublished
from services.common.embedded import read_maildir
from services.notifier import handlers, schedule
from services.notifier.adapters.orm import ScheduledRow
from services.notifier.batch_groups import FEW
from services.notifier.erasure import forget_person
from services.notifier.schedule import BEHIND
from tests.integration.notifier_world import PARTNER, RULES, delivery_rows, know, notifier, person, published, reports

pytestmark = pytest.mark.integration


class ErasesOnFirstSend:
    """The real email channel; while it sends the batch's first message, the contact topic's tombstone for
    `leader_id` is handled (as the notifier's contacts consumer does, beside the outcomes consumer)."""

    def __init__(self, channel, n, leader_id: str):
        self.channel, self.n, self.leader_id, self.erased = channel, n, leader_id, False

    async def send(self, message, to, key):
        if not self.erased:
            self.erased = True
            async with self.n.store.unit_of_work() as uow:
                await forget_person(self.n, uow, self.leader_id)
                await uow.commit()
        return await self.channel.send(message, to, key)


async def test_someone_erased_while_a_batch_is_under_way_hears_nothing_more(store, channels, smtp_server):
    _, maildir = smtp_server
    leaders = [f"pl-{i}" for i in range(1, FEW + 2)]  # the last is in the batch's second few
    await know(store, PARTNER, *(person(leader_id=leader, email=f"{leader}@example.org") for leader in leaders))
    n = notifier(store, channels)
    erased = leaders[-1]
    n.channels = {**channels, "email": ErasesOnFirstSend(channels["email"], n, erased)}

    assert await handlers.on_outcomes(n, [published(leader) for leader in leaders]) == []

    told = [m["To"] for m in read_maildir(maildir)]
    assert f"{erased}@example.org" not in told, "an erased person got a message"
    assert sorted(told) == sorted(f"{leader}@example.org" for leader in leaders[:-1])
    assert erased not in {row.leader_id for row in await delivery_rows(store)}, "a delivery row about them again"
    assert erased not in {r.data.leader_id for r in await reports(store)}


def later_unmatched(leader_id: str) -> OutcomePublished:
    """The same person's outcome in a later round: nobody to pair them with, so no partner's details needed."""
    event = published(leader_id, paired=False)
    return event.model_copy(update={"data": event.data.model_copy(update={"round_id": "r2"}), "correlation_id": "r2"})


async def test_a_later_outcome_waits_behind_an_earlier_one_the_same_batch_put_on_the_schedule(store, channels, smtp_server):
    _, maildir = smtp_server
    await know(store, person())  # pl-1's details; their partner cl-1's are still on their way
    rules = dataclasses.replace(RULES, contact_wait_seconds=600)
    n = notifier(store, channels, rules)
    earlier, later = published("pl-1"), later_unmatched("pl-1")

    assert await handlers.on_outcomes(n, [earlier, later]) == []

    assert read_maildir(maildir) == [], "the later outcome went before the earlier one, still waiting"
    async with store.sessions() as session:
        waiting = {row.key.split(":", 1)[0]: row.reason for row in (await session.scalars(select(ScheduledRow))).all()}
    assert waiting.get(str(later.event_id)) == BEHIND

    await know(store, PARTNER)  # the partner's details come
    n.clock.advance(seconds=5)
    while await handlers.run_due(n, early=True):
        pass
    told = [r.data.outcome_event_id for r in await reports(store) if r.data.about == "outcome"]
    assert told == [earlier.event_id, later.event_id]
    assert len(read_maildir(maildir)) == 2


async def test_only_the_same_persons_earlier_outcome_holds_a_later_one_back(store, channels):
    """The person is matched by their whole id: "pl_1" is not "pl-1", though a LIKE pattern's "_"
    would take any one character there."""
    n = notifier(store, channels)
    due = n.now() + dt.timedelta(minutes=10)

    def waiting(person: str, minutes_ago: int) -> ScheduledRow:
        return ScheduledRow(
            key=f"{uuid.uuid4()}:{person}",
            event_type=schedule.OUTCOME,
            sealed_event=b"-",
            reason=schedule.WAITING_FOR_CONTACT,
            due_at=due,
            created_at=n.now() - dt.timedelta(minutes=minutes_ago),
        )

    someone_else, earlier, later = waiting("pl-1", 20), waiting("pl_1", 10), waiting("pl_1", 0)
    async with store.unit_of_work() as uow:
        uow.session.add_all([someone_else, later])
        await uow.commit()
    async with store.unit_of_work() as uow:
        assert await schedule.behind_earlier(uow, n, later.key) is None, "held back behind someone else's outcome"
        uow.session.add(earlier)
        await uow.commit()
    async with store.unit_of_work() as uow:
        assert await schedule.behind_earlier(uow, n, later.key) == due, "not held back behind their own earlier outcome"
