"""Replies to text messages, read from a local server that speaks GOV.UK Notify's received-text API
(a real HTTP server with its token check), on a real database (PostgreSQL and SQLite): a clear yes or
no to the one question asked goes to the registry as an event with no number and no words; anything
else is a task for a person, with the words only in the task."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from schemas.events import PairAccepted, PairAnswer, TextReplyReceived
from schemas.topics import RESPONSES
from services.notifier import handlers
from services.notifier.adapters.orm import Outbox, TextQuestionRow
from services.notifier.app import inbound_texts
from services.notifier.clock import FrozenClock
from services.notifier.inbound import answered
from tests.integration.notifier_world import DAYTIME, PARTNER, know, notifier, person, published, reports

pytestmark = [pytest.mark.integration, pytest.mark.notify]  # messages go through the local Notify

PHONE = "07700 900123"
SOON = DAYTIME + dt.timedelta(minutes=20)


async def texted(store, channels, notify, leader_id="pl-1", phone=PHONE) -> handlers.Notifier:
    """One paired outcome, with one partner, sent by text through Notify to the person themselves."""
    await know(store, person(leader_id=leader_id, contact_method="sms", phone=phone), PARTNER)
    n = notifier(store, channels, clock=FrozenClock(SOON))
    await handlers.on_event(n, published(leader_id))
    assert notify.received[-1][0] == "sms"
    return n


async def replies_to_registry(store) -> list[TextReplyReceived]:
    async with store.sessions() as session:
        rows = (await session.scalars(select(Outbox).where(Outbox.topic == RESPONSES.name).order_by(Outbox.id))).all()
    return [TextReplyReceived.model_validate_json(row.value) for row in rows]


async def test_a_yes_from_the_number_texted_goes_to_the_registry_without_number_or_words(store, channels, notify, settings):
    n = await texted(store, channels, notify)
    notify.receive("+44 7700 900123", " Yes please! ", at=SOON)
    replies = inbound_texts(settings, n)
    assert await replies.run_due() == 1
    (event,) = await replies_to_registry(store)
    assert (event.data.round_id, event.data.leader_id, event.data.partner_id, event.data.answer) == (
        "r1",
        "pl-1",
        "cl-1",
        "accept",
    )
    assert event.data.received_on == dt.date(2026, 12, 15)
    words = event.model_dump_json()
    assert "7700" not in words and "please" not in words.lower()
    assert await replies.run_due() == 0, "a text is handled once"

    notify.receive("07700900123", "NO", at=SOON)
    assert await replies.run_due() == 1
    assert len(await replies_to_registry(store)) == 1, "the question is answered: a second reply is for a person to read"
    assert list(settings.tasks_dir.glob("text-reply-*.txt"))


async def test_a_clear_no_goes_to_the_registry_as_a_decline(store, channels, notify, settings):
    n = await texted(store, channels, notify)
    notify.receive("447700900123", "n.", at=SOON)
    await inbound_texts(settings, n).run_due()
    (event,) = await replies_to_registry(store)
    assert event.data.answer == "decline"


async def test_an_unclear_reply_is_a_task_with_its_words_and_records_nothing(store, channels, notify, settings):
    n = await texted(store, channels, notify)
    text_id = notify.receive("07700 900123", "maybe, can you call me?", at=SOON)
    await inbound_texts(settings, n).run_due()
    assert await replies_to_registry(store) == []
    (task,) = settings.tasks_dir.glob("text-reply-*.txt")
    written = task.read_text()
    assert "maybe, can you call me?" in written and "Amira Ahmed" in written
    assert "Do it by: Thursday 17 December 2026" in written, "two working days"
    _, report = await reports(store)
    d = report.data
    assert (d.leader_id, d.round_id, d.channel, d.status, d.about, d.task) == (
        "pl-1",
        "r1",
        "person",
        "needs_a_person",
        "text_reply",
        "text_reply",
    )
    assert d.due_by == dt.date(2026, 12, 17) and str(d.outcome_event_id) == text_id
    assert "maybe" not in report.model_dump_json() and "7700" not in report.model_dump_json()
    async with store.sessions() as session:
        (question,) = (await session.scalars(select(TextQuestionRow))).all()
    assert question.closed_at is None, "the question stays open: the team may still hear a yes or no"


async def test_a_number_that_matches_nobody_is_a_task_naming_the_number(store, channels, notify, settings):
    n = await texted(store, channels, notify)
    notify.receive("07700 900999", "YES", at=SOON)
    await inbound_texts(settings, n).run_due()
    assert await replies_to_registry(store) == []
    (task,) = settings.tasks_dir.glob("text-reply-*.txt")
    written = task.read_text()
    assert "we do not know" in written and "07700900999" in written and "not on anyone's record" in written
    assert [r.data.status for r in await reports(store)] == ["sent"], "nobody to report it about"


async def test_a_person_with_two_open_questions_or_none_gets_a_task(store, channels, notify, settings):
    n = await texted(store, channels, notify)
    second = published("pl-1").model_copy(update={"data": published("pl-1").data.model_copy(update={"round_id": "r2"})})
    await handlers.on_event(n, second)
    notify.receive("07700 900123", "yes", at=SOON)
    await inbound_texts(settings, n).run_due()
    assert await replies_to_registry(store) == []
    (task,) = settings.tasks_dir.glob("text-reply-*.txt")
    assert "has 2 questions waiting for an answer" in task.read_text()

    # Answered from the link (and the other round's too): a later YES is for a person to read.
    for round_id in ("r1", "r2"):
        answer = PairAnswer(round_id=round_id, leader_id="pl-1", partner_id="cl-1")
        await answered(n, PairAccepted(producer="test", correlation_id=round_id, data=answer))
    task.unlink()
    notify.receive("07700 900123", "YES", at=SOON)
    await inbound_texts(settings, n).run_due()
    assert await replies_to_registry(store) == []
    (task,) = settings.tasks_dir.glob("text-reply-*.txt")
    assert "has no question waiting for an answer" in task.read_text()


async def test_replies_are_read_across_pages_oldest_first(store, channels, notify, settings):
    n = await texted(store, channels, notify)
    notify.page_size = 2
    for words in ("what is this", "call me", "yes"):
        notify.receive("07700 900123", words, at=SOON)
    assert await inbound_texts(settings, n).run_due() == 3
    (event,) = await replies_to_registry(store)
    assert event.data.answer == "accept", "the yes came last, after two unclear replies"
    assert len(list(settings.tasks_dir.glob("text-reply-*.txt"))) == 2


async def test_a_stopping_reader_leaves_the_texts_it_has_not_read_for_the_next_pass(store, channels, notify, settings):
    n = await texted(store, channels, notify)
    for words in ("what is this", "call me", "yes"):
        notify.receive("07700 900123", words, at=SOON)
    stopping = inbound_texts(settings, n)
    stopping.stopping.set()  # as stop() does while a pass is under way
    assert await stopping.run_due() == 0
    assert not list(settings.tasks_dir.glob("text-reply-*.txt")) and not await replies_to_registry(store)
    assert await inbound_texts(settings, n).run_due() == 3, "all three are new to the next pass"
    (event,) = await replies_to_registry(store)
    assert event.data.answer == "accept"


async def test_a_text_to_the_person_they_named_asks_no_question_by_text(store, channels, notify, settings):
    from schemas.events import ContactProxy

    proxy = ContactProxy(name="Sam Okafor", relationship="son", phone="07700 900456")
    await know(store, person(contact_method="via_carer", proxy=proxy), PARTNER)
    n = notifier(store, channels, clock=FrozenClock(SOON))
    await handlers.on_event(n, published())
    assert notify.received[-1][1]["phone_number"] == "07700 900456"
    async with store.sessions() as session:
        assert (await session.scalars(select(TextQuestionRow))).all() == []
