"""Each person hears once when the notifier takes a round's outcomes in batches (services/notifier/batch.py):
the four ways an earlier batch path broke it, each on the real broker (the records read from it, dead
letters written to it), a real database and a real SMTP server.

The consumer's part is played as it plays it: the batch of records is handed to the notifier
(app.tell_outcomes), and handed again, the same records, when it raises or the service restarts."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from schemas.topics import OUTCOMES
from services.common.embedded import read_maildir
from services.notifier.app import tell_outcomes
from services.notifier.batch import TryAgain
from services.notifier.batch_groups import FEW
from tests.integration.notifier_batches import (
    Refuses,
    SaysWhenPartWay,
    SlowFor,
    consume,
    dead_letters_of,
    mail_counts,
    of_round,
    on_the_topic,
    people,
)
from tests.integration.notifier_world import RULES, notifier, published, reports

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("database_kind", ["postgresql"])  # SQLite keeps a value of any length
async def test_an_outcome_that_cannot_be_recorded_is_dead_lettered_and_everyone_else_hears_once(
    store, channels, smtp_server, kafka_settings, notifier_broker, crashed_sends_taken_over_soon
):
    _, maildir = smtp_server
    leaders = await people(store, 14)
    bad = of_round(leaders[10], "r" * 150)  # longer than the database keeps a round's id: its delivery row is refused
    events = [bad if leader == leaders[10] else published(leader) for leader in leaders]
    records = await on_the_topic(kafka_settings, events, key=leaders[0])

    await consume(notifier_broker, notifier(store, channels), records)

    others = [leader for leader in leaders if leader != leaders[10]]
    assert mail_counts(maildir) == Counter({f"{leader}@example.org": 1 for leader in others})
    assert sorted(r.data.leader_id for r in await reports(store)) == sorted(others)
    (letter,) = await dead_letters_of(kafka_settings, *events)
    assert (letter.event_id, letter.consumer, letter.original_topic) == (str(bad.event_id), "notifier", OUTCOMES.name)
    assert "StringDataRightTruncation" in letter.error, "why it was given up on: the value too long for its column"


async def test_a_message_given_up_on_is_never_sent_after_its_last_try_while_another_in_its_batch_retries(
    store, channels, smtp_server, kafka_settings, notifier_broker, crashed_sends_taken_over_soon
):
    _, maildir = smtp_server
    amira, ben = await people(store, 2)
    first, second = published(amira), published(ben)
    server = Refuses(channels["email"], f"{amira}@example.org", f"{ben}@example.org")
    n = notifier(store, {**channels, "email": server})
    (amiras,) = await on_the_topic(kafka_settings, [first], key=amira)
    for _ in range(RULES.max_attempts - 1):  # read, and tried again, before the service restarted
        with pytest.raises(TryAgain):
            await tell_outcomes(notifier_broker, n, [amiras])
    (bens,) = await on_the_topic(kafka_settings, [second], key=amira)
    with pytest.raises(TryAgain):  # after the restart: Amira's last try, and Ben's first
        await tell_outcomes(notifier_broker, n, [amiras, bens])

    server.addresses.clear()  # the email server answers again, as the consumer tries the batch again
    await tell_outcomes(notifier_broker, n, [amiras, bens])

    assert mail_counts(maildir) == Counter({f"{ben}@example.org": 1}), "Amira was given up on: a person follows it up"
    told = sorted((r.data.leader_id, r.data.status) for r in await reports(store))
    assert told == [(amira, "failed"), (ben, "sent")]
    (letter,) = await dead_letters_of(kafka_settings, first, second)
    assert (letter.event_id, letter.attempts) == (str(first.event_id), RULES.max_attempts)


async def test_a_batch_stopped_part_way_leaves_only_the_messages_never_sent(
    store, channels, smtp_server, kafka_settings, notifier_broker, crashed_sends_taken_over_soon
):
    _, maildir = smtp_server
    leaders = await people(store, FEW + 4)  # a few, and four more in the next
    records = await on_the_topic(kafka_settings, [published(leader) for leader in leaders], key=leaders[0])
    server = SaysWhenPartWay(channels["email"], nth=10)
    telling = asyncio.create_task(tell_outcomes(notifier_broker, notifier(store, {**channels, "email": server}), records))
    await server.part_way.wait()

    telling.cancel()  # the service is stopping
    with pytest.raises(asyncio.CancelledError):
        await telling
    assert 0 < server.sends < len(leaders), "stopped part way"
    await tell_outcomes(notifier_broker, notifier(store, channels), records)  # the batch read again after the restart

    assert mail_counts(maildir) == Counter({f"{leader}@example.org": 1 for leader in leaders})
    assert sorted(r.data.leader_id for r in await reports(store)) == sorted(leaders)


async def test_one_persons_two_messages_in_a_batch_arrive_in_the_batchs_order(
    store, channels, smtp_server, kafka_settings, notifier_broker
):
    _, maildir = smtp_server
    amira, *others = await people(store, 4)
    earlier, later = of_round(amira, "r1"), of_round(amira, "r2")
    events = [earlier, *(published(leader) for leader in others), later]
    records = await on_the_topic(kafka_settings, events, key=amira)

    await tell_outcomes(
        notifier_broker, notifier(store, {**channels, "email": SlowFor(channels["email"], str(earlier.event_id))}), records
    )

    amiras = [m["X-Pairing-Key"].split(":", 1)[0] for m in read_maildir(maildir) if m["To"] == f"{amira}@example.org"]
    assert amiras == [str(earlier.event_id), str(later.event_id)]
