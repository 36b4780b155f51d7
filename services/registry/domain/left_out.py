"""Who was left out before: the people a new round pairs first (issue 18).

Someone was left out when, in the latest of the programme's earlier published rounds
that they were in, they came away without a partner: the round could not pair them,
or every pair they were in did not go ahead (someone said no to it, or it ended).
Their latest round decides, so someone left out once and paired well since is not
put first again, and someone paired again after a no is not either.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

Pair = tuple[str, str]


@dataclass(frozen=True)
class PastRound:
    """What happened to the people of one earlier published round."""

    pairs: Sequence[Pair]  # (lived experience id, professional id)
    unmatched: Collection[str]  # the people it could not pair
    did_not_go_ahead: Collection[frozenset[str]]  # the pairs someone said no to, or that ended

    def people(self) -> set[str]:
        return {who for pair in self.pairs for who in pair} | set(self.unmatched)

    def with_a_partner(self) -> set[str]:
        return {who for pair in self.pairs if frozenset(pair) not in self.did_not_go_ahead for who in pair}


def left_out_before(people: Iterable[str], past: Sequence[PastRound]) -> list[str]:
    """The people, in order, left out in the latest round of `past` (oldest first) they were in."""
    latest: dict[str, bool] = {}
    for earlier in past:
        partnered = earlier.with_a_partner()
        for who in earlier.people():
            latest[who] = who not in partnered
    return sorted({who for who in people if latest.get(who, False)})
