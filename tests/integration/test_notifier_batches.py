"""A round's outcomes reach the notifier a batch at a time (services/notifier/batch.py). On a real
database (PostgreSQL and SQLite) and a real SMTP server: each person hears once, whatever else is in
the batch, a failed send holds up nobody else, and a batch read twice tells nobody twice."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlalchemy import func, select

from services.common.embedded import read_maildir
from services.notifier import handlers
from services.notifier.adapters.orm import DeliveryRow, Inbox, ScheduledRow
from services.notifier.batch import TryAgain
from services.notifier.notices import CONSUMER
from tests.integration.notifier_world import PARTNER, RULES, know, notifier, person, published, reports

pytestmark = pytest.mark.integration

PEOPLE = [f"pl-{i}" for i in range(1, 7)]


class RefusesOne:
    """The email server refuses one person's message (it is down for them), and takes the others."""

    def __init__(self, channel, address: str):
        self.channel, self.address = channel, address

    async def send(self, message, to, key):
        if to.email == self.address:
            raise OSError("the email server is not answering")
        return await self.channel.send(message, to, key)


async def everyone(store) -> None:
    await know(store, PARTNER, *(person(leader_id=leader, email=f"{leader}@example.org") for leader in PEOPLE))


async def count(store, query) -> int:
    async with store.sessions() as session:
        return int(await session.scalar(query) or 0)


async def test_a_batch_tells_each_person_once_and_a_batch_read_again_tells_nobody_again(store, channels, smtp_server):
    _, maildir = smtp_server
    await everyone(store)
    events = [published(leader) for leader in PEOPLE] + [published("pl-unknown")]  # no details for the last
    n = notifier(store, channels)

    assert await handlers.on_outcomes(n, events) == []
    mail = Counter(m["To"] for m in read_maildir(maildir))
    assert mail == Counter({f"{leader}@example.org": 1 for leader in PEOPLE})
    told = {(r.data.leader_id, r.data.channel, r.data.status) for r in await reports(store)}
    assert told == {(leader, "email", "sent") for leader in PEOPLE} | {("pl-unknown", "person", "needs_a_person")}
    handled = select(func.count()).select_from(Inbox).where(Inbox.consumer == CONSUMER)
    scheduled = await count(store, select(func.count()).select_from(ScheduledRow))
    assert await count(store, handled) == len(events)
    assert scheduled, "each pair's reminders and questions are on the schedule"

    assert await handlers.on_outcomes(n, events) == []  # the consumer read the batch again (a restart)
    assert len(read_maildir(maildir)) == len(PEOPLE)
    assert len(await reports(store)) == len(events)
    assert await count(store, select(func.count()).select_from(ScheduledRow)) == scheduled


async def test_a_failed_send_holds_up_nobody_else_and_goes_once_when_tried_again(store, channels, smtp_server):
    _, maildir = smtp_server
    await everyone(store)
    events = [published(leader) for leader in PEOPLE]
    refusing = notifier(store, {**channels, "email": RefusesOne(channels["email"], "pl-3@example.org")})

    with pytest.raises(TryAgain) as failure:  # the consumer tries the batch again later
        await handlers.on_outcomes(refusing, events)
    assert isinstance(failure.value.__cause__, OSError)
    assert sorted(m["To"] for m in read_maildir(maildir)) == sorted(f"{p}@example.org" for p in PEOPLE if p != "pl-3")
    assert {r.data.leader_id for r in await reports(store)} == set(PEOPLE) - {"pl-3"}
    async with store.sessions() as session:
        row = (await session.scalars(select(DeliveryRow).where(DeliveryRow.leader_id == "pl-3"))).one()
    assert (row.status, row.attempts) == ("retrying", 1)

    assert await handlers.on_outcomes(notifier(store, channels), events) == []
    assert Counter(m["To"] for m in read_maildir(maildir)) == Counter({f"{p}@example.org": 1 for p in PEOPLE})
    assert sorted(r.data.leader_id for r in await reports(store)) == sorted(PEOPLE)


async def test_after_its_last_try_a_message_is_given_back_to_be_dead_lettered_on_its_own(store, channels, smtp_server):
    _, maildir = smtp_server
    await everyone(store)
    events = [published(leader) for leader in PEOPLE]
    refusing = notifier(store, {**channels, "email": RefusesOne(channels["email"], "pl-3@example.org")})
    for _ in range(RULES.max_attempts - 1):
        with pytest.raises(TryAgain):
            await handlers.on_outcomes(refusing, events)

    given_up = await handlers.on_outcomes(refusing, events)

    assert [(event.data.leader_id, type(why)) for event, why in given_up] == [("pl-3", OSError)]
    assert len(read_maildir(maildir)) == len(PEOPLE) - 1, "the others were each sent once"
    (failed,) = [r for r in await reports(store) if r.data.leader_id == "pl-3"]
    assert failed.data.status == "failed" and f"try {RULES.max_attempts}" in failed.data.detail


async def test_two_consumers_with_the_same_batch_at_once_still_tell_each_person_once(store, channels, smtp_server):
    """In a rebalance the partition's new consumer may read a batch the old one is still sending."""
    _, maildir = smtp_server
    await everyone(store)
    events = [published(leader) for leader in PEOPLE]

    await asyncio.gather(
        handlers.on_outcomes(notifier(store, channels), events), handlers.on_outcomes(notifier(store, channels), events)
    )

    assert Counter(m["To"] for m in read_maildir(maildir)) == Counter({f"{p}@example.org": 1 for p in PEOPLE})
    assert sorted(r.data.leader_id for r in await reports(store)) == sorted(PEOPLE)
