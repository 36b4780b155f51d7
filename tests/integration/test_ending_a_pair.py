"""Ending a pair (issue 18), through the real broker: the registry records it (audited), publishes
`PairEnded`, never proposes the pair again and puts its people first; the running notifier tells the
partner kindly, in their format (standard email, easy read), once."""

from __future__ import annotations

import asyncio
import re
import uuid

import pytest
from sqlalchemy import select

from schemas.events import OutcomePublished, PairEnded, PairEnding
from schemas.topics import OUTCOMES, RESPONSES
from services.common.crypto import new_key
from services.common.embedded import read_maildir
from services.notifier.app import create_app
from services.notifier.clock import RunningClock
from services.notifier.config import NotifierSettings
from services.registry import decline_reasons
from services.registry.adapters.orm import AuditRow, EndedPairRow, RoundRow
from tests.integration.conftest import ADMIN, event_refs_of, with_ids
from tests.integration.helpers import MIDDAY, contact_record, pages_as, publish, publish_two_pairs, request_of
from tests.kafka_reading import read_topic

pytestmark = pytest.mark.integration

TOLD = "Your pair has ended"  # the standard title; easy read says "News about your partner"


@pytest.fixture
async def notifier_mail(kafka_settings, smtp_server, tmp_path):
    """The notifier app on the broker, sending email to a real SMTP server: its maildir."""
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
        yield maildir
    finally:
        await app.stop()


async def mail_about(maildir, leader_id: str, partner_name: str, count: int = 1, seconds: float = 60) -> list:
    """The messages to this person telling them their pair with `partner_name` ended, once `count` have come."""
    found: list = []
    for _ in range(int(seconds * 10)):
        found = [
            m
            for m in read_maildir(maildir)
            if m["To"] == f"{leader_id}@example.org"
            and partner_name in m.get_body(("plain",)).get_content()
            and ("pair has ended" in m["Subject"] or "News about your partner" in m["Subject"])
        ]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.1)
    return found


async def answer_code(kafka_settings, ref: str) -> str:
    """The code of the short link in the published message of the person with this event reference."""
    records = await read_topic(
        kafka_settings.bootstrap_servers, OUTCOMES, keep=lambda r: r.key == ref.encode(), expected=1, timeout_s=20
    )
    outcome = OutcomePublished.model_validate_json(records[0].value)
    return outcome.data.partners[0].accept_url.rsplit("/a/", 1)[1]


async def test_ending_a_pair_is_recorded_told_kindly_once_and_never_proposed_again(registry, kafka_settings, notifier_mail):
    first, professional, signs, carer = await publish_two_pairs(registry)
    refs = await event_refs_of(registry.store)  # the notifier knows them by these
    await contact_record(kafka_settings, professional, ref=refs[professional["id"]])  # standard email
    await contact_record(kafka_settings, carer, "easy_read", ref=refs[carer["id"]])
    await contact_record(kafka_settings, signs, ref=refs[signs["id"]])  # their name is in their partner's message

    # Signs ends their pair from their link: a page, then its form.
    code = await answer_code(kafka_settings, refs[signs["id"]])
    page = await registry.get(f"/a/{code}/end", auth=None)
    assert page.status_code == 200 and "not working for us" in page.text
    ended = await registry.post(f"/a/{code}/end", data={"reason": "not_working", "words": "My health got worse"}, auth=None)
    assert ended.status_code == 200 and "Your pair has ended" in ended.text
    again = await registry.post(f"/a/{code}/end", data={"reason": "other"}, auth=None)
    assert again.status_code == 409 and "already been ended" in again.text
    late_yes = await registry.post(f"/a/{code}", data={"answer": "accept"}, auth=None)
    assert late_yes.status_code == 409 and "This pair has ended" in late_yes.text

    # Someone who said yes finds how to end their pair on their answer page.
    carer_code = await answer_code(kafka_settings, refs[carer["id"]])
    assert (await registry.post(f"/a/{carer_code}", data={"answer": "accept"}, auth=None)).status_code == 200
    answered = await registry.get(f"/a/{carer_code}", auth=None)
    assert f'href="/a/{carer_code}/end"' in answered.text

    # A manager ends the carer's pair, as the programme team's own decision.
    by_team = await registry.post(
        f"/rounds/{first}/pairs/end",
        json={"leader_id": carer["id"], "partner_id": professional["id"], "reason": "circumstances_changed"},
    )
    assert by_team.status_code == 201, by_team.text
    assert by_team.json()["asked_by"] is None and by_team.json()["via"] == "programme_team"

    # Recorded and audited; the words sealed, readable only by the programme team.
    async with registry.store.unit_of_work() as uow:
        rows = (await uow.session.scalars(select(EndedPairRow).where(EndedPairRow.round_id == first))).all()
        assert sorted((r.lived_experience_id, r.asked_by) for r in rows) == sorted(
            [(signs["id"], signs["id"]), (carer["id"], None)]
        )
        mine = next(r for r in rows if r.asked_by == signs["id"])
        assert b"My health" not in mine.sealed_words
        cipher = registry._transport.app.state.registry.cipher
        keys = await decline_reasons.keys_of(uow, cipher, {signs["id"]})
        assert decline_reasons.open_reason(cipher, mine.sealed_words, keys.get(signs["id"])) == "My health got worse"
        audited = (await uow.session.scalars(select(AuditRow.leader_id).where(AuditRow.action == "ended a pair"))).all()
        assert {signs["id"], carer["id"]} <= set(audited)

    # Published, in the round's order.
    records = await read_topic(
        kafka_settings.bootstrap_servers,
        RESPONSES,
        keep=lambda r: r.key == first.encode() and b"PairEnded" in r.value,
        expected=2,
        timeout_s=20,
    )
    events = [with_ids(PairEnded.model_validate_json(r.value), refs).data for r in records]
    assert [(e.leader_id, e.partner_id, e.ended_by) for e in events] == [
        (signs["id"], professional["id"], "leader"),
        (carer["id"], professional["id"], "programme_team"),
    ]

    # The partner told kindly: in standard email, and in easy read with pictures.
    standard = await mail_about(notifier_mail, professional["id"], signs["name"])
    assert len(standard) == 1
    words = standard[0].get_body(("plain",)).get_content()
    assert "not your fault" in words and "new partner" in words and "My health" not in words
    easy = await mail_about(notifier_mail, carer["id"], professional["name"])
    assert len(easy) == 1 and easy[0]["Subject"].startswith("News about your partner")
    assert any(part.get_content_type() == "image/png" for part in easy[0].walk()), "easy read has pictures"
    assert "not your fault" in easy[0].get_body(("plain",)).get_content()

    # The same event again, then a later one in the same order: by the time the later one is told,
    # the repeat was handled, and told nobody twice.
    await publish(kafka_settings, RESPONSES, first, PairEnded.model_validate_json(records[0].value))
    marker = {"id": f"pl-{uuid.uuid4().hex[:6]}", "name": "Dara Quinn", "role": "patient_leader"}
    other = {"id": f"cl-{uuid.uuid4().hex[:6]}", "name": "Eve Rowe", "role": "clinical_leader"}
    await contact_record(kafka_settings, marker)
    await contact_record(kafka_settings, other)
    later = PairEnding(round_id=first, leader_id=marker["id"], partner_id=other["id"], ended_by="programme_team")
    await publish(kafka_settings, RESPONSES, first, PairEnded(producer="test", correlation_id=first, data=later))
    assert len(await mail_about(notifier_mail, marker["id"], other["name"])) == 1
    assert len(await mail_about(notifier_mail, professional["id"], signs["name"], seconds=0.1)) == 1, "told once"

    # Never proposed again, and its people come first: in the next round and when paired again.
    second = f"r-{uuid.uuid4().hex[:6]}"
    people = [signs["id"], carer["id"], professional["id"]]
    assert (await registry.post("/rounds", json={"id": second, "leader_ids": people})).status_code == 202
    request = await request_of(registry, kafka_settings, second)
    assert {(signs["id"], professional["id"]), (carer["id"], professional["id"])} <= set(map(tuple, request.data.previous_pairs))
    assert request.data.left_out_before == sorted(people)
    assert (await registry.post(f"/rounds/{first}/pair-again")).status_code in (200, 201, 202)
    async with registry.store.unit_of_work() as uow:
        follow_up = await uow.session.scalar(select(RoundRow).where(RoundRow.parent_round_id == first))
    assert follow_up is not None and [signs["id"], professional["id"]] in follow_up.forbidden_pairs
    assert [carer["id"], professional["id"]] in follow_up.forbidden_pairs
    assert set(people) <= set(follow_up.leader_ids)


async def test_a_manager_ends_a_pair_from_the_follow_up_page_saying_who_asked_and_how(registry):
    first, professional, signs, _ = await publish_two_pairs(registry)
    async with pages_as(registry, *ADMIN) as browser:
        follow_up = await browser.get(f"/manage/rounds/{first}/follow-up")
        assert f'href="/manage/rounds/{first}/pairs/end"' in follow_up.text
        form = await browser.get(f"/manage/rounds/{first}/pairs/end")
        assert form.status_code == 200 and f"{signs['name']} asked to end their pair with {professional['name']}" in form.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        choice = f"{signs['id']}|{signs['id']}|{professional['id']}"

        unfinished = await browser.post(
            f"/manage/rounds/{first}/pairs/end", data={"csrf_token": token, "choice": choice, "reason": "", "via": ""}
        )
        assert unfinished.status_code == 400
        assert "Choose why the pair is ending" in unfinished.text and "Choose how their request reached you" in unfinished.text

        done = await browser.post(
            f"/manage/rounds/{first}/pairs/end",
            data={"csrf_token": token, "choice": choice, "reason": "circumstances_changed", "via": "phone", "words": ""},
        )
        assert done.status_code == 303 and "Ended" in done.headers["location"]
        twice = await browser.post(
            f"/manage/rounds/{first}/pairs/end",
            data={"csrf_token": token, "choice": choice, "reason": "other", "via": "phone", "words": ""},
        )
        assert twice.status_code == 400 and "already been ended" in twice.text
        shown = await browser.get(f"/manage/rounds/{first}/follow-up")
        assert shown.text.count("Pair ended") == 2, "both people's rows say so"
    async with registry.store.unit_of_work() as uow:
        row = await uow.session.scalar(select(EndedPairRow).where(EndedPairRow.round_id == first))
    assert (row.asked_by, row.via, row.reason, row.recorded_by) == (
        signs["id"],
        "phone",
        "circumstances_changed",
        "Programme admin",
    )


async def test_each_form_about_a_pair_says_when_there_is_no_such_round(registry):
    async with pages_as(registry, *ADMIN) as browser:
        for form in ("pairs/end", "answers/new", "check-ins/new"):
            shown = await browser.get(f"/manage/rounds/no-such-round/{form}")
            assert shown.status_code == 404, form
            assert "There is no round called no-such-round." in shown.text, form
