"""The matcher's answers in a form that compares across wording changes, for the equality test
(tests/unit/matcher/test_matcher_equality.py) and the benchmark (tests/bench/bench_matcher.py).

Issue 16 changed two things that are not the answers themselves: distances are written in miles
instead of kilometres, and each person not paired may carry a suggestion of the change that would
let them be paired. So the words for a distance are left out, and so is the suggestion; every
pair, score, time, mode, reason and rule is compared as it was."""

from __future__ import annotations

import re
from typing import Any

# "(about 15 km apart)", "(less than 1 mile apart)", "travelling up to 25 km", "travelling up to about 16 miles"
_DISTANCES = (
    re.compile(r" \((about \d+ (km|miles?)|less than 1 (km|mile)) apart\)"),
    re.compile(r"travelling up to (about |less than )?[\d.]+ (km|miles?)"),
)


def without_distances(text: str) -> str:
    text = _DISTANCES[0].sub("", text)
    return _DISTANCES[1].sub("travelling up to (a distance)", text)


def comparable(result: Any) -> dict[str, list[dict[str, Any]]]:
    """The pairs and the people not paired, as JSON, with distances' words and suggestions left out."""
    pairs = [p.model_dump(mode="json", by_alias=True) for p in result.pairs]
    unmatched = [u.model_dump(mode="json", by_alias=True, exclude={"suggestion"}) for u in result.unmatched]
    return {"pairs": comparable_answers(pairs, "reasons"), "unmatched": comparable_answers(unmatched, "reason")}


def comparable_answers(items: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Answers already as JSON (a stored fixture, say), with distances' words left out of `key`."""
    out = []
    for item in items:
        words = item[key]
        item = {k: v for k, v in item.items() if k != "suggestion"}
        item[key] = [without_distances(w) for w in words] if isinstance(words, list) else without_distances(words)
        out.append(item)
    return out


# ---- today's answers, recorded before the matcher was sped up further (issue 17, 2026-12-06) ----------------
#
# Unlike comparable() above, these digests keep everything the solver answers: every pair, every
# person not paired with their reason and suggestion, and the objective, bounds, status and gap. The
# method text and counts (how many flow solves, say) are left out: those may change with the speed-up.


def full_answers(result: Any) -> dict[str, Any]:
    """Everything the solver answers (but how it got there), as JSON."""
    stats = result.stats
    return {
        "pairs": [p.model_dump(mode="json", by_alias=True) for p in result.pairs],
        "unmatched": [u.model_dump(mode="json", by_alias=True) for u in result.unmatched],
        "relaxations": list(result.relaxations),
        "status": stats.status,
        "objective": stats.objective,
        "best_bound": stats.best_bound,
        "gap": stats.gap,
    }


def full_digest(result: Any) -> str:
    import hashlib
    import json

    return hashlib.sha256(json.dumps(full_answers(result), sort_keys=True).encode()).hexdigest()
