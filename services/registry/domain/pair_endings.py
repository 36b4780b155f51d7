"""Ending a pair that was going ahead (issue 18): who may end it, why, and what it means afterwards.

Either person can end their pair (from their link, or by telling the programme team, who record it),
and so can a manager. The reason is one of a short list; the words a person adds are for the
programme team only. An ended pair is never proposed again, and both people can be paired again:
in the follow-up round (pair again) and in the programme's next round, where they count as left out.
Pure: no input or output.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

EndReason = Literal["not_working", "circumstances_changed", "other"]
# What each reason says, on the person's page and the managers' pages.
REASONS: dict[str, str] = {
    "not_working": "It is not working for us",
    "circumstances_changed": "My circumstances changed",
    "other": "Other",
}
# How a request reached the programme team, when it did not come from the person's link.
VIA_WORDS = {
    "phone": "on the phone",
    "letter": "by letter",
    "text": "by text message",
    "in_person": "in person",
    "email": "by email",
}


class CannotEnd(ValueError):
    """The pair cannot be ended; the message says why, in plain words."""


@dataclass(frozen=True)
class PairState:
    """What the registry knows about one pair when someone asks to end it."""

    round_status: str
    is_a_pair: bool
    said_no: bool  # either person said no: the pair is not going ahead already
    ended: bool


def check_can_end(state: PairState) -> None:
    """Only a pair of a published round that is still going ahead can be ended, and only once."""
    if state.round_status != "published":
        raise CannotEnd(
            f"This pairing is {state.round_status}, so its pairs can no longer be ended here. Please contact the programme team."
        )
    if not state.is_a_pair:
        raise CannotEnd("These two people are not a pair in this round. Check the names and try again.")
    if state.said_no:
        raise CannotEnd("This pair is not going ahead already, because one of them said no. There is nothing to end.")
    if state.ended:
        raise CannotEnd("This pair has already been ended. Both people will be offered a new partner.")


def did_not_go_ahead(said_no: Collection[frozenset[str]], ended: Collection[frozenset[str]]) -> set[frozenset[str]]:
    """The pairs of a round that did not go ahead: someone said no, or the pair ended later."""
    return set(said_no) | set(ended)
