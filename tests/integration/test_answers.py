"""Answering: short single-use links that end with the round, a named carer confirming they checked
with the leader, and answers given by phone or letter recorded by a manager, on a real database and
the real broker."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from schemas.events import PairAccepted, PairDeclined
from services.registry.adapters.orm import AnswerCodeRow, ResponseRow
from services.registry.domain.answers import new_reference
from tests.integration.conftest import ADMIN
from tests.integration.helpers import answers_on_broker, paired_outcomes, path_of, publish_two_pairs

pytestmark = pytest.mark.integration


async def test_answer_links_are_short_single_use_and_tell_the_partner(registry, kafka_settings):
    round_id, professional, signs, _carer, outcomes = await paired_outcomes(registry, kafka_settings)
    partners = [p for o in outcomes.values() for p in o.data.partners]
    assert len(partners) == 4
    urls = [u for p in partners for u in (p.accept_url, p.decline_url)]
    assert all(len(u) <= 45 and re.fullmatch(r"http://127\.0\.0\.1:8000/a/[a-z2-9]{12}", u) for u in urls), urls
    assert len(set(urls)) == 8, "every link is different"
    references = [p.reference for p in partners]
    assert all(re.fullmatch(r"[A-HJ-NP-Z2-9]{3}-[A-HJ-NP-Z2-9]{4}", r or "") for r in references), references
    assert len(set(references)) == 4, "one reference for each person and partner"

    (theirs,) = outcomes[signs["id"]].data.partners
    # Opening the link (as an email scanner does) records nothing: it shows the question, answer chosen.
    page = await registry.get(path_of(theirs.decline_url))
    assert page.status_code == 200 and "Do you want to work with" in page.text
    assert 'value="decline" checked' in page.text
    typed = "/a/" + path_of(theirs.decline_url).removeprefix("/a/").upper()
    assert (await registry.get(typed)).status_code == 200, "typed in capitals, it still works"
    said = await registry.post(path_of(theirs.decline_url), data={"answer": "decline", "reason": "I have moved away"})
    assert said.status_code == 200 and "you said no" in said.text

    # Single use: both of the question's links now say the answer is recorded, and take no other.
    for url in (theirs.decline_url, theirs.accept_url):
        again = await registry.post(path_of(url), data={"answer": "accept"})
        assert again.status_code == 409 and "already been recorded" in again.text
        shown = await registry.get(path_of(url))
        assert "An answer has already been recorded" in shown.text and "contact the programme team" in shown.text
    view = (await registry.get(f"/rounds/{round_id}")).json()
    assert [(r["leader_id"], r["answer"]) for r in view["responses"]] == [(signs["id"], "decline")]
    (declined,) = await answers_on_broker(registry, kafka_settings, round_id, 1)
    assert isinstance(declined, PairDeclined)
    assert (declined.data.leader_id, declined.data.partner_id, declined.data.given_by, declined.data.via) == (
        signs["id"],
        professional["id"],
        "leader",
        "link",
    )
    assert declined.data.recorded_by is None and declined.data.checked_with_leader is None

    # Only a digest of each code is stored.
    async with registry.store.unit_of_work() as uow:
        code = path_of(theirs.accept_url).removeprefix("/a/")
        stored = set(
            (await uow.session.scalars(select(AnswerCodeRow.code_digest).where(AnswerCodeRow.round_id == round_id))).all()
        )
    assert len(stored) == 8 and code not in stored and all(len(d) == 64 for d in stored)


async def test_a_made_up_or_expired_code_is_refused_with_what_to_do(registry, kafka_settings):
    round_id, _, signs, _, outcomes = await paired_outcomes(registry, kafka_settings)
    made_up = await registry.get("/a/abcdefghjkmn")
    assert made_up.status_code == 400 and "not complete" in made_up.text
    assert (await registry.get("/a/short")).status_code == 400
    (theirs,) = outcomes[signs["id"]].data.partners
    async with registry.store.unit_of_work() as uow:
        await uow.session.execute(
            update(AnswerCodeRow)
            .where(AnswerCodeRow.round_id == round_id)
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        )
        await uow.commit()
    late = await registry.post(path_of(theirs.accept_url), data={"answer": "accept"})
    assert late.status_code == 400 and "expired" in late.text
    assert (await registry.get(f"/rounds/{round_id}")).json()["responses"] == []


async def test_a_closed_or_cancelled_round_takes_no_answers_from_its_links(registry, kafka_settings):
    for step in ("close", "cancel"):
        round_id, _, signs, _, outcomes = await paired_outcomes(registry, kafka_settings)
        assert (await registry.post(f"/rounds/{round_id}/{step}")).status_code == 200
        (theirs,) = outcomes[signs["id"]].data.partners
        for answer in (
            registry.get(path_of(theirs.accept_url)),
            registry.post(path_of(theirs.accept_url), data={"answer": "accept"}),
        ):
            refused = await answer
            assert refused.status_code == 409 and "no longer taking answers" in refused.text, step
        staff = await registry.post(
            f"/rounds/{round_id}/answers",
            json={"reference": theirs.reference, "answer": "accept", "via": "phone", "received_on": dt.date.today().isoformat()},
        )
        assert staff.status_code == 409 and "no longer taking answers" in staff.json()["detail"], step


async def test_a_leader_who_has_left_cannot_answer_from_their_link(registry, kafka_settings):
    _round_id, _, signs, _, outcomes = await paired_outcomes(registry, kafka_settings)
    left = {k: v for k, v in signs.items() if k != "id"} | {"status": "withdrawn"}
    assert (await registry.put(f"/leaders/{signs['id']}", json=left)).status_code == 200
    (theirs,) = outcomes[signs["id"]].data.partners
    for answer in (
        registry.get(path_of(theirs.accept_url)),
        registry.post(path_of(theirs.accept_url), data={"answer": "accept"}),
    ):
        refused = await answer
        assert refused.status_code == 409 and "you have left the programme" in refused.text
        assert "<title>We could not use this link" in refused.text and "Do you want to work with" not in refused.text
    async with registry.store.unit_of_work() as uow:
        recorded = (await uow.session.scalars(select(ResponseRow).where(ResponseRow.leader_id == signs["id"]))).all()
    assert [row.answer for row in recorded] == ["decline"]  # leaving said no to the pair, and nothing changed it


async def test_a_named_carer_must_confirm_they_checked_with_the_leader(registry, kafka_settings):
    round_id, _professional, signs, _, outcomes = await paired_outcomes(registry, kafka_settings)
    # Their messages go to their son, as they asked and agreed.
    changed = {k: v for k, v in signs.items() if k != "id"} | {
        "contact_method": "via_carer",
        "proxy": {"name": "Sam Okafor", "relationship": "son", "email": "sam.okafor@example.org"},
        "consents": [*signs["consents"], {"purpose": "contact_via_proxy", "given": True, "at": "2026-11-02T10:00:00Z"}],
    }
    assert (await registry.put(f"/leaders/{signs['id']}", json=changed)).status_code == 200
    (theirs,) = outcomes[signs["id"]].data.partners
    page = await registry.get(path_of(theirs.accept_url))
    assert f"Does {signs['name']} want to work with" in page.text and f"I have checked with {signs['name']}" in page.text

    unchecked = await registry.post(path_of(theirs.accept_url), data={"answer": "accept"})
    assert unchecked.status_code == 400
    assert f"Tick the box to say you have checked with {signs['name']} and this is their answer" in unchecked.text
    assert 'href="#checked"' in unchecked.text and "<title>Error:" in unchecked.text
    assert (await registry.get(f"/rounds/{round_id}")).json()["responses"] == [], "nothing recorded without the box"

    said = await registry.post(path_of(theirs.accept_url), data={"answer": "accept", "checked": "yes"})
    assert said.status_code == 200 and "the answer is yes" in said.text
    (accepted,) = await answers_on_broker(registry, kafka_settings, round_id, 1)
    assert isinstance(accepted, PairAccepted)
    assert (accepted.data.given_by, accepted.data.checked_with_leader, accepted.data.via) == ("named_person", True, "link")


async def test_a_manager_records_an_answer_given_on_the_phone_by_its_reference(registry, kafka_settings):
    round_id, professional, signs, carer, outcomes = await paired_outcomes(registry, kafka_settings)
    today = dt.datetime.now(ZoneInfo("Europe/London")).date()
    (carers,) = outcomes[carer["id"]].data.partners
    body = {
        "reference": carers.reference.lower().replace("-", " "),
        "answer": "decline",
        "via": "phone",
        "received_on": today.isoformat(),
        "reason": "Too far to travel",
    }
    recorded = await registry.post(f"/rounds/{round_id}/answers", json=body)
    assert recorded.status_code == 201, recorded.text
    answer = recorded.json()
    assert (answer["leader_id"], answer["partner_id"], answer["answer"], answer["via"], answer["given_by"]) == (
        carer["id"],
        professional["id"],
        "decline",
        "phone",
        "leader",
    )
    assert answer["recorded_by"] and answer["received_on"] == today.isoformat()

    (declined,) = await answers_on_broker(registry, kafka_settings, round_id, 1)
    assert isinstance(declined, PairDeclined)
    assert (declined.data.leader_id, declined.data.via, declined.data.given_by, declined.data.recorded_by) == (
        carer["id"],
        "phone",
        "leader",
        answer["recorded_by"],
    )
    audit = (await registry.get("/audit", params={"leader_id": carer["id"]})).json()["items"]
    (entry,) = [e for e in audit if e["action"] == "recorded an answer"]
    assert entry["actor"] == ADMIN[0] and round_id in entry["purpose"] and "on the phone" in entry["purpose"]
    (shown,) = (await registry.get(f"/rounds/{round_id}")).json()["responses"]
    assert (shown["via"], shown["given_by"], shown["recorded_by"], shown["received_on"]) == (
        "phone",
        "leader",
        answer["recorded_by"],
        today.isoformat(),
    )

    # Once for each person and partner: the link and a second call are refused.
    again = await registry.post(f"/rounds/{round_id}/answers", json=body | {"answer": "accept"})
    assert again.status_code == 409 and "already been recorded" in again.json()["detail"]
    link = await registry.post(path_of(carers.accept_url), data={"answer": "accept"})
    assert link.status_code == 409

    # By the leader's id: someone with two partners must say which.
    by_id = {"leader_id": professional["id"], "answer": "accept", "via": "letter", "received_on": today.isoformat()}
    which = await registry.post(f"/rounds/{round_id}/answers", json=by_id)
    assert which.status_code == 409 and which.json()["detail"].startswith("partner_id: ")
    named = by_id | {"partner_id": signs["id"], "given_by": "named_person", "checked_with_leader": True}
    assert (await registry.post(f"/rounds/{round_id}/answers", json=named)).status_code == 201
    events = await answers_on_broker(registry, kafka_settings, round_id, 2)
    assert (events[-1].data.via, events[-1].data.given_by, events[-1].data.checked_with_leader) == (
        "letter",
        "named_person",
        True,
    )


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"reference": "K0P-4QX1"}, "reference", "never has 0, 1 in it"),
        ({"reference": None}, "partner_id", "give leader_id or reference"),
        ({"given_by": "named_person"}, "checked_with_leader", "must be true"),
        ({"via": "pigeon"}, "via", "must be one of"),
        ({"received_on": "2999-01-01"}, "received_on", "cannot be in the future"),
    ],
)
async def test_an_answer_recorded_with_a_mistake_names_the_field(registry, change, field, words):
    body = {"reference": "K7P-4QXM", "answer": "accept", "via": "phone", "received_on": "2026-12-01"} | change
    refused = await registry.post("/rounds/any-round/answers", json=body)
    assert refused.status_code == 422
    assert any(e["field"] == field and words in e["message"] for e in refused.json()["errors"]), refused.json()


async def test_a_reference_nobody_in_the_round_has_is_not_found(registry, kafka_settings):
    round_id, *_ = await publish_two_pairs(registry)
    missing = await registry.post(
        f"/rounds/{round_id}/answers",
        json={"reference": new_reference(), "answer": "accept", "via": "phone", "received_on": "2026-12-01"},
    )
    assert missing.status_code == 404 and missing.json()["detail"].startswith("reference: nobody in round")
    assert (await registry.get(f"/rounds/{round_id}")).json()["responses"] == []


async def test_a_manager_types_the_reference_from_a_reply_slip_on_the_round_page(registry, kafka_settings):
    import httpx

    round_id, professional, signs, _carer, outcomes = await paired_outcomes(registry, kafka_settings)
    (signs_question,) = outcomes[signs["id"]].data.partners
    app = registry._transport.app
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://registry") as browser:
        token = re.search(r'name="csrf_token" value="([^"]+)"', (await browser.get("/sign-in")).text).group(1)
        await browser.post("/sign-in", data={"csrf_token": token, "email": ADMIN[0], "password": ADMIN[1]})
        round_page = (await browser.get(f"/manage/rounds/{round_id}")).text
        assert f'href="/manage/rounds/{round_id}/answers/new"' in round_page
        form = (await browser.get(f"/manage/rounds/{round_id}/answers/new")).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        assert f"{signs['name']} ({signs['id']}), about {professional['name']}" in form, "people can be chosen by name"
        today = dt.datetime.now(ZoneInfo("Europe/London")).date()
        when = {"received-day": str(today.day), "received-month": str(today.month), "received-year": str(today.year)}

        # A carer's answer without the box ticked, and no way of answering chosen: each field says what to do.
        base = {"csrf_token": token, "reference": signs_question.reference, "answer": "accept", **when}
        bad = await browser.post(f"/manage/rounds/{round_id}/answers/new", data=base | {"given_by": "named_person"})
        assert bad.status_code == 400 and "<title>Error:" in bad.text
        assert 'href="#checked">Tick the box to confirm the person who answered checked with the leader first' in bad.text
        assert 'href="#via">Select how the answer reached you' in bad.text
        typo = await browser.post(
            f"/manage/rounds/{round_id}/answers/new",
            data=base
            | {
                "reference": signs_question.reference[:-1] + ("A" if signs_question.reference[-1] != "A" else "B"),
                "via": "letter",
            },
        )
        assert typo.status_code == 400 and 'href="#reference">This reference has a mistake in it' in typo.text

        done = await browser.post(
            f"/manage/rounds/{round_id}/answers/new", data=base | {"given_by": "named_person", "checked": "yes", "via": "letter"}
        )
        assert done.status_code == 303, done.text
        shown = (await browser.get(done.headers["location"])).text
        assert f"Recorded: {signs['name']} said yes to working with {professional['name']}" in shown

        # The same person again, chosen by name this time: refused, saying it is already recorded.
        again = await browser.post(
            f"/manage/rounds/{round_id}/answers/new",
            data={
                "csrf_token": token,
                "question": f"{signs['id']} {professional['id']}",
                "answer": "decline",
                "via": "phone",
                **when,
            },
        )
        assert again.status_code == 400 and "has already been recorded (yes, by letter)" in again.text

    (accepted,) = await answers_on_broker(registry, kafka_settings, round_id, 1)
    assert (accepted.data.leader_id, accepted.data.via, accepted.data.given_by, accepted.data.checked_with_leader) == (
        signs["id"],
        "letter",
        "named_person",
        True,
    )
    assert accepted.data.recorded_by


async def test_a_long_signed_link_sent_before_links_were_short_still_works_once(registry, kafka_settings):
    import uuid

    round_id, professional, signs, _ = await publish_two_pairs(registry)
    token = registry.signer.dumps(
        {"round": round_id, "leader": signs["id"], "partner": professional["id"], "nonce": uuid.uuid4().hex}
    )
    page = await registry.get(f"/responses/{token}", params={"answer": "accept"})
    assert page.status_code == 200 and 'value="accept" checked' in page.text
    said = await registry.post(f"/responses/{token}", data={"answer": "accept"})
    assert said.status_code == 200 and "you said yes" in said.text
    again = await registry.post(f"/responses/{token}", data={"answer": "decline"})
    assert again.status_code == 409 and "already been recorded" in again.text
    assert [(r["leader_id"], r["answer"], r["via"]) for r in (await registry.get(f"/rounds/{round_id}")).json()["responses"]] == [
        (signs["id"], "accept", "link")
    ]
