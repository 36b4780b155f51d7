"""Publishing a round: one outcome per person, each pair's first meeting planned once for both,
and the arrangements their meetings need, on a real database and the real broker."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest

from services.registry.handlers import publishing as publishing_handlers
from services.registry.handlers.store import SqlRounds
from services.registry.sample import sample_leaders
from tests.integration.conftest import unique
from tests.integration.helpers import publish_two_pairs, published_outcomes

pytestmark = pytest.mark.integration


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
        let_down = await publishing_handlers.people_whose_partner_said_no(SqlRounds(uow), round_id)
    assert let_down == {signs["id"], professional["id"]}, "the carer said yes and nobody said no to them"
