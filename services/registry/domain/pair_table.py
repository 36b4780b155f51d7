"""The review table's rows, chosen, ordered and paged from what a manager asked for in the page's
address (a plain GET form, so it works without JavaScript). Pure functions: no I/O.

A row is a mapping with at least: number, lived_name, professional_name, fit, modes (the words),
mode_codes, meeting_key (sortable, or None before publishing), areas, has_needs and approved."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

PER_PAGE = 50
SORTS = ("number", "name", "fit", "mode", "first_meeting")
ORDERS = ("ascending", "descending")
YES_NO = ("yes", "no")

Row = TypeVar("Row", bound=Mapping[str, Any])


@dataclass(frozen=True)
class TableQuery:
    """What the manager asked for: empty text means no filter on that field."""

    q: str = ""
    area: str = ""
    needs: str = ""
    mode: str = ""
    below: int | None = None
    approved: str = ""
    sort: str = "number"
    order: str = "ascending"
    page: int = 1

    def filters(self) -> dict[str, str]:
        """The filters chosen, as the page's address carries them."""
        chosen = {"q": self.q, "area": self.area, "needs": self.needs, "mode": self.mode, "approved": self.approved}
        if self.below is not None:
            chosen["below"] = str(self.below)
        return {key: value for key, value in chosen.items() if value}

    def params(self, **changes: Any) -> dict[str, str]:
        """The address parameters of this query with some changed: filters, then sort, then page."""
        changed = replace(self, **changes)
        params = changed.filters()
        if changed.sort != "number" or changed.order != "ascending":
            params |= {"sort": changed.sort, "order": changed.order}
        if changed.page > 1:
            params["page"] = str(changed.page)
        return params

    def sort_params(self, column: str) -> dict[str, str]:
        """The link on a column's heading: sort by it, or turn its order round when it is already the sort."""
        order = "descending" if self.sort == column and self.order == "ascending" else "ascending"
        return self.params(sort=column, order=order, page=1)

    def aria_sort(self, column: str) -> str:
        return self.order if self.sort == column else "none"


@dataclass(frozen=True)
class Arranged(Generic[Row]):
    rows: list[Row]
    matched: int
    total: int
    page: int
    pages: int


def whole_number(text: str | None, lowest: int, highest: int) -> int | None:
    try:
        return max(lowest, min(int((text or "").strip()), highest))
    except ValueError:
        return None


def one_of(text: str | None, allowed: Sequence[str] | Mapping[str, Any]) -> str:
    return text if text and text in allowed else ""


def area_code(text: str | None) -> str:
    code = (text or "").strip().upper()
    return code if code.isalnum() and len(code) <= 20 else ""


def read_query(params: Mapping[str, str], may_see_needs: bool, modes: Mapping[str, str]) -> TableQuery:
    """The query from the page's address; anything not understood is left out, never guessed.
    Only a role that may see access needs can filter by them."""
    return TableQuery(
        q=(params.get("q") or "").strip()[:100],
        area=area_code(params.get("area")),
        needs=one_of(params.get("needs"), YES_NO) if may_see_needs else "",
        mode=one_of(params.get("mode"), modes),
        below=whole_number(params.get("below"), 1, 101),
        approved=one_of(params.get("approved"), YES_NO),
        sort=one_of(params.get("sort"), SORTS) or "number",
        order=one_of(params.get("order"), ORDERS) or "ascending",
        page=whole_number(params.get("page"), 1, 1_000_000) or 1,
    )


def matches(row: Mapping[str, Any], query: TableQuery) -> bool:
    q = query.q.lower()
    checks = (
        not q or q in row["lived_name"].lower() or q in row["professional_name"].lower(),
        not query.area or query.area in row["areas"],
        not query.needs or bool(row["has_needs"]) == (query.needs == "yes"),
        not query.mode or query.mode in row["mode_codes"],
        query.below is None or row["fit"] < query.below,
        not query.approved or bool(row["approved"]) == (query.approved == "yes"),
    )
    return all(checks)


def sort_key(column: str) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """How a column orders; the pair number breaks ties, so the order is always the same."""
    keys: dict[str, Callable[[Mapping[str, Any]], tuple[Any, ...]]] = {
        "number": lambda row: (row["number"],),
        "name": lambda row: (row["lived_name"].lower(), row["professional_name"].lower(), row["number"]),
        "fit": lambda row: (row["fit"], row["number"]),
        "mode": lambda row: (row["modes"].lower(), row["number"]),
    }
    return keys[column]


def ordered(rows: list[Row], query: TableQuery) -> list[Row]:
    if query.sort != "first_meeting":
        return sorted(rows, key=sort_key(query.sort), reverse=query.order == "descending")
    # Pairs with no meeting planned yet come last whichever way the dates run.
    planned = sorted(
        (r for r in rows if r["meeting_key"]), key=lambda r: (r["meeting_key"], r["number"]), reverse=query.order == "descending"
    )
    return planned + [r for r in rows if not r["meeting_key"]]


def arrange(rows: Sequence[Row], query: TableQuery, per_page: int | None = PER_PAGE) -> Arranged[Row]:
    """The rows matching the filters, in the order asked for, and the page asked for (a page past the
    end shows the last one). per_page None gives every matching row, as a download wants."""
    chosen = ordered([r for r in rows if matches(r, query)], query)
    if per_page is None:
        return Arranged(chosen, len(chosen), len(rows), 1, 1)
    pages = max(1, -(-len(chosen) // per_page))
    page = min(query.page, pages)
    return Arranged(chosen[(page - 1) * per_page : page * per_page], len(chosen), len(rows), page, pages)
