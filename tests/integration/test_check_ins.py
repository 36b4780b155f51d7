"""'Did you meet?' and check-ins (issue 18), through the real broker, the running registry and the
running notifier: the question comes the working day after the suggested first meeting; a yes by
link; "not yet" becomes a task for the team a set time later; "we need help" given by phone becomes
a task at once; a check-in comes on the programme's schedule and its result is on the follow-up page.
The notifier's clock is frozen and moved on by the test, as the reminder tests do."""

from __future__ import annotations

import asyncio
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from schemas.events import FollowUpAnswered, OutcomePublished, TextReply, TextReplyReceived
from schemas.topics import OUTCOMES, RESPONSES
from services.common.crypto import new_key
from services.common.embedded import read_maildir
from services.common.store import Store, make_engine
from services.notifier.adapters.orm import Base, Inbox, Outbox, ScheduledRow
from services.notifier.app import create_app
from services.notifier.clock import FrozenClock
from services.notifier.config import NotifierSettings
from services.notifier.domain.check_ins import check_in_day, met_question_on, not_yet_task_on
from services.registry.adapters.orm import AuditRow, FollowUpAnswerRow, TaskRow
from tests.integration.conftest import ADMIN, event_refs_of, with_ids, with_references
from tests.integration.helpers import contact_record, pages_as, publish, publish_two_pairs
from tests.kafka_reading import read_topic

pytestmark = pytest.mark.integration

LONDON = ZoneInfo("Europe/London")


@pytest.fixture
async def notifier_at(kafka_settings, smtp_server, tmp_path):
    """The notifier app on the broker with a frozen clock the test moves: (clock, maildir, tasks folder)."""
    port, maildir = smtp_server
    settings = NotifierSettings(
        encryption_keys=new_key(),
        event_keys=new_key(),
        database_url=f"sqlite:///{tmp_path / 'notifier.db'}",
        smtp_port=port,
        output_dir=tmp_path / "out",
        kafka=kafka_settings,
        scheduler_poll_seconds=0.2,
    )
    clock = FrozenClock(dt.datetime.now(dt.UTC))
    app = create_app(settings, clock=clock)
    await app.start()
    # A second connection to the notifier's database, to see its schedule.
    seen = Store(make_engine(settings.database_url), Outbox, Inbox, Base.metadata)
    try:
        yield clock, maildir, seen
    finally:
        await seen.engine.dispose()
        await app.stop()


async def scheduled(seen: Store, leader_id: str, reason: str, seconds: float = 30) -> bool:
    """Whether the notifier has put this on its schedule (it hears answers on its own time)."""
    for _ in range(int(seconds * 10)):
        async with seen.sessions() as session:
            mine = (ScheduledRow.reason == reason) & ScheduledRow.key.endswith(f":{leader_id}")
            if await session.scalar(select(ScheduledRow.key).where(mine).limit(1)):
                return True
        await asyncio.sleep(0.1)
    return False


async def mail(maildir, leader_id: str, subject: str, count: int = 1, seconds: float = 30) -> list:
    """Messages to this person whose subject starts with `subject`, once `count` have come."""
    found: list = []
    for _ in range(int(seconds * 10)):
        found = [m for m in read_maildir(maildir) if m["To"] == f"{leader_id}@example.org" and m["Subject"].startswith(subject)]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.1)
    return found


async def tasks_for(registry, leader_id: str, kind: str, seconds: float = 30) -> list[TaskRow]:
    """The work queue's tasks of this kind about this person (from the notifier's reports), once there is one."""
    rows: list[TaskRow] = []
    for _ in range(int(seconds * 10)):
        async with registry.store.unit_of_work() as uow:
            rows = list(
                (await uow.session.scalars(select(TaskRow).where(TaskRow.leader_id == leader_id, TaskRow.kind == kind))).all()
            )
        if rows or seconds == 0:
            return rows
        await asyncio.sleep(0.1)
    return rows


async def outcomes(kafka_settings, refs: dict[str, str], *leader_ids: str) -> dict[str, OutcomePublished]:
    """The published outcomes of these people, by registry id (on the topic they carry event references)."""
    wanted = {refs[leader_id] for leader_id in leader_ids}
    records = await read_topic(
        kafka_settings.bootstrap_servers,
        OUTCOMES,
        keep=lambda r: r.key.decode() in wanted,
        expected=len(leader_ids),
        timeout_s=20,
    )
    found = [with_ids(OutcomePublished.model_validate_json(r.value), refs) for r in records]
    return {o.data.leader_id: o for o in found}


def at_london(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON)


def link_code(outcome: OutcomePublished) -> str:
    return outcome.data.partners[0].accept_url.rsplit("/a/", 1)[1]


async def test_did_you_meet_and_check_ins_from_the_question_to_the_task_and_the_follow_up_page(
    registry, kafka_settings, notifier_at
):
    clock, maildir, seen = notifier_at
    round_id, professional, signs, carer = await publish_two_pairs(registry)
    refs = await event_refs_of(registry.store)  # the notifier knows people by these
    for leader in (professional, signs, carer):
        await contact_record(kafka_settings, leader, ref=refs[leader["id"]])
    told = await outcomes(kafka_settings, refs, signs["id"], carer["id"])
    published_on = told[signs["id"]].occurred_at.astimezone(LONDON).date()
    heard_on = clock.now().astimezone(LONDON).date()  # check-ins count from when the notifier heard of it
    meeting = told[signs["id"]].data.partners[0].first_meeting
    assert meeting is not None
    ask_on = met_question_on(meeting.date, published_on)
    assert await mail(maildir, signs["id"], "We have found you"), "the first message came"
    for leader in (signs, carer):  # their questions count from when the notifier heard: on its schedule before the clock moves
        assert await scheduled(seen, refs[leader["id"]], "check_in"), "the notifier put the questions on its schedule"

    # Not before its day and time; then once, with a link to its page.
    clock.set(at_london(ask_on, 9, 59))
    assert await mail(maildir, signs["id"], "Did you meet", seconds=1) == []
    clock.set(at_london(ask_on, 10, 0))
    (question,) = await mail(maildir, signs["id"], "Did you meet")
    words = question.get_body(("plain",)).get_content()
    assert f"Did you meet {professional['name']}?" in words
    code = link_code(told[signs["id"]])
    assert f"/a/{code}/met" in words
    assert await mail(maildir, carer["id"], "Did you meet")

    # A yes by link: a page that works without JavaScript, then its form.
    page = await registry.get(f"/a/{code}/met", auth=None)
    assert page.status_code == 200 and f"Did you meet {professional['name']}?" in page.text
    assert 'type="radio"' in page.text and 'method="post"' in page.text
    missing = await registry.post(f"/a/{code}/met", data={}, auth=None)
    assert missing.status_code == 400 and "Choose one answer" in missing.text
    # Sent with problems: each named by its field, and everything typed or chosen is still there.
    typed = {"answer": "not_yet", "meeting_on_day": "4", "meeting_on_year": "2027", "words": "We keep missing & each other"}
    kept = await registry.post(f"/a/{code}/met", data=typed, auth=None)
    assert kept.status_code == 400 and 'href="#meeting_on_month"' in kept.text and 'href="#answer"' not in kept.text
    assert "The date you will meet must include a month" in kept.text
    assert 'value="not_yet" checked' in kept.text
    assert 'name="meeting_on_day" type="text" inputmode="numeric" value="4"' in kept.text
    assert 'name="meeting_on_year" type="text" inputmode="numeric" value="2027"' in kept.text
    assert ">We keep missing &amp; each other</textarea>" in kept.text
    too_long = await registry.post(f"/a/{code}/met", data={"words": "x" * 2001}, auth=None)
    assert too_long.status_code == 400
    assert 'href="#answer"' in too_long.text and 'href="#words"' in too_long.text
    assert "Keep what you tell us to 2,000 characters or fewer" in too_long.text
    nothing_yet = await registry.get(f"/a/{code}/met/thank-you", auth=None)
    assert nothing_yet.status_code == 303 and nothing_yet.headers["location"] == f"/a/{code}/met", "no answer: the question"
    # Taken: on to a thank-you page, which a refresh only shows again.
    yes = await registry.post(f"/a/{code}/met", data={"answer": "met"}, auth=None)
    assert yes.status_code == 303 and yes.headers["location"] == f"/a/{code}/met/thank-you"
    for _ in range(2):
        thanks = await registry.get(yes.headers["location"], auth=None)
        assert thanks.status_code == 200 and "Thank you for telling us" in thanks.text and "good to hear" in thanks.text
    async with registry.store.unit_of_work() as uow:
        mine = (await uow.session.scalars(select(FollowUpAnswerRow).where(FollowUpAnswerRow.leader_id == signs["id"]))).all()
    assert [r.answer for r in mine] == ["met"], "the forms with problems kept nothing; the thanks sent nothing"

    # "Not yet" from the carer: a task for the team 14 days later, not before.
    carer_code = link_code(told[carer["id"]])
    bad_date = {"answer": "not_yet", "meeting_on_day": "31", "meeting_on_month": "2", "meeting_on_year": "2027"}
    bad_date_page = await registry.post(f"/a/{carer_code}/met", data=bad_date, auth=None)
    assert bad_date_page.status_code == 400 and "The date you will meet must be a real date" in bad_date_page.text
    assert 'href="#meeting_on_day"' in bad_date_page.text
    past = {"answer": "not_yet", "meeting_on_day": "1", "meeting_on_month": "1", "meeting_on_year": "2001"}
    past_page = await registry.post(f"/a/{carer_code}/met", data=past, auth=None)
    assert past_page.status_code == 400 and "must be from today to a year from now" in past_page.text
    not_yet = await registry.post(f"/a/{carer_code}/met", data={"answer": "not_yet"}, auth=None)
    assert not_yet.status_code == 303
    assert "Plans change" in (await registry.get(not_yet.headers["location"], auth=None)).text
    answered = await read_topic(
        kafka_settings.bootstrap_servers,
        RESPONSES,
        keep=lambda r: r.key == round_id.encode() and b"FollowUpAnswered" in r.value,
        expected=2,
        timeout_s=20,
    )
    events = [with_ids(FollowUpAnswered.model_validate_json(r.value), refs).data for r in answered]
    assert [(e.leader_id, e.question, e.answer, e.via) for e in events] == [
        (signs["id"], "met", "met", "link"),
        (carer["id"], "met", "not_yet", "link"),
    ]
    assert await scheduled(seen, refs[carer["id"]], "not_yet"), "the notifier heard the answer before the clock moves on"
    not_yet_on = not_yet_task_on(clock.now().astimezone(LONDON).date(), 14)
    clock.set(at_london(not_yet_on, 8, 59))
    assert await tasks_for(registry, carer["id"], "not_yet", seconds=1) == []
    clock.set(at_london(not_yet_on, 9, 0))
    (task,) = await tasks_for(registry, carer["id"], "not_yet")
    assert task.round_id == round_id and "not met their partner yet" in task.detail
    assert await tasks_for(registry, signs["id"], "not_yet", seconds=0) == [], "who said yes is not chased"

    # A check-in on the programme's schedule (this round's programme keeps the default: 30 days).
    first_check_in = check_in_day(heard_on, 30, 60, 1)
    clock.set(at_london(max(first_check_in, clock.now().astimezone(LONDON).date()), 10, 0))
    (check_in,) = await mail(maildir, signs["id"], "How is it going")
    assert f"/a/{code}/check-in/1" in check_in.get_body(("plain",)).get_content()
    going = await registry.post(
        f"/a/{code}/check-in/1", data={"answer": "some_problems", "words": "We keep missing each other"}, auth=None
    )
    assert going.status_code == 303 and going.headers["location"] == f"/a/{code}/check-in/1/thank-you"
    thanks = await registry.get(going.headers["location"], auth=None)
    assert "We have not told" in thanks.text and "sorry to hear" in thanks.text

    # "We need help", given by phone and recorded by a manager: a task at once.
    async with pages_as(registry, *ADMIN) as browser:
        form = await browser.get(f"/manage/rounds/{round_id}/check-ins/new")
        assert form.status_code == 200
        token = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        fields = {"csrf_token": token, "person": f"{carer['id']} {professional['id']}", "question": "check_in"}
        wrong = await browser.post(
            f"/manage/rounds/{round_id}/check-ins/new", data={**fields, "number": "1", "answer": "met", "via": "phone"}
        )
        assert wrong.status_code == 400 and "does not go with this question" in wrong.text
        # "Not met yet" by phone, with the date they plan to meet in day, month and year boxes.
        planned = clock.now().astimezone(LONDON).date() + dt.timedelta(days=10)
        not_yet = {**fields, "question": "met", "answer": "not_yet"}
        not_yet |= {
            "via": "phone",
            "given_by": "leader",
            "meeting_on_day": str(planned.day),
            "meeting_on_year": str(planned.year),
        }
        no_month = await browser.post(f"/manage/rounds/{round_id}/check-ins/new", data=not_yet)
        assert no_month.status_code == 400 and "The date they plan to meet must include a month" in no_month.text
        assert 'href="#meeting_on_month"' in no_month.text and f'value="{planned.day}"' in no_month.text
        with_date = await browser.post(
            f"/manage/rounds/{round_id}/check-ins/new", data={**not_yet, "meeting_on_month": str(planned.month)}
        )
        assert with_date.status_code == 303, with_date.text
        recorded = await browser.post(
            f"/manage/rounds/{round_id}/check-ins/new",
            data={**fields, "number": "1", "answer": "need_help", "via": "phone", "given_by": "leader"},
        )
        assert recorded.status_code == 303, recorded.text
        (help_task,) = await tasks_for(registry, carer["id"], "need_help")
        assert "need help" in help_task.detail

        # The follow-up page: each answer, how it came in, and words for the team only.
        follow_up = await browser.get(f"/manage/rounds/{round_id}/follow-up")
    assert follow_up.status_code == 200
    section = follow_up.text.split('id="after-meeting"', 1)[1]
    signs_row = section.split(signs["name"], 1)[1].split("</tr>", 1)[0]
    assert "Met" in signs_row and "Some problems (check-in 1)" in signs_row
    assert "From the link in their message" in signs_row and "We keep missing each other" in signs_row
    carer_row = section.split(carer["name"], 1)[1].split("</tr>", 1)[0]
    assert "Not met yet" in carer_row and "Asked for help (check-in 1)" in carer_row
    assert "Given on the phone by the leader, recorded by" in carer_row
    assert f"Not met yet (plan to meet on {planned:%-d %B %Y})" in carer_row, "recorded by phone with its date"

    async with registry.store.unit_of_work() as uow:
        kept = (await uow.session.scalars(select(FollowUpAnswerRow).where(FollowUpAnswerRow.leader_id == signs["id"]))).all()
        assert all(b"missing each other" not in (r.sealed_words or b"") for r in kept), "sealed at rest"
        audited = (await uow.session.scalars(select(AuditRow.action).where(AuditRow.leader_id == carer["id"]))).all()
        assert "recorded a follow-up answer" in audited


async def test_a_reply_to_a_text_is_recorded_as_given_by_text_or_becomes_a_task(registry, kafka_settings):
    round_id, professional, signs, carer = await publish_two_pairs(registry)
    refs = await event_refs_of(registry.store)

    def reply(leader: dict, answer: str, question: str = "met", number: int = 0) -> TextReplyReceived:
        """The notifier's relay of a text reply, naming people by their event references as it does."""
        data = TextReply(
            round_id=round_id,
            leader_id=leader["id"],
            partner_id=professional["id"],
            answer=answer,
            received_on=dt.date.today(),
            question=question,
            number=number,
        )
        return with_references(TextReplyReceived(producer="notifier", correlation_id=round_id, data=data), refs)

    await publish(kafka_settings, RESPONSES, round_id, reply(signs, "need_help"))
    # Carer's pair ends first: a reply about it cannot be recorded, so the team gets a task.
    ended = await registry.post(
        f"/rounds/{round_id}/pairs/end",
        json={"leader_id": carer["id"], "partner_id": professional["id"], "reason": "circumstances_changed"},
    )
    assert ended.status_code == 201, ended.text
    await publish(kafka_settings, RESPONSES, round_id, reply(carer, "going_well", "check_in", 1))

    rows: list[FollowUpAnswerRow] = []
    for _ in range(300):
        async with registry.store.unit_of_work() as uow:
            rows = list(
                (await uow.session.scalars(select(FollowUpAnswerRow).where(FollowUpAnswerRow.round_id == round_id))).all()
            )
        if rows:
            break
        await asyncio.sleep(0.1)
    assert [(r.leader_id, r.question, r.answer, r.via) for r in rows] == [(signs["id"], "met", "need_help", "text")]
    (task,) = await tasks_for(registry, carer["id"], "text_reply")
    assert "could not be recorded" in task.detail and "pair has ended" in task.detail
