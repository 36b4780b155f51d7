"""The round lifecycle: which changes are allowed, in plain words when not."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class RoundStatus(StrEnum):
    draft = "draft"
    queued = "queued"
    solving = "solving"
    proposed = "proposed"
    approved = "approved"
    published = "published"
    closed = "closed"
    cancelled = "cancelled"
    failed = "failed"


S = RoundStatus
ALLOWED: dict[RoundStatus, frozenset[RoundStatus]] = {
    S.draft: frozenset({S.queued, S.cancelled}),
    S.queued: frozenset({S.solving, S.proposed, S.failed, S.cancelled}),
    S.solving: frozenset({S.proposed, S.failed, S.cancelled}),
    # A proposed round can be solved again after locking or forbidding pairs.
    S.proposed: frozenset({S.approved, S.queued, S.cancelled}),
    # Approval is not taken back: a late answer from the matcher must not undo a person's check.
    S.approved: frozenset({S.published, S.cancelled}),
    # Closing a published round stops its answer links; its pairs still count as earlier pairs.
    # Cancelling it (the programme is stopped or put off) tells everyone in it that it will not go ahead.
    S.published: frozenset({S.closed, S.cancelled}),
    S.closed: frozenset(),
    S.cancelled: frozenset(),
    S.failed: frozenset({S.queued, S.cancelled}),
}

ACTION_NAMES: dict[RoundStatus, str] = {
    S.draft: "put back into draft",
    S.queued: "sent to the matcher",
    S.solving: "solved",
    S.proposed: "given proposed pairs",
    S.approved: "approved",
    S.published: "published",
    S.closed: "closed",
    S.cancelled: "cancelled",
    S.failed: "marked as failed",
}


class IllegalTransition(Exception):
    def __init__(self, current: RoundStatus, target: RoundStatus):
        self.current, self.target = current, target
        allowed = ", ".join(sorted(s.value for s in ALLOWED[current])) or "nothing: it is finished"
        super().__init__(
            f"This round is {current.value}, so it cannot be {ACTION_NAMES[target]}. "
            f"From {current.value} it can go to: {allowed}."
        )


def transition(current: RoundStatus | str, target: RoundStatus) -> RoundStatus:
    current = RoundStatus(current)
    if target not in ALLOWED[current]:
        raise IllegalTransition(current, target)
    return target


def progress_words(progress: dict[str, Any] | None) -> str:
    """The matcher's latest report on a round it is solving, in plain English."""
    if not progress:
        return ""
    stage = progress["stage"]
    said = [f"{stage[:1].upper()}{stage[1:]}."]
    found = progress.get("objective") or {}
    if "paired_people" in found:
        first = ""
        if "priority_paired" in found:
            first = f", giving {int(found['priority_paired']):,} people left out before a partner"
        said.append(
            f"Best so far: {int(found['paired_people']):,} pairs{first}, "
            f"with a total fit score of {int(found.get('total_fit', 0)):,}."
        )
    elif "worst_pair_fit" in found:
        said.append(f"The lowest pair score so far is {int(found['worst_pair_fit'])} out of 100.")
    gap = progress.get("gap")
    if gap is not None:
        said.append("Nothing better is possible." if gap == 0 else f"The best possible is at most {gap:.2%} better.")
    seconds = round(progress.get("elapsed_seconds", 0))
    said.append(f"{seconds} {'second' if seconds == 1 else 'seconds'} so far.")
    return " ".join(said)
