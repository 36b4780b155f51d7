"""A person decides on every pair (UK GDPR article 22: no decision about people made by a machine
alone). A big round is approved page by page on the review table, each pair recorded with who
approved it and when; the round is approved, and can be published, only once every pair is.
Pure functions: no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class ApprovalRefused(ValueError):
    """Why these pairs cannot be approved now, in words a manager can act on."""


def pairs_to_approve(status: str, approved: Mapping[int, bool], chosen: Iterable[int]) -> list[int]:
    """The pairs (by id) the manager checked that still need approving. `approved` holds every pair
    the round has now, and whether a person has approved it; a pair approved before keeps its first
    approval. Pairs that are no longer the round's (it was solved again since the page was shown)
    are refused, so nobody approves pairs they have not seen."""
    if status != "proposed":
        raise ApprovalRefused(f"This round is {status}; pairs can be approved only while the round is waiting for review.")
    wanted = sorted(set(chosen))
    if not wanted:
        raise ApprovalRefused("There are no pairs on this page to approve.")
    if any(pair_id not in approved for pair_id in wanted):
        raise ApprovalRefused(
            "The pairs have changed since this page was shown (the round was solved again). "
            "Nothing was approved: check the pairs on the page again."
        )
    return [pair_id for pair_id in wanted if not approved[pair_id]]


def still_to_approve(approved: Iterable[bool]) -> int:
    return sum(1 for done in approved if not done)


def refuse_publishing_unless_approved(approved: Iterable[bool]) -> None:
    """A round is published only when a person has approved every one of its pairs."""
    left = still_to_approve(approved)
    if left:
        pairs = "pair has" if left == 1 else "pairs have"
        raise ApprovalRefused(
            f"{left} {pairs} not been approved yet. A person must check every pair before anyone is told: "
            "approve them on the review table, page by page."
        )


def approved_words(left: int, newly: int) -> str:
    """What the manager is told after approving a page."""
    done = f"You approved {newly} {'pair' if newly == 1 else 'pairs'}."
    if left == 0:
        return f"{done} Every pair is approved. Publish the round to tell people."
    return f"{done} {left} {'pair is' if left == 1 else 'pairs are'} still to approve."
