"""'Did you meet?' answered by replying to a text (issue 18), through a local server that speaks GOV.UK
Notify's received-text API, on a real database: the question is texted, a clear reply goes to the
registry as a coded answer with no number and no words, an unclear one is a task for a person, and
an answer by any other route closes the question."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from schemas.events import FollowUpAnswer, FollowUpAnswered, PairAccepted, PairAnswer, TextReplyReceived
from schemas.topics import RESPONSES
from services.notifier import handlers, reminders
from services.notifier.adapters.orm import Outbox, TextQuestionRow
from services.notifier.app import inbound_texts
from services.notifier.clock import FrozenClock
from services.notifier.inbound import answered, follow_up_answered
from tests.integration.notifier_world import DAYTIME, PARTNER, know, notifier, person, published, reports

pytestmark = [pytest.mark.integration, pytest.mark.notify]  # messages go through the local Notify

LONDON = ZoneInfo("Europe/London")
# The first meeting is on Tuesday 12 January 2027 (notifier_world.published): asked the next morning.
ASKED = dt.datetime(2027, 1, 13, 10, tzinfo=LONDON)


async def asked_by_text(store, channels, notify) -> handlers.Notifier:
    """A paired outcome texted to the person, their yes recorded, then "Did you meet?" texted on its day."""
    await know(store, person(contact_method="sms", phone="07700 900123"), PARTNER)
    clock = FrozenClock(DAYTIME + dt.timedelta(minutes=20))
    n = notifier(store, channels, clock=clock)
    await handlers.on_event(n, published())
    yes = PairAccepted(
        producer="registry", correlation_id="r1", data=PairAnswer(round_id="r1", leader_id="pl-1", partner_id="cl-1")
    )
    await answered(n, yes)  # the yes-or-no question is closed, as when the registry records the yes
    await reminders.answered(n, yes)  # and nobody is chased for an answer
    clock.set(ASKED)
    await handlers.run_due(n)
    kind, body = notify.received[-1][0], str(notify.received[-1])
    assert kind == "sms" and "did you meet ben bell?" in body.lower() and "reply: yes, not yet or help" in body
    return n


async def replies_to_registry(store) -> list[TextReplyReceived]:
    async with store.sessions() as session:
        rows = (await session.scalars(select(Outbox).where(Outbox.topic == RESPONSES.name).order_by(Outbox.id))).all()
    return [TextReplyReceived.model_validate_json(row.value) for row in rows]


async def test_a_reply_of_not_yet_goes_to_the_registry_as_a_coded_answer(store, channels, notify, settings):
    n = await asked_by_text(store, channels, notify)
    notify.receive("+44 7700 900123", "Not yet!", at=ASKED + dt.timedelta(minutes=5))
    assert await inbound_texts(settings, n).run_due() == 1
    (event,) = await replies_to_registry(store)
    data = event.data
    assert (data.leader_id, data.partner_id, data.question, data.number, data.answer) == ("pl-1", "cl-1", "met", 0, "not_yet")
    assert "7700" not in event.model_dump_json() and "yet!" not in event.model_dump_json()


async def test_an_unclear_reply_is_a_task_for_a_person_never_a_guess(store, channels, notify, settings):
    n = await asked_by_text(store, channels, notify)
    notify.receive("07700900123", "We met once but it was awkward", at=ASKED + dt.timedelta(minutes=5))
    assert await inbound_texts(settings, n).run_due() == 1
    assert await replies_to_registry(store) == []
    assert [r.data.task for r in await reports(store) if r.data.status == "needs_a_person"] == ["text_reply"]


async def test_an_answer_by_link_closes_the_question_asked_by_text(store, channels, notify, settings):
    n = await asked_by_text(store, channels, notify)
    data = FollowUpAnswer(round_id="r1", leader_id="pl-1", partner_id="cl-1", question="met", answer="met")
    await follow_up_answered(n, FollowUpAnswered(producer="registry", correlation_id="r1", data=data))
    async with store.sessions() as session:
        rows = (await session.scalars(select(TextQuestionRow).where(TextQuestionRow.kind == "met"))).all()
    assert [r.closed_at is not None for r in rows] == [True]
    notify.receive("07700900123", "YES", at=ASKED + dt.timedelta(minutes=5))
    assert await inbound_texts(settings, n).run_due() == 1
    assert await replies_to_registry(store) == [], "a reply to a closed question is for a person to read"
