"""Who a published round tells, and what each person hears about their partners' needs.

A pair is (lived experience id, professional id). In a follow-up round the pairs carried over
from the round before were told about then, so their people hear nothing new about them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from services.registry.domain.meetings import Slot

Pair = tuple[str, str]


@dataclass(frozen=True)
class News:
    """What one person is told when a round is published: the partners they hear about, in the
    order of the round's pairs, and whether they are being paired again (their partner said no or left)."""

    leader_id: str
    partner_ids: tuple[str, ...]
    pairing_again: bool = False


def partners_of(pairs: Sequence[Pair]) -> dict[str, list[str]]:
    """Each person's partners, in the order of the pairs, from both sides of each pair."""
    partners: dict[str, list[str]] = {}
    for lived, professional in pairs:
        partners.setdefault(lived, []).append(professional)
        partners.setdefault(professional, []).append(lived)
    return partners


def is_carried(me: str, partner: str, carried: set[frozenset[str]]) -> bool:
    return frozenset((me, partner)) in carried


def who_is_told(pairs: Sequence[Pair], carried: set[frozenset[str]], let_down: set[str]) -> list[News]:
    """Everyone with a partner they have not heard about yet, in the order they first appear.

    `carried`: pairs kept from the round before; `let_down`: people whose partner there said no or left.
    """
    news = []
    for me, partners in partners_of(pairs).items():
        new = tuple(p for p in partners if not is_carried(me, p, carried))
        if new:
            news.append(News(me, new, pairing_again=me in let_down))
    return news


def told_about_a_partner(pairs: Iterable[Pair], carried: set[frozenset[str]], nobody: str) -> list[str]:
    """Everyone a published round told about a partner, sorted: less the people of carried pairs,
    and less `nobody`, the stand-in for someone erased."""
    return sorted({who for pair in pairs if frozenset(pair) not in carried for who in pair} - {nobody})


def access_arrangements(
    me: str, partner: str, access: Mapping[str, Sequence[str]], shares_with_partner: Mapping[str, bool]
) -> list[str]:
    """The arrangements a first meeting needs, as one person is told them: their own needs, and their
    partner's only when the partner agreed to share them."""
    theirs = access.get(partner, []) if shares_with_partner.get(partner, False) else []
    return sorted(set(access.get(me, [])) | set(theirs))


def let_down_by(said_no: Iterable[Pair]) -> set[str]:
    """Both people of each pair that one of them said no to (leaving counts as no): in the follow-up
    round they are told this is a new partner."""
    return {who for pair in said_no for who in pair}


def both_ways(lived: str, professional: str) -> tuple[Pair, Pair]:
    """A pair as (me, partner) from each side: each person hears about the other."""
    return (lived, professional), (professional, lived)


def meeting_record(slot: Slot | None) -> dict[str, str] | None:
    """A suggested first meeting as a pair's record keeps it: the date, and times as 24-hour hh:mm."""
    if slot is None:
        return None
    day, start, end = slot
    return {"date": day.isoformat(), "start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")}
