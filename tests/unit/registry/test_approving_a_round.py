"""approve_round against an in-memory store (handlers/store.py's Rounds), without a database or broker."""

import pytest

from schemas.events import RoundStatusChanged
from services.registry.adapters.orm import PairRow, RoundRow
from services.registry.domain.commands import ApproveRound
from services.registry.domain.rounds import IllegalTransition
from services.registry.handlers.common import ERASED, Conflict, NotFound
from services.registry.handlers.review import approve_round

pytestmark = pytest.mark.unit


class InMemoryRounds:
    def __init__(self, rounds: list[RoundRow], pairs: list[PairRow]):
        self.rounds = {r.id: r for r in rounds}
        self.pairs_by_round: dict[str, list[PairRow]] = {}
        for pair in pairs:
            self.pairs_by_round.setdefault(pair.round_id, []).append(pair)
        self.published: list[tuple[str, str, object]] = []

    async def round(self, round_id):
        return self.rounds.get(round_id)

    async def pairs(self, round_id):
        return self.pairs_by_round.get(round_id, [])

    def publish(self, topic, key, event):
        self.published.append((topic.name, key, event))


def proposed(round_id="r-1", relaxations=None) -> RoundRow:
    return RoundRow(id=round_id, status="proposed", spec={}, leader_ids=["pl-1", "cl-1"], relaxations=relaxations or [])


def pair(lived="pl-1", professional="cl-1", round_id="r-1") -> PairRow:
    return PairRow(round_id=round_id, lived_experience_id=lived, professional_id=professional, score=1.0, reasons=[])


BY = ApproveRound(approved_by="Sam Jones (sam@example.org)")


async def test_approving_records_who_approved_and_tells_the_other_services():
    rounds = InMemoryRounds([proposed()], [pair()])
    row = await approve_round(rounds, "r-1", BY)
    assert (row.status, row.approved_by) == ("approved", "Sam Jones (sam@example.org)")
    [(topic, key, event)] = rounds.published
    assert (topic, key) == ("rounds.v1", "r-1")
    assert isinstance(event, RoundStatusChanged)
    assert (event.data.from_status, event.data.to_status, event.data.by) == ("proposed", "approved", BY.approved_by)


async def test_a_round_nobody_could_be_paired_in_is_not_approved():
    rounds = InMemoryRounds([proposed(relaxations=["Allow remote meetings across areas."])], [])
    with pytest.raises(Conflict, match=r"Allow remote meetings across areas\. Cancel it and launch it again"):
        await approve_round(rounds, "r-1", BY)
    assert rounds.published == [] and rounds.rounds["r-1"].status == "proposed"


async def test_a_pair_with_someone_erased_since_the_solve_is_not_approved():
    rounds = InMemoryRounds([proposed()], [pair(), pair(lived=ERASED, professional="cl-2")])
    with pytest.raises(Conflict, match="has been erased since this round was solved"):
        await approve_round(rounds, "r-1", BY)
    assert rounds.published == []


async def test_only_a_proposed_round_can_be_approved():
    waiting = RoundRow(id="r-2", status="queued", spec={}, leader_ids=[])
    with pytest.raises(IllegalTransition):
        await approve_round(InMemoryRounds([waiting], []), "r-2", BY)


async def test_an_unknown_round_is_not_found():
    with pytest.raises(NotFound, match="there is no round called r-9"):
        await approve_round(InMemoryRounds([], []), "r-9", BY)


async def test_approving_the_round_records_every_pair_not_approved_before():
    earlier = pair(professional="cl-2")
    earlier.approved_by = "Kim Page (kim@example.org)"
    rounds = InMemoryRounds([proposed()], [pair(), earlier])
    await approve_round(rounds, "r-1", BY)
    first, second = rounds.pairs_by_round["r-1"]
    assert (first.approved_by, second.approved_by) == (BY.approved_by, "Kim Page (kim@example.org)")
    assert first.approved_at is not None
