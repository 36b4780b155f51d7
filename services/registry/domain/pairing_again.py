"""Pairing people again after a published round: who keeps their partner, who is paired again,
and which pairs are never proposed again.

A pair is (lived experience id, professional id). A pair is broken when either person said no
to it or it was ended later (`said_no` holds both), or either has since been paused or has left;
every other pair is kept, locked, so its people keep their partner and their place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Pair = tuple[str, str]


class NobodyToPairAgain(ValueError):
    """There is nobody to pair again; the message says why, in plain words."""


@dataclass(frozen=True)
class PairingAgain:
    kept: list[Pair]  # locked in the follow-up round
    never: list[Pair]  # declined here, or ruled out in the round before: never proposed
    people: list[str]  # everyone in the follow-up round: the kept pairs' people and those paired again


def plan_pairing_again(
    pairs: Sequence[Pair],
    said_no: set[frozenset[str]],
    unmatched: set[str],
    active: set[str],
    ruled_out: Iterable[Sequence[str]] = (),
) -> PairingAgain:
    """The follow-up round for the people whose partner said no or left, and those not paired before.

    `said_no`: the pairs someone said no to; `unmatched`: the people the round could not pair;
    `active`: who is still active; `ruled_out`: the pairs the round before never proposed.
    """
    declined = [pair for pair in pairs if frozenset(pair) in said_no]
    kept = [pair for pair in pairs if frozenset(pair) not in said_no and set(pair) <= active]
    broken = [pair for pair in pairs if pair not in kept]
    if not broken:
        raise NobodyToPairAgain(
            "Nobody in this round has said no to their partner, ended their pair or left, so there is nobody to pair again."
        )
    in_kept = {who for pair in kept for who in pair}
    affected = (({who for pair in broken for who in pair} | unmatched) & active) - in_kept
    if not affected:
        raise NobodyToPairAgain("Everyone whose partner said no or left has since been paused or has left the programme.")
    never = sorted(set(declined) | {(p[0], p[1]) for p in ruled_out})
    return PairingAgain(kept=kept, never=never, people=sorted(affected | in_kept))


def follow_up_id(round_id: str, earlier_follow_ups: int) -> str:
    return f"{round_id[:90]}-again-{earlier_follow_ups + 1}"


def follow_up_name(name: str, earlier_follow_ups: int) -> str:
    """The round's name with "pairing again", numbered from the second follow-up; at most 200 characters."""
    number = f" ({earlier_follow_ups + 1})" if earlier_follow_ups else ""
    return f"{name}: pairing again{number}"[-200:]
