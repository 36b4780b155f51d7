"""Publishing a round: one outcome per person, each pair's first meeting planned once for both,
and the arrangements their meetings need, on a real database and the real broker."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from schemas.cohort import CohortResult, PairResult, SolveStats, UnmatchedResult, Window
from schemas.events import OutcomePublished, RoundSolved
from schemas.topics import OUTCOMES
from services.common.store import handle_once
from services.registry.event_refs import translated
from services.registry.handlers import publishing as publishing_handlers
from services.registry.handlers import rounds as round_handlers
from services.registry.sample import sample_leaders
from tests.integration.conftest import event_refs_of, unique, with_ids, with_references
from tests.kafka_reading import read_topic

pytestmark = pytest.mark.integration

TUESDAY_MORNING = [{"day": "tue", "start": "10:00", "end": "12:00"}]


async def outcomes_of(kafka_settings, round_id: str, kind: str, refs: dict[str, str]) -> dict[str, OutcomePublished]:
    """The round's outcomes of one kind on the broker, by leader (their event references read back as ids)."""
    found: dict[str, OutcomePublished] = {}
    for record in await read_topic(kafka_settings.bootstrap_servers, OUTCOMES, timeout_s=20):
        event = with_ids(OutcomePublished.model_validate_json(record.value), refs)
        if event.data.round_id == round_id and event.data.outcome == kind:
            found[event.data.leader_id] = event
    return found


def consent(given: bool) -> list[dict]:
    return [{"purpose": "sharing_details_with_partner", "given": given, "at": "2026-11-01T10:00:00Z"}]


async def publish_two_pairs(
    registry, not_paired: dict | None = None, suggestion: str | None = None
) -> tuple[str, dict, dict, dict]:
    """A round with one professional paired with two people (and `not_paired` left out, if given, with
    the matcher's `suggestion` of what would let them be paired), solved, approved and published."""
    base = {leader["role"]: leader for leader in reversed(sample_leaders())}
    common = {"availability": TUESDAY_MORNING, "meeting_modes": ["video"], "min_notice_days": 0, "unavailable_dates": []}
    professional = unique(
        {**base["clinical_leader"], **common, "capacity": 2, "access_needs": ["hearing_loop"], "consents": consent(True)}
    )
    signs = unique({**base["patient_leader"], **common, "access_needs": ["bsl_interpreter"], "consents": consent(False)})
    carer = unique({**base["carer_leader"], **common, "access_needs": [], "term_time_only": False, "min_notice_days": 21})
    for leader in (professional, signs, carer, *([not_paired] if not_paired else [])):
        answer = await registry.post("/leaders", json=leader)
        assert answer.status_code in (200, 201), answer.text
    round_id = f"r-{uuid.uuid4().hex[:6]}"
    people = [signs["id"], carer["id"], professional["id"], *([not_paired["id"]] if not_paired else [])]
    assert (await registry.post("/rounds", json={"id": round_id, "leader_ids": people})).status_code in (200, 201, 202)
    async with registry.store.engine.connect() as conn:
        request_id = (await conn.execute(text("select request_event_id from rounds where id = :id"), {"id": round_id})).scalar()
    windows = [Window.model_validate(w) for w in TUESDAY_MORNING]
    pairs = [
        PairResult(
            lived_experience_id=who,
            professional_id=professional["id"],
            score=50,
            meeting_modes=["video"],
            shared_windows=windows,
            reasons=["You are both free on Tuesday 10:00 to 12:00."],
        )
        for who in (signs["id"], carer["id"])
    ]
    solved = RoundSolved(
        producer="test",
        correlation_id=round_id,
        causation_id=request_id,
        data=CohortResult(
            round_id=round_id,
            pairs=pairs,
            stats=SolveStats(status="optimal"),
            unmatched=[
                UnmatchedResult(
                    id=not_paired["id"], reason="Nobody is free when you are.", rule="availability", suggestion=suggestion
                )
            ]
            if not_paired
            else [],
        ),
    )
    sent = with_references(solved, await event_refs_of(registry.store))  # as the matcher sends it
    await handle_once(registry.store, "test.matches", sent, translated(round_handlers.record_solution))
    await registry.post(f"/rounds/{round_id}/approve", json={"approved_by": "Test manager"})
    assert (await registry.post(f"/rounds/{round_id}/publish")).status_code == 200
    return round_id, professional, signs, carer


async def published_outcomes(registry, kafka_settings, round_id: str, kind: str, expected: int) -> dict[str, OutcomePublished]:
    outcomes: dict[str, OutcomePublished] = {}
    refs = await event_refs_of(registry.store)
    for _ in range(30):  # the relay publishes the outbox in the background
        outcomes = await outcomes_of(kafka_settings, round_id, kind, refs)
        if len(outcomes) >= expected:
            break
        await asyncio.sleep(0.5)
    return outcomes


async def test_each_pair_gets_one_first_meeting_that_suits_both_and_the_arrangements_they_need(registry, kafka_settings):
    today = dt.datetime.now(ZoneInfo("Europe/London")).date()  # the registry's date
    round_id, professional, signs, carer = await publish_two_pairs(registry)
    people = [signs["id"], carer["id"], professional["id"]]
    outcomes = await published_outcomes(registry, kafka_settings, round_id, "paired", 3)
    assert set(outcomes) == set(people)
    mine = {p.partner_id: p for p in outcomes[professional["id"]].data.partners}
    for who in (signs["id"], carer["id"]):
        (theirs,) = outcomes[who].data.partners
        assert theirs.first_meeting is not None and theirs.first_meeting == mine[who].first_meeting, (
            "both are given the same slot"
        )
        slot = theirs.first_meeting
        assert slot.date.weekday() == 1 and dt.time(10) <= slot.start < slot.end <= dt.time(12)
    # Four weeks to book the interpreter; the carer's own three weeks' notice.
    assert mine[signs["id"]].first_meeting.date >= today + dt.timedelta(days=28)
    assert mine[carer["id"]].first_meeting.date >= today + dt.timedelta(days=21)
    # One professional, two meetings: never at the same time.
    a, b = mine[signs["id"]].first_meeting, mine[carer["id"]].first_meeting
    assert a.date != b.date or a.end <= b.start or b.end <= a.start
    # Each person's own needs are arranged; a partner's only when the partner agreed to share them.
    assert outcomes[signs["id"]].data.partners[0].access_arrangements == ["bsl_interpreter", "hearing_loop"]
    assert mine[signs["id"]].access_arrangements == ["hearing_loop"]
    assert outcomes[carer["id"]].data.partners[0].access_arrangements == ["hearing_loop"]

    # Reading their access needs to plan this was written to the audit log, with who and why.
    audit = (await registry.get("/audit")).json()["items"]
    reads = [e for e in audit if e["action"] == "read access needs" and round_id in e["purpose"]]
    assert {e["leader_id"] for e in reads} == set(people)
    assert all(e["actor"] for e in reads)


async def test_cancelling_a_published_round_tells_everyone_it_will_not_go_ahead_and_stops_answers(registry, kafka_settings):
    alone = unique({**sample_leaders()[0], "availability": []})
    round_id, professional, signs, carer = await publish_two_pairs(registry, not_paired=alone)
    people = {signs["id"], carer["id"], professional["id"]}
    cancelled = await registry.post(f"/rounds/{round_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", cancelled.text
    outcomes = await published_outcomes(registry, kafka_settings, round_id, "cancelled", 3)
    assert set(outcomes) == people, "each person told about a partner hears the pair will not go ahead"
    assert alone["id"] not in outcomes, "someone not paired keeps the news they had"
    assert all(not o.data.partners for o in outcomes.values())
    assert (await registry.post(f"/rounds/{round_id}/close")).status_code == 409, "a cancelled round is finished"


async def test_only_people_whose_partner_said_no_are_told_it_is_a_new_partner(registry):
    from services.registry.adapters.orm import ResponseRow

    round_id, professional, signs, carer = await publish_two_pairs(registry)
    async with registry.store.unit_of_work() as uow:
        uow.session.add(
            ResponseRow(
                nonce=uuid.uuid4().hex, round_id=round_id, leader_id=signs["id"], partner_id=professional["id"], answer="decline"
            )
        )
        uow.session.add(
            ResponseRow(
                nonce=uuid.uuid4().hex, round_id=round_id, leader_id=carer["id"], partner_id=professional["id"], answer="accept"
            )
        )
        await uow.commit()
    async with registry.store.unit_of_work() as uow:
        let_down = await publishing_handlers.people_whose_partner_said_no(uow, round_id)
    assert let_down == {signs["id"], professional["id"]}, "the carer said yes and nobody said no to them"
