"""publish_round against an in-memory store (handlers/store.py's Publications), without a database
or broker: who is told what, each pair's first meeting, the answer links, and what stops a round."""

from __future__ import annotations

import datetime as dt

import pytest
from itsdangerous import URLSafeTimedSerializer

from schemas.events import OutcomePublished, RoundPublished, RoundStatusChanged
from services.common.crypto import Cipher, new_key
from services.registry.adapters.orm import AnswerCodeRow, AuditRow, LeaderRow, PairRow, RoundRow, UnmatchedRow
from services.registry.domain.programmes import terms_of
from services.registry.domain.rounds import IllegalTransition
from services.registry.handlers.common import ERASED, Conflict, NotFound
from services.registry.handlers.publishing import Publishing, publish_round

pytestmark = pytest.mark.unit

CIPHER = Cipher(new_key())
PUBLISHING = Publishing(public_url="https://pairing.example.org", signer=URLSafeTimedSerializer("secret"), cipher=CIPHER)
TODAY = dt.date(2026, 12, 1)  # a Tuesday
TUESDAY_MORNING = [{"day": "tue", "start": "10:00", "end": "12:00"}]
BY = "Sam Jones (sam@example.org)"


class InMemoryPublications:
    """The rounds, pairs, leaders, answers and people not paired a publication reads, and what it adds and sends."""

    def __init__(self, rounds, pairs, leaders, said_no=(), unmatched=()):
        self.rounds = {r.id: r for r in rounds}
        self.pair_rows = list(pairs)
        self.leader_rows = {row.id: row for row in leaders}
        self.said_no_rows = list(said_no)  # (round, leader, partner)
        self.unmatched_rows = list(unmatched)
        self.references: dict[str, set[str]] = {}
        self.added: list[object] = []
        self.published: list[tuple[str, str, object]] = []

    async def round(self, round_id):
        return self.rounds.get(round_id)

    async def pairs(self, round_id):
        return [p for p in self.pair_rows if p.round_id == round_id]

    def publish(self, topic, key, event):
        self.published.append((topic.name, key, event))

    async def leaders(self, leader_ids):
        return [self.leader_rows[i] for i in leader_ids if i in self.leader_rows]

    async def programme_terms(self, cohort_id, defaults):
        assert cohort_id is None, "these rounds are for everyone, under the registry's own programme"
        return terms_of(None, defaults)

    async def said_no(self, round_id):
        return [(leader, partner) for r, leader, partner in self.said_no_rows if r == round_id]

    async def unmatched(self, round_id):
        return [u for u in self.unmatched_rows if u.round_id == round_id]

    def taken_references(self, round_id):
        return self.references.setdefault(round_id, set())

    def add(self, row):
        self.added.append(row)

    async def audit_many(self, actor, action, leader_ids, purpose):
        self.added += [AuditRow(actor=actor, action=action, leader_id=who, purpose=purpose) for who in leader_ids]

    def outcomes(self) -> dict[str, OutcomePublished]:
        return {key: event for topic, key, event in self.published if topic == "outcomes.v1"}


def leader(leader_id: str, role: str, access_needs=(), shares: bool = True) -> LeaderRow:
    consents = [{"purpose": "sharing_details_with_partner", "given": shares, "at": "2026-11-01T10:00:00Z"}]
    sealed = {"name": leader_id.title(), "email": f"{leader_id}@example.org", "contact_method": "email"}
    return LeaderRow(
        id=leader_id,
        role=role,
        system="QHM",
        status="active",
        version=1,
        public={"min_notice_days": 0, "consents": consents},
        sealed=CIPHER.seal({**sealed, "access_needs": list(access_needs)}),
    )


def approved(round_id="r-1", leader_ids=("pl-1", "cr-1", "cl-1", "pl-2"), **more) -> RoundRow:
    spec = {"id": round_id, "launch_date": "2026-12-01"}
    return RoundRow(id=round_id, status="approved", spec=spec, leader_ids=list(leader_ids), **{"locked_pairs": [], **more})


def pair(lived: str, professional: str, round_id="r-1", pair_id=1, approved_by: str | None = BY) -> PairRow:
    return PairRow(
        id=pair_id,
        round_id=round_id,
        lived_experience_id=lived,
        professional_id=professional,
        score=50,
        meeting_modes=["video"],
        shared_windows=TUESDAY_MORNING,
        reasons=["You are both free on Tuesday 10:00 to 12:00."],
        approved_by=approved_by,
    )


def a_round(**pairs_changed) -> InMemoryPublications:
    """One professional paired with a patient leader who uses a hearing loop and a carer who keeps their needs
    to themselves; a second patient leader not paired."""
    leaders = [
        leader("pl-1", "patient_leader", ["hearing_loop"]),
        leader("cr-1", "carer_leader", ["bsl_interpreter"], shares=False),
        leader("cl-1", "clinical_leader"),
        leader("pl-2", "patient_leader"),
    ]
    pairs = [pair("pl-1", "cl-1", pair_id=1, **pairs_changed), pair("cr-1", "cl-1", pair_id=2)]
    unmatched = [UnmatchedRow(id=1, round_id="r-1", leader_id="pl-2", reason="Nobody is free when you are.")]
    return InMemoryPublications([approved()], pairs, leaders, unmatched=unmatched)


async def test_everyone_hears_once_each_pair_gets_a_first_meeting_and_its_arrangements():
    rounds = a_round()
    row = await publish_round(rounds, "r-1", PUBLISHING, TODAY, BY)
    assert row.status == "published"
    kinds = [type(event).__name__ for _, _, event in rounds.published]
    assert kinds[:2] == [RoundStatusChanged.__name__, RoundPublished.__name__]
    published = rounds.published[1][2]
    outcomes = rounds.outcomes()
    assert sorted(outcomes) == ["cl-1", "cr-1", "pl-1", "pl-2"] and len(kinds) == 2 + 4
    assert all(o.causation_id == str(published.event_id) for o in outcomes.values())

    professional = outcomes["cl-1"].data
    assert [p.partner_id for p in professional.partners] == ["pl-1", "cr-1"], "in the order of the pairs"
    # Their own needs, and a partner's only when that partner agreed to share them.
    assert [p.access_arrangements for p in professional.partners] == [["hearing_loop"], []]
    assert outcomes["cr-1"].data.partners[0].access_arrangements == ["bsl_interpreter"]
    assert (
        outcomes["pl-2"].data.outcome == "unmatched" and outcomes["pl-2"].data.unmatched_reason == "Nobody is free when you are."
    )

    meeting = rounds.pair_rows[0].first_meeting
    assert meeting is not None and dt.date.fromisoformat(meeting["date"]).weekday() == 1, "a Tuesday, when both are free"
    assert outcomes["pl-1"].data.partners[0].first_meeting.date.isoformat() == meeting["date"]
    assert outcomes["pl-1"].data.respond_by > TODAY

    codes = [r for r in rounds.added if isinstance(r, AnswerCodeRow)]
    assert len(codes) == 2 * 4, "a yes and a no link for each person about each partner"
    assert len({c.reference for c in codes}) == 4, "one reference per question, none used twice"
    assert professional.partners[0].accept_url.startswith("https://pairing.example.org/a/")
    audits = [r for r in rounds.added if isinstance(r, AuditRow)]
    assert sorted(a.leader_id for a in audits) == ["cl-1", "cr-1", "pl-1"] and {a.actor for a in audits} == {BY}


async def test_a_pair_nobody_has_approved_stops_the_round():
    rounds = a_round(approved_by=None)
    with pytest.raises(Conflict, match="1 pair has not been approved yet"):
        await publish_round(rounds, "r-1", PUBLISHING, TODAY, BY)
    assert rounds.outcomes() == {} and not [r for r in rounds.added if isinstance(r, AnswerCodeRow)]


async def test_a_pair_with_someone_erased_since_the_solve_stops_the_round():
    rounds = a_round()
    rounds.pair_rows.append(pair(ERASED, "cl-1", pair_id=3))
    with pytest.raises(Conflict, match="has been erased since this round was solved"):
        await publish_round(rounds, "r-1", PUBLISHING, TODAY, BY)
    assert rounds.outcomes() == {}


async def test_only_an_approved_round_is_published_and_an_unknown_one_is_not_found():
    rounds = a_round()
    rounds.rounds["r-1"].status = "proposed"
    with pytest.raises(IllegalTransition, match="proposed"):
        await publish_round(rounds, "r-1", PUBLISHING, TODAY, BY)
    with pytest.raises(NotFound, match="there is no round called r-9"):
        await publish_round(rounds, "r-9", PUBLISHING, TODAY, BY)


async def test_a_follow_up_round_tells_only_the_people_with_a_new_partner_that_they_are_paired_again():
    rounds = a_round()
    # In the round before, cr-1 said no to cl-2; pl-1 and cl-1 were paired then and are carried over.
    follow_up = approved("r-2", ("pl-1", "cl-1", "cr-1", "cl-2"), parent_round_id="r-1", locked_pairs=[["pl-1", "cl-1"]])
    rounds.rounds["r-2"] = follow_up
    rounds.leader_rows["cl-2"] = leader("cl-2", "clinical_leader")
    rounds.said_no_rows.append(("r-1", "cr-1", "cl-2"))
    rounds.pair_rows += [pair("pl-1", "cl-1", "r-2", pair_id=4), pair("cr-1", "cl-1", "r-2", pair_id=5)]
    await publish_round(rounds, "r-2", PUBLISHING, TODAY, BY)
    told = {key: event.data for topic, key, event in rounds.published if topic == "outcomes.v1"}
    assert sorted(told) == ["cl-1", "cr-1"], "nobody hears again about the pair carried over"
    assert [p.partner_id for p in told["cl-1"].partners] == ["cr-1"]
    assert (told["cr-1"].pairing_again, told["cl-1"].pairing_again) == (True, False)
