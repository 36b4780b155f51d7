"""Closing a round with what difference the pairs made (issue 18), through the real broker: the registry
refuses words that are not plain English (naming the field and what to change), then closes the round and
publishes `RoundFeedbackShared` (audited); the running notifier tells everyone in the round, paired or not,
in their own format (standard email, easy read, a text message), each once."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import uuid
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from schemas.events import LeaderContact, LeaderContactChanged, RoundFeedback, RoundFeedbackShared
from schemas.topics import LEADER_CONTACTS, ROUNDS
from services.common.crypto import new_key
from services.common.embedded import read_maildir
from services.common.round_feedback import sms_parts
from services.notifier import handlers
from services.notifier.app import create_app
from services.notifier.clock import FrozenClock, RunningClock
from services.notifier.config import NotifierSettings
from services.notifier.domain.round_feedback import feedback_messages
from services.notifier.scheduler import Scheduler
from services.registry.adapters.orm import AuditRow, RoundRow
from services.registry.sample import sample_leaders
from tests.integration import notifier_world as world
from tests.integration.conftest import ADMIN, event_refs_of, unique, with_ids
from tests.integration.helpers import MIDDAY, pages_as, publish, publish_two_pairs
from tests.kafka_reading import read_topic

pytestmark = pytest.mark.integration

SAID = (
    "Because of your work, the hospital now books interpreters before the first visit. "
    "Carers now get a named contact on every ward."
)
TITLES = ("What difference your pairing made", "Thank you from the programme")


@pytest.fixture
async def notifier_out(kafka_settings, smtp_server, tmp_path):
    """The notifier app on the broker, sending email to a real SMTP server: its maildir and output folder."""
    port, maildir = smtp_server
    settings = NotifierSettings(
        encryption_keys=new_key(),
        event_keys=new_key(),
        database_url=f"sqlite:///{tmp_path / 'notifier.db'}",
        smtp_port=port,
        output_dir=tmp_path / "out",
        kafka=kafka_settings,
    )
    app = create_app(settings, clock=RunningClock(MIDDAY))
    await app.start()
    try:
        yield maildir, settings.sms_dir
    finally:
        await app.stop()


async def contact(
    kafka_settings, leader: dict, information_format: str = "standard", method: str = "email", ref: str | None = None
) -> None:
    """Their contact record as the notifier reads it, keyed by their event reference (`ref`, for someone
    registered) or by `id` (someone only the notifier hears of); the email is made from their id."""
    person = ref or leader["id"]
    data = LeaderContact(
        leader_id=person,
        version=1,
        name=leader["name"],
        role=leader["role"],
        email=f"{leader['id']}@example.org",
        phone="07700 900123" if method == "sms" else None,
        contact_method=method,
        information_format=information_format,
    )
    await publish(
        kafka_settings,
        LEADER_CONTACTS,
        person,
        LeaderContactChanged(producer="test", correlation_id=person, data=data),
    )


async def feedback_mail(maildir, leader_id: str, count: int = 1, seconds: float = 60) -> list:
    found: list = []
    for _ in range(int(seconds * 10)):
        found = [m for m in read_maildir(maildir) if m["To"] == f"{leader_id}@example.org" and m["Subject"].startswith(TITLES)]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.1)
    return found


async def texts_to(folder, leader_id: str, seconds: float = 60) -> list[str]:
    """The text messages thanking this person for taking part, once there is one."""
    for _ in range(int(seconds * 10)):
        texts = [p.read_text() for p in folder.glob(f"*{leader_id}*")] if folder.exists() else []
        found = [t for t in texts if "thank you for taking part" in t]  # not the message about their partner
        if found:
            return found
        await asyncio.sleep(0.1)
    return []


async def test_closing_with_feedback_tells_everyone_in_the_round_in_their_format_once(registry, kafka_settings, notifier_out):
    maildir, sms_dir = notifier_out
    left_out = unique({**sample_leaders()[0], "availability": []})
    first, professional, signs, carer = await publish_two_pairs(registry, not_paired=left_out)
    refs = await event_refs_of(registry.store)  # the notifier knows people by these
    await contact(kafka_settings, professional, ref=refs[professional["id"]])  # standard email
    await contact(kafka_settings, signs, "easy_read", ref=refs[signs["id"]])
    await contact(kafka_settings, carer, method="sms", ref=refs[carer["id"]])
    await contact(kafka_settings, left_out, ref=refs[left_out["id"]])  # not paired: told too

    # Words that are not plain English are refused, naming the field and what to change; the round stays open.
    hard = await registry.post(f"/rounds/{first}/close", json={"feedback": "The ICB will leverage your learning."})
    assert hard.status_code == 422
    problems = hard.json()["errors"]
    assert {p["field"] for p in problems} == {"feedback"}
    assert any('"ICB"' in p["message"] for p in problems) and any('Say "use" instead' in p["message"] for p in problems)
    async with registry.store.unit_of_work() as uow:
        assert (await uow.session.get(RoundRow, first)).status == "published"

    closed = await registry.post(f"/rounds/{first}/close", json={"feedback": SAID})
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"

    records = await read_topic(
        kafka_settings.bootstrap_servers,
        ROUNDS,
        keep=lambda r: r.key == first.encode() and b"RoundFeedbackShared" in r.value,
        expected=1,
        timeout_s=20,
    )
    shared = RoundFeedbackShared.model_validate_json(records[0].value)
    everyone = {professional["id"], signs["id"], carer["id"], left_out["id"]}
    assert set(shared.data.leader_ids) == {refs[person] for person in everyone}, "named by reference on the topic"
    assert set(with_ids(shared, refs).data.leader_ids) == everyone and shared.data.message == SAID
    assert shared.data.programme is not None and shared.data.programme.email
    async with registry.store.unit_of_work() as uow:
        audited = (
            await uow.session.scalars(select(AuditRow.purpose).where(AuditRow.action == "shared what difference the pairs made"))
        ).all()
    assert any(first in purpose and "4 people" in purpose for purpose in audited)

    # Everyone hears it, paired or not, in their format.
    for person in (professional, left_out):
        (mail,) = await feedback_mail(maildir, person["id"])
        words = mail.get_body(("plain",)).get_content()
        assert "Carers now get a named contact on every ward." in words and person["name"] in words
    (easy,) = await feedback_mail(maildir, signs["id"])
    assert easy["Subject"].startswith("Thank you from the programme")
    assert any(part.get_content_type() == "image/png" for part in easy.walk()), "easy read has pictures"
    (text,) = await texts_to(sms_dir, refs[carer["id"]])  # the file is named by their reference
    assert "the hospital now books interpreters before the first visit." in text and sms_parts(text.strip()) <= 2

    # The same event again, then one for someone else on the same round: by the time that one is told,
    # the repeat was handled, and told nobody twice.
    await publish(kafka_settings, ROUNDS, first, shared)
    marker = {"id": f"pl-{uuid.uuid4().hex[:6]}", "name": "Dara Quinn", "role": "patient_leader"}
    await contact(kafka_settings, marker)
    later = RoundFeedback(round_id=first, leader_ids=[marker["id"]], message=SAID)
    await publish(kafka_settings, ROUNDS, first, RoundFeedbackShared(producer="test", correlation_id=first, data=later))
    assert len(await feedback_mail(maildir, marker["id"])) == 1
    for person in (professional, signs, left_out):
        assert len(await feedback_mail(maildir, person["id"], seconds=0.1)) == 1, "told once"
    assert len(await texts_to(sms_dir, refs[carer["id"]], seconds=0.1)) == 1


async def test_closing_without_words_tells_nobody_anything_new(registry, kafka_settings):
    first, *_ = await publish_two_pairs(registry)
    closed = await registry.post(f"/rounds/{first}/close")
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    async with registry.store.unit_of_work() as uow:
        audited = (
            await uow.session.scalars(select(AuditRow.purpose).where(AuditRow.action == "shared what difference the pairs made"))
        ).all()
    assert not [purpose for purpose in audited if first in purpose]


async def test_the_close_page_checks_the_words_shows_every_format_and_sends_only_what_was_previewed(registry, kafka_settings):
    first, *_ = await publish_two_pairs(registry)
    async with pages_as(registry, *ADMIN) as browser:
        form = await browser.get(f"/manage/rounds/{first}/close")
        assert form.status_code == 200 and "Tell everyone what difference the pairs made" in form.text
        assert "3 people" in form.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)

        hard = await browser.post(
            f"/manage/rounds/{first}/close",
            data={"csrf_token": token, "feedback": "The ICB will leverage your learning.", "action": "close"},
        )
        assert hard.status_code == 400 and "There is a problem" in hard.text
        assert '<a href="#feedback">&#34;ICB&#34; is a short form not everyone knows.' in hard.text
        assert "Say &#34;use&#34; instead." in hard.text
        assert 'class="nhsuk-textarea nhsuk-textarea--error"' in hard.text

        # Plain words, sent straight away: shown first, not sent.
        shown = await browser.post(
            f"/manage/rounds/{first}/close", data={"csrf_token": token, "feedback": SAID, "action": "close"}
        )
        assert shown.status_code == 200
        for heading in (
            "<h3>Email</h3>",
            "<h3>Large print</h3>",
            "<h3>Easy read</h3>",
            "<h3>Text message</h3>",
            "<h3>Letter</h3>",
        ):
            assert heading in shown.text
        assert "sent as 2 parts" in shown.text and "Carers now get a named contact on every ward." in shown.text
        async with registry.store.unit_of_work() as uow:
            assert (await uow.session.get(RoundRow, first)).status == "published", "nothing sent before the preview"

        # Words changed after the preview are shown again, not sent.
        changed = SAID + " Thank you."
        again = await browser.post(
            f"/manage/rounds/{first}/close",
            data={"csrf_token": token, "feedback": changed, "previewed": SAID, "action": "close"},
        )
        assert again.status_code == 200 and "How everyone will get your words" in again.text

        sent = await browser.post(
            f"/manage/rounds/{first}/close",
            data={"csrf_token": token, "feedback": changed, "previewed": changed, "action": "close"},
        )
        assert sent.status_code == 303 and "3 people" in sent.headers["location"].replace("+", " ").replace("%28", "(")
    records = await read_topic(
        kafka_settings.bootstrap_servers,
        ROUNDS,
        keep=lambda r: r.key == first.encode() and b"RoundFeedbackShared" in r.value,
        expected=1,
        timeout_s=20,
    )
    assert RoundFeedbackShared.model_validate_json(records[0].value).data.message == changed


async def test_a_feedback_text_in_quiet_hours_waits_for_the_morning_and_goes_once(store, channels, settings):
    """The same rules as every message: no text message at night, sent by the scheduler at nine, once."""
    await world.know(store, world.person(contact_method="sms", phone="07700 900123"))
    clock = FrozenClock(dt.datetime(2026, 12, 15, 22, 30, tzinfo=ZoneInfo("Europe/London")))
    n = world.notifier(store, channels, clock=clock)
    event = RoundFeedbackShared(
        producer="registry", correlation_id="r1", data=RoundFeedback(round_id="r1", leader_ids=["pl-1"], message=SAID)
    )
    (message,) = feedback_messages(event)
    await handlers.on_event(n, message)  # type: ignore[arg-type]
    await handlers.on_event(n, feedback_messages(event)[0])  # type: ignore[arg-type]  # the event again

    texts = lambda: sorted(settings.sms_dir.glob("*.txt")) if settings.sms_dir.exists() else []  # noqa: E731
    assert texts() == [], "nothing is sent in quiet hours"
    (waiting,) = await world.reports(store)
    assert (waiting.data.about, waiting.data.status) == ("round_feedback", "scheduled")
    assert "09:00 on Wednesday 16 December 2026" in waiting.data.detail

    scheduler = Scheduler(n)
    clock.set(dt.datetime(2026, 12, 16, 9, 0, tzinfo=ZoneInfo("Europe/London")))
    assert await scheduler.run_due() == 1
    (text,) = texts()
    assert "the hospital now books interpreters before the first visit." in text.read_text()
    assert await scheduler.run_due() == 0, "sent once"
    assert [r.data.status for r in await world.reports(store)] == ["scheduled", "sent"]


async def test_someone_who_withdrew_is_not_written_to_when_the_round_closes(registry, kafka_settings):
    left_out = unique({**sample_leaders()[0], "availability": []})
    first, professional, signs, carer = await publish_two_pairs(registry, not_paired=left_out)
    withdrawn = await registry.post("/leaders", json={**left_out, "status": "withdrawn"})
    assert withdrawn.status_code == 200, withdrawn.text
    closed = await registry.post(f"/rounds/{first}/close", json={"feedback": SAID})
    assert closed.status_code == 200, closed.text
    records = await read_topic(
        kafka_settings.bootstrap_servers,
        ROUNDS,
        keep=lambda r: r.key == first.encode() and b"RoundFeedbackShared" in r.value,
        expected=1,
        timeout_s=20,
    )
    refs = await event_refs_of(registry.store)
    told = set(RoundFeedbackShared.model_validate_json(records[0].value).data.leader_ids)
    assert told == {refs[p["id"]] for p in (professional, signs, carer)}, "they left the programme: not written to"
