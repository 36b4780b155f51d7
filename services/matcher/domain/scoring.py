"""Fit score of an allowed pair: a whole number from 0 (poor fit) to 100 (best fit).

The score is the weighted mean of four parts, each between 0 and 1:

- topics: shared topics over all topics the two named (Jaccard); the pair works on a
  shared challenge, so this counts most.
- travel: when they can meet in person, 1 at 0 km falling to 0 at the nearer of their
  two travel limits; when they can only meet by video or phone, 0.5 (no journey, but
  no chance to meet face to face either).
- experience: 1 when one of them is new and the other has some or much experience
  (someone to learn from), 0 when both are new, 0.5 when both have experience.
- organisation: 1 when both organisations are known and differ, 0 when they are the
  same, 0.5 when either is unknown. Pairs across organisations keep the partnership
  one of equals: no line management, no clinician from the team that treats the
  patient, and fresh eyes on the challenge.

Continuity with earlier rounds is not scored: previous pairs are never repeated.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from schemas.cohort import MatchingProfile
from services.matcher.domain import kernels
from services.matcher.domain.rules import EARTH_RADIUS_KM, IN_PERSON, Candidates, distance_km

EXPERIENCE_LEVELS = ("new", "some", "experienced")
_BALANCE = np.array([[0.0, 1.0, 1.0], [1.0, 0.5, 0.5], [1.0, 0.5, 0.5]])


@dataclass(frozen=True)
class Weights:
    """How much each part counts; only the ratios matter."""

    topics: float = 4.0
    travel: float = 2.0
    experience: float = 2.0
    organisation: float = 1.0

    def __post_init__(self) -> None:
        values = [getattr(self, f.name) for f in fields(self)]
        if min(values) < 0 or sum(values) <= 0:
            raise ValueError("weights must be 0 or more, and at least one above 0")


def topic_key(topic: str) -> str:
    return topic.strip().lower()


def _topic_bits(people: tuple[MatchingProfile, ...], vocabulary: dict[str, int], n_topics: int) -> np.ndarray:
    """Each person's topics as a row of 64-bit words, for popcounts. vocabulary: each topic as written
    -> the number of its key (topic_key), from 0 to n_topics - 1."""
    bits = np.zeros((len(people), max(1, -(-n_topics // 64))), dtype=np.uint64)
    at = [(i, vocabulary[topic]) for i, person in enumerate(people) for topic in person.topics]
    if at:
        rows, topics = np.array(at, dtype=np.int64).T
        np.bitwise_or.at(bits, (rows, topics // 64), np.left_shift(np.uint64(1), (topics % 64).astype(np.uint64)))
    return bits


class FitScorer:
    """Scores pairs of one cohort; the per-person features are built once."""

    _CHUNK = 1 << 21  # pairs per step, to bound the temporary arrays

    def __init__(self, cands: Candidates, weights: Weights) -> None:
        self.cands, self.weights = cands, weights
        lived, profs = cands.lived.people, cands.professionals.people
        # Topics as people wrote them, each keyed once: a national round names each a few thousand times.
        written = {t for p in lived + profs for t in p.topics}
        keys = {t: topic_key(t) for t in written}
        number = {key: i for i, key in enumerate(sorted(set(keys.values())))}
        vocabulary = {t: number[key] for t, key in keys.items()}
        self.topics_l, self.topics_p = _topic_bits(lived, vocabulary, len(number)), _topic_bits(profs, vocabulary, len(number))
        self.travel_l = np.array([p.max_travel_km or 0.0 for p in lived])
        self.travel_p = np.array([p.max_travel_km or 0.0 for p in profs])
        self.level_l = np.array([EXPERIENCE_LEVELS.index(p.experience) for p in lived], dtype=np.int8)
        self.level_p = np.array([EXPERIENCE_LEVELS.index(p.experience) for p in profs], dtype=np.int8)
        orgs = {o: i for i, o in enumerate(sorted({p.organisation for p in lived + profs if p.organisation}))}
        self.org_l = np.array([orgs.get(p.organisation or "", -1) for p in lived], dtype=np.int32)
        self.org_p = np.array([orgs.get(p.organisation or "", -1) for p in profs], dtype=np.int32)

    def __call__(self, li: np.ndarray, pj: np.ndarray, modes: np.ndarray) -> np.ndarray:
        """Scores (int16) of the pairs (lived li[k], professional pj[k]) with usable modes[k]."""
        if not len(li):
            return np.zeros(0, dtype=np.int16)
        w = self.weights
        # floats always, so one compiled version serves every round (ints would compile another)
        weights = tuple(
            float(x)
            for x in (w.topics, w.travel, w.experience, w.organisation, w.topics + w.travel + w.experience + w.organisation)
        )
        lived = (self.topics_l, self.cands.lived.xyz, self.travel_l, self.level_l, self.org_l)
        profs = (self.topics_p, self.cands.professionals.xyz, self.travel_p, self.level_p, self.org_p)
        return kernels.fit_scores(li, pj, modes, lived, profs, _BALANCE, weights, EARTH_RADIUS_KM)

    def reference(self, li: np.ndarray, pj: np.ndarray, modes: np.ndarray) -> np.ndarray:
        """The same scores in plain numpy: the definition the compiled loop must match."""
        parts = [
            self._score(li[s : s + self._CHUNK], pj[s : s + self._CHUNK], modes[s : s + self._CHUNK])
            for s in range(0, len(li), self._CHUNK)
        ]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)

    def _score(self, li: np.ndarray, pj: np.ndarray, modes: np.ndarray) -> np.ndarray:
        tl, tp = self.topics_l[li], self.topics_p[pj]
        shared = np.bitwise_count(tl & tp).sum(axis=1)
        either = np.bitwise_count(tl | tp).sum(axis=1)
        topics = np.divide(shared, either, out=np.zeros(len(li)), where=either > 0)

        travel = np.full(len(li), 0.5)
        near = np.flatnonzero(modes & IN_PERSON)
        if len(near):
            limit = np.minimum(self.travel_l[li[near]], self.travel_p[pj[near]])
            km = distance_km(self.cands.lived, self.cands.professionals, li[near], pj[near])
            travel[near] = np.where(limit > 0, 1 - np.minimum(km / np.where(limit > 0, limit, 1), 1), 1)

        experience = _BALANCE.ravel()[3 * self.level_l[li] + self.level_p[pj]]  # flat: quicker than a 2-d lookup
        org_l, org_p = self.org_l[li], self.org_p[pj]
        organisation = np.where((org_l < 0) | (org_p < 0), 0.5, (org_l != org_p).astype(float))

        w = self.weights
        mean = (w.topics * topics + w.travel * travel + w.experience * experience + w.organisation * organisation) / (
            w.topics + w.travel + w.experience + w.organisation
        )
        # Round half up, the way people expect; clip guards float error at the ends.
        return np.clip(np.floor(100 * mean + 0.5), 0, 100).astype(np.int16)
