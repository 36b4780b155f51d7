"""Event references: every person field of the registry's events leaves with a reference, and comes back as an id."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from schemas.cohort import CohortResult, PairResult, SolveStats, UnmatchedResult
from schemas.events import (
    LeaderKey,
    LeaderKeyShared,
    Outcome,
    OutcomePublished,
    Partner,
    RoundRequest,
    RoundRequested,
    RoundSolved,
)
from schemas.topics import LEADER_KEYS, LEADER_PROFILES, OUTCOMES, ROUNDS
from services.registry import event_refs

pytestmark = pytest.mark.unit

REFS = {"pl-018": "p-0123456789abcdef0123", "pp-002": "p-fedcba9876543210fedc"}


class NoRows:
    def all(self) -> list:
        return []


class EmptyDatabase:
    """A session that knows no leaders: only what the transaction remembered is known."""

    def __init__(self) -> None:
        self.info: dict = {}
        self.queries = 0

    async def execute(self, _statement: object) -> NoRows:
        self.queries += 1
        return NoRows()


class Transaction:
    def __init__(self) -> None:
        self.session = EmptyDatabase()
        for leader_id, ref in REFS.items():
            event_refs.remember(self, leader_id, ref)  # type: ignore[arg-type]


def spec() -> dict:
    return {"id": "r-1", "launch_date": "2027-03-01"}


def test_references_are_random_and_never_look_like_part_of_an_id():
    made = {event_refs.new_ref() for _ in range(100)}
    assert len(made) == 100 and all(event_refs.is_ref(r) and len(r) == 22 for r in made)
    assert event_refs.REF.findall("search for record number p-0123456789abcdef0123.") == ["p-0123456789abcdef0123"]
    assert event_refs.REF.findall("x-p-0123456789abcdef0123 p-0123456789abcdef01234 p-0123456789abcdef0123.x") == []


def test_every_person_field_is_renamed_and_nothing_else():
    data = {
        "round": {"id": "r-1"},
        "leader_versions": {"pl-018": 3, "pp-002": 1},
        "locked_pairs": [["pl-018", "pp-002"]],
        "forbidden_pairs": [],
        "left_out_before": ["pl-018"],
        "leader_ids": ["pl-018", "pp-002"],
        "profile": {"id": "pl-018", "do_not_pair_with": ["pp-002"], "left_out_before": True, "organisation": "pl-018"},
        "partners": [{"partner_id": "pp-002", "reasons": ["pl-018"]}],
    }
    assert event_refs.people_in(data) == {"pl-018", "pp-002"}
    out = event_refs.renamed(data, lambda person: REFS[person])
    assert out["round"] == {"id": "r-1"}, "a round's id is not a person"
    assert out["leader_versions"] == {REFS["pl-018"]: 3, REFS["pp-002"]: 1}
    assert out["locked_pairs"] == [[REFS["pl-018"], REFS["pp-002"]]]
    assert out["left_out_before"] == [REFS["pl-018"]]
    assert out["leader_ids"] == [REFS["pl-018"], REFS["pp-002"]], "everyone told when a round closes"
    assert out["profile"]["id"] == REFS["pl-018"] and out["profile"]["do_not_pair_with"] == [REFS["pp-002"]]
    assert out["profile"]["left_out_before"] is True and out["profile"]["organisation"] == "pl-018"
    assert out["partners"] == [{"partner_id": REFS["pp-002"], "reasons": ["pl-018"]}], "free text is the registry's own"
    # The body is written in the order of its keys: renaming leaves each where it was, at every level.
    assert list(out) == list(data) and list(out["profile"]) == list(data["profile"])
    assert list(out["partners"][0]) == list(data["partners"][0])


async def test_events_leave_with_references_in_keys_fields_and_correlation():
    uow = Transaction()
    key = LeaderKeyShared(producer="registry", data=LeaderKey(leader_id="pl-018", wrapped_key="w"), correlation_id="pl-018")
    outcome = OutcomePublished(
        producer="registry",
        correlation_id="r-1",
        data=Outcome(
            round_id="r-1",
            leader_id="pl-018",
            outcome="paired",
            partners=[Partner(partner_id="pp-002", accept_url="https://x/a/1", decline_url="https://x/d/1")],
        ),
    )
    request = RoundRequested(
        producer="registry",
        correlation_id="r-1",
        data=RoundRequest.model_validate(
            {"round": spec(), "leader_versions": {"pl-018": 1, "pp-002": 2}, "forbidden_pairs": [["pl-018", "pp-002"]]}
        ),
    )
    waiting = [
        (LEADER_KEYS, "pl-018", key),
        (OUTCOMES, "pl-018", outcome),
        (ROUNDS, "r-1", request),
        (LEADER_PROFILES, "pl-018", "t"),
    ]
    out = await event_refs.outward(uow, waiting)  # type: ignore[arg-type]
    assert uow.session.queries == 0, "everyone was known to the transaction"
    assert [(row.topic, row.key, row.correlation_id) for row in out] == [
        (LEADER_KEYS, REFS["pl-018"], REFS["pl-018"]),
        (OUTCOMES, REFS["pl-018"], "r-1"),
        (ROUNDS, "r-1", "r-1"),
        (LEADER_PROFILES, REFS["pl-018"], REFS["pl-018"]),
    ]
    # Each body read as a consumer reads it: the same event, renamed.
    sent_key = LeaderKeyShared.model_validate_json(out[0].value())
    sent_outcome = OutcomePublished.model_validate_json(out[1].value())
    sent_request = RoundRequested.model_validate_json(out[2].value())
    assert sent_key.data.leader_id == REFS["pl-018"] and sent_key.correlation_id == REFS["pl-018"]
    assert (sent_key.event_id, out[0].event_id, out[0].event_type) == (key.event_id, str(key.event_id), "LeaderKeyShared")
    assert sent_outcome.data.leader_id == REFS["pl-018"] and sent_outcome.data.partners[0].partner_id == REFS["pp-002"]
    assert sent_outcome.correlation_id == "r-1" and sent_outcome.data == outcome.data.model_copy(
        update={
            "leader_id": REFS["pl-018"],
            "partners": [outcome.data.partners[0].model_copy(update={"partner_id": REFS["pp-002"]})],
        }
    )
    assert set(sent_request.data.leader_versions) == set(REFS.values())
    assert sent_request.data.forbidden_pairs == [(REFS["pl-018"], REFS["pp-002"])]
    assert (out[3].event_id, out[3].event_type, out[3].value()) == ("t", "Tombstone", None)
    for row in out:
        text = row.key + row.correlation_id + (row.value() or b"").decode()
        assert "pl-018" not in text and "pp-002" not in text


async def test_an_id_with_no_leader_behind_it_never_leaves_either():
    uow = Transaction()
    outcome = OutcomePublished(
        producer="registry",
        correlation_id="r-1",
        data=Outcome(
            round_id="r-1",
            leader_id="pl-018",
            outcome="paired",
            partners=[Partner(partner_id="(erased)", accept_url="a", decline_url="d")],
        ),
    )
    [row] = await event_refs.outward(uow, [(OUTCOMES, "pl-018", outcome)])  # type: ignore[arg-type]
    partner = OutcomePublished.model_validate_json(row.value()).data.partners[0].partner_id
    assert event_refs.is_ref(partner) and partner not in REFS.values()
    assert uow.session.queries == 1, "looked for, not found"


async def test_the_kept_key_of_an_old_record_is_sent_as_it_is():
    uow = Transaction()
    waiting = [(LEADER_KEYS, "pl-018", event_refs.KeptKey("t"))]
    assert await event_refs.outward(uow, waiting) == [  # type: ignore[arg-type]
        event_refs.Outgoing(LEADER_KEYS, "pl-018", "t", "Tombstone", "pl-018", None)
    ]


async def test_events_read_back_have_registry_ids_everywhere_even_in_words():
    uow = Transaction()
    solved = RoundSolved(
        producer="matcher",
        correlation_id="r-1",
        data=CohortResult(
            round_id="r-1",
            pairs=[
                PairResult(
                    lived_experience_id=REFS["pl-018"],
                    professional_id=REFS["pp-002"],
                    score=80,
                    meeting_modes=["video"],
                    shared_windows=[],
                    reasons=[],
                )
            ],
            unmatched=[UnmatchedResult(id="p-99999999999999999999", reason="erased", rule="gone")],
            stats=SolveStats(status="feasible"),
            relaxations=[f"Unlock {REFS['pl-018']} with {REFS['pp-002']}"],
        ),
    )
    back = await event_refs.inward(uow, solved)  # type: ignore[arg-type]
    assert (back.data.pairs[0].lived_experience_id, back.data.pairs[0].professional_id) == ("pl-018", "pp-002")
    assert back.data.relaxations == ["Unlock pl-018 with pp-002"]
    assert back.data.unmatched[0].id == "p-99999999999999999999", "someone erased stays no one"
    assert back.event_id == solved.event_id and back.occurred_at == solved.occurred_at


async def test_an_event_without_references_is_left_alone():
    uow = Transaction()
    event = OutcomePublished(
        producer="registry",
        correlation_id="r-1",
        data=Outcome(round_id="r-1", leader_id="nobody", outcome="unmatched", respond_by=dt.date(2027, 1, 1)),
        event_id=uuid.uuid4(),
    )
    assert await event_refs.inward(uow, event) is event  # type: ignore[arg-type]


async def test_a_registry_id_that_looks_like_a_reference_is_still_renamed():
    uow = Transaction()
    typed = "p-aaaaaaaaaaaaaaaaaaaa"  # a manager may type anything the id pattern allows
    event_refs.remember(uow, typed, "p-bbbbbbbbbbbbbbbbbbbb")  # type: ignore[arg-type]
    key = LeaderKeyShared(producer="registry", data=LeaderKey(leader_id=typed, wrapped_key="w"), correlation_id=typed)
    [row] = await event_refs.outward(uow, [(LEADER_KEYS, typed, key)])  # type: ignore[arg-type]
    assert row.key == "p-bbbbbbbbbbbbbbbbbbbb" and typed not in (row.value() or b"").decode()
