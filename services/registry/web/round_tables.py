"""The reads behind a round's review, follow-up and export: the same rows, with the same columns,
for the web page, the spreadsheet and the printed table.

Access needs are special-category data: only roles that may see them get the "Arrangements to book"
column, and each person whose needs are read for it is written to the audit log."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from services.registry import decline_reasons
from services.registry.adapters.orm import DeliveryRow, LeaderRow, PairRow, ResponseRow, RoundRow, UnmatchedRow
from services.registry.answers import GIVER_WORDS, VIA_WORDS
from services.registry.domain.arrangements import arrangements_words
from services.registry.domain.pair_table import PER_PAGE, TableQuery, arrange
from services.registry.domain.review import for_manager
from services.registry.handlers import common
from services.registry.handlers.pair_endings import ended_pairs
from services.registry.web import forms
from services.registry.web.roles import Manager

PAIR_COLUMNS = (
    ("number", "Pair"),
    ("lived_name", "Patient or carer leader"),
    ("lived_role", "Their role"),
    ("professional_name", "Clinical or managerial leader"),
    ("professional_role", "Their role"),
    ("fit", "Fit out of 100"),
    ("modes", "How they can meet"),
    ("times", "Shared free times"),
    ("first_meeting", "Suggested first meeting"),
    ("arrangements", "Arrangements to book"),
    ("reasons", "Why this pair"),
    ("kept", "Kept by a manager"),
    ("approval", "Approved"),
)
NOT_PAIRED_COLUMNS = (
    ("name", "Person"),
    ("role", "Role"),
    ("reason", "Why they were not paired"),
    ("change", "What would let them be paired"),
)
NO_CHANGE = "No single change found"
ROUND_CHANGE = "The round needs changing first: see the changes on the round's page"
FOLLOW_UP_COLUMNS = (
    ("name", "Person"),
    ("role", "Role"),
    ("partner", "Proposed partner"),
    ("message", "Their message"),
    ("answer", "Their answer"),
    ("answered_on", "Answered on"),
    ("how", "How the answer came in"),
    ("reason", "Reason for a no"),
)
# The message status that needs the manager most comes first when someone has several messages.
MESSAGE_ORDER = ("needs_a_person", "failed", "scheduled", "sent", "delivered")
MESSAGE_WORDS = {
    "needs_a_person": "Waiting for a person to send it",
    "failed": "Failed",
    "scheduled": "Waiting to be sent",
    "sent": "Sent",
    "delivered": "Delivered",
    None: "Not sent yet",
}
FOLLOW_UP_FILTERS = {"not_answered": "Not answered", "failed": "Message failed", "needs_a_person": "Needs a person"}


@dataclass
class Table:
    """Rows of one table, the columns they show, and how many there were before paging."""

    columns: tuple[tuple[str, str], ...]
    rows: list[dict[str, Any]]
    total: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def columns_for(columns: tuple[tuple[str, str], ...], manager: Manager) -> tuple[tuple[str, str], ...]:
    """A role that may not see access needs gets no arrangements or reasons column at all."""
    return tuple(c for c in columns if c[0] not in ("arrangements", "reason") or manager.sees_special_category)


def say_date(value: dt.date) -> str:
    return f"{value.day} {forms.MONTHS[value.month - 1].capitalize()} {value.year}"


def say_meeting(slot: dict | None) -> str:
    if not slot:
        return "Planned when the round is published"
    return f"{say_date(dt.date.fromisoformat(slot['date']))}, {slot['start']} to {slot['end']}"


def role_word(role: str) -> str:
    return forms.ROLE_NAMES.get(role, role)


async def people(registry, uow, ids: set[str], with_access: bool, open_sealed: bool = True) -> dict[str, dict[str, Any]]:
    """Name, role, area and (only when asked) access needs of each leader; erased people read as such.
    open_sealed False reads the plain role and area alone, opening nobody's sealed record (name None)."""
    found: dict[str, dict[str, Any]] = {}
    unique = sorted(ids)
    fields = (LeaderRow.id, LeaderRow.role, LeaderRow.system) + ((LeaderRow.sealed,) if open_sealed else ())
    for start in range(0, len(unique), 1000):
        rows = (await uow.session.execute(select(*fields).where(LeaderRow.id.in_(unique[start : start + 1000])))).all()
        for leader_id, role, system, *sealed in rows:
            opened = registry.cipher.open(sealed[0]) if open_sealed else {"name": None}
            found[leader_id] = {
                "name": opened.get("name", leader_id),
                "role": role,
                "access": list(opened.get("access_needs") or []) if with_access else [],
                "area": system or "",
            }
    for leader_id in unique:
        found.setdefault(leader_id, {"name": "Someone who has been erased", "role": "", "access": [], "area": ""})
    return found


async def round_row(uow, round_id: str) -> RoundRow | None:
    return await uow.session.get(RoundRow, round_id)


# A pair's columns the table shows (plain columns: loading whole rows costs more than the page).
PAIR_FIELDS = (
    PairRow.id,
    PairRow.lived_experience_id,
    PairRow.professional_id,
    PairRow.score,
    PairRow.meeting_modes,
    PairRow.shared_windows,
    PairRow.first_meeting,
    PairRow.reasons,
    PairRow.locked,
    PairRow.approved_by,
    PairRow.approved_at,
)


async def pairs_table(
    registry,
    round_id: str,
    manager: Manager,
    query: TableQuery,
    per_page: int | None = PER_PAGE,
    purpose: str = "review the pairs",
) -> Table:
    """The round's pairs, filtered, sorted and paged by the domain's rules (per_page None: every
    matching pair, as a download wants). Names are sealed: everyone's are opened only to search or
    sort by name, to filter by access needs, or for a download; otherwise only those of the pairs
    shown. Access needs are used only for the pairs shown, or for everyone when the manager filters
    by them; each person's read is audited."""
    columns = columns_for(PAIR_COLUMNS, manager)
    sees_needs = manager.sees_special_category
    by_needs = bool(query.needs) and sees_needs
    every_name = bool(query.q) or query.sort == "name" or by_needs or per_page is None
    with_access = by_needs or (per_page is None and sees_needs)
    async with registry.store.unit_of_work() as uow:
        pairs = (await uow.session.execute(select(*PAIR_FIELDS).where(PairRow.round_id == round_id).order_by(PairRow.id))).all()
        row = await round_row(uow, round_id)
        locked = {tuple(p) for p in (row.locked_pairs or [])} if row else set()
        everyone = {p.lived_experience_id for p in pairs} | {p.professional_id for p in pairs}
        known = await people(registry, uow, everyone, with_access=with_access, open_sealed=every_name)
        rows = [pair_row(n, p, known, (p.lived_experience_id, p.professional_id) in locked) for n, p in enumerate(pairs, 1)]
        arranged = arrange(rows, query, per_page)
        shown = {w for r in arranged.rows for w in (r["lived_id"], r["professional_id"])}
        if shown and (not every_name or (sees_needs and not with_access)):
            known |= await people(registry, uow, shown, with_access=sees_needs)
        said: dict[str, str] = {}  # a round's reasons repeat: each is rewritten once
        for shown_row in arranged.rows:
            for_the_page(shown_row, known, manager, said)
        if sees_needs and (shown or by_needs):
            await common.audit_many(
                uow, manager.email, "read access needs", sorted(everyone if by_needs else shown), f"{purpose} of round {round_id}"
            )
            await uow.commit()
            today = dt.datetime.now(ZoneInfo("Europe/London")).date()
            for shown_row in arranged.rows:
                items = arrangements_words(needs_of(shown_row, known), shown_row["meeting_date"], today)
                shown_row["arrangement_items"] = items
                shown_row["arrangements"] = "; ".join(items) or "None"
    areas = sorted({known[who]["area"] for who in everyone if known[who]["area"]})
    return Table(columns, list(arranged.rows), arranged.matched, {"arranged": arranged, "areas": areas})


def needs_of(row: dict[str, Any], access: dict[str, dict]) -> list[str]:
    return sorted(
        set(access.get(row["lived_id"], {}).get("access", [])) | set(access.get(row["professional_id"], {}).get("access", []))
    )


def pair_row(number: int, pair: Any, names: dict, locked: bool) -> dict[str, Any]:
    """One pair's row, with what filtering and sorting need; for_the_page adds the rest to the rows shown."""
    lived, prof = names[pair.lived_experience_id], names[pair.professional_id]
    slot = pair.first_meeting
    row = {
        "number": number,
        "pair_id": pair.id,
        "lived_id": pair.lived_experience_id,
        "professional_id": pair.professional_id,
        "lived_name": lived["name"],
        "lived_role": role_word(lived["role"]),
        "professional_name": prof["name"],
        "professional_role": role_word(prof["role"]),
        "fit": round(pair.score),
        "modes": ", ".join(forms.MODE_NAMES.get(m, m) for m in pair.meeting_modes or []) or "None yet",
        "mode_codes": list(pair.meeting_modes or []),
        "times": "; ".join(forms.say_window(w) for w in (pair.shared_windows or [])[:4]) or "None yet",
        "first_meeting": say_meeting(slot),
        "meeting_key": f"{slot['date']} {slot['start']}" if slot else None,
        "meeting_date": dt.date.fromisoformat(slot["date"]) if slot else None,
        "areas": {lived["area"], prof["area"]} - {""},
        "arrangements": "Not read",
        "reasons": list(pair.reasons or []),
        "kept": "Yes" if pair.locked or locked else "No",
        "approved": bool(pair.approved_by),
        "approval": approval_words(pair),
    }
    row["has_needs"] = bool(needs_of(row, names))
    return row


def for_the_page(row: dict[str, Any], names: dict, manager: Manager, said: dict[str, str]) -> None:
    """A row to be shown: both names, and the reasons written for the manager and cut to their role
    (`said` keeps each reason's words once worked out)."""
    from services.registry.web.pages import for_role

    row["lived_name"] = names[row["lived_id"]]["name"]
    row["professional_name"] = names[row["professional_id"]]["name"]
    for reason in row["reasons"]:
        if reason not in said:
            said[reason] = for_role(for_manager(reason), manager)
    row["reasons"] = [said[r] for r in row["reasons"]]


def approval_words(pair: Any) -> str:
    if not pair.approved_by:
        return "Not yet"
    return f"By {pair.approved_by}" + (f" on {say_date(pair.approved_at.date())}" if pair.approved_at else "")


async def not_paired_table(registry, round_id: str, manager: Manager) -> Table:
    from services.registry.web.pages import for_role

    async with registry.store.unit_of_work() as uow:
        unmatched = (
            await uow.session.scalars(select(UnmatchedRow).where(UnmatchedRow.round_id == round_id).order_by(UnmatchedRow.id))
        ).all()
        names = await people(registry, uow, {u.leader_id for u in unmatched}, with_access=False)
    rows = [
        {
            "leader_id": u.leader_id,
            "name": names[u.leader_id]["name"],
            "role": role_word(names[u.leader_id]["role"]),
            "reason": for_role(u.reason, manager),
            "change": change_words(u.rule, u.suggestion, manager),
        }
        for u in unmatched
    ]
    return Table(NOT_PAIRED_COLUMNS, rows, len(rows))


def change_words(rule: str, suggestion: str | None, manager: Manager) -> str:
    """The matcher's suggestion of what would let someone be paired, or why there is none."""
    from services.registry.web.pages import for_role

    if rule == "round_infeasible":
        return ROUND_CHANGE
    return for_role(suggestion, manager) if suggestion else NO_CHANGE


def message_status(statuses: list[str]) -> str | None:
    return next((s for s in MESSAGE_ORDER if s in statuses), statuses[0] if statuses else None)


def how_it_came(answer: ResponseRow | None) -> str:
    if answer is None:
        return ""
    if answer.via == "link":
        return "From the link in their message" + (", by the person they named" if answer.given_by == "named_person" else "")
    words = f"Given {VIA_WORDS.get(answer.via, answer.via)} by {GIVER_WORDS.get(answer.given_by, answer.given_by)}"
    return words + (f", recorded by {answer.recorded_by}" if answer.recorded_by else "")


async def follow_up_table(
    registry, round_id: str, manager: Manager, show: str = "", q: str = "", purpose: str = "follow up"
) -> Table:
    """Per person and proposed partner: their message, their answer, when and how it came in, and (for
    managers and admins only, each read audited) the reason given for a no."""
    columns = columns_for(FOLLOW_UP_COLUMNS, manager)
    async with registry.store.unit_of_work() as uow:
        pairs = (await uow.session.scalars(select(PairRow).where(PairRow.round_id == round_id).order_by(PairRow.id))).all()
        unmatched = (await uow.session.scalars(select(UnmatchedRow.leader_id).where(UnmatchedRow.round_id == round_id))).all()
        deliveries = (
            await uow.session.execute(select(DeliveryRow.leader_id, DeliveryRow.status).where(DeliveryRow.round_id == round_id))
        ).all()
        answers = {
            (r.leader_id, r.partner_id): r
            for r in (await uow.session.scalars(select(ResponseRow).where(ResponseRow.round_id == round_id))).all()
        }
        questions = [(p.lived_experience_id, p.professional_id) for p in pairs] + [
            (p.professional_id, p.lived_experience_id) for p in pairs
        ]
        names = await people(registry, uow, {who for pair in questions for who in pair} | set(unmatched), with_access=False)
        reasons = await reasons_read(registry, uow, manager, list(answers.values()), f"{purpose} of round {round_id}")
        ended = (await ended_pairs(uow, [round_id]))[round_id]
    statuses: dict[str, list[str]] = {}
    for leader_id, status in deliveries:
        statuses.setdefault(leader_id, []).append(status)
    rows = [
        marked_ended(
            follow_up_row(names, me, partner, message_status(statuses.get(me, [])), answers.get((me, partner)), reasons),
            frozenset((me, partner)) in ended,
        )
        for me, partner in questions
    ]
    rows += [follow_up_row(names, me, None, message_status(statuses.get(me, [])), None, reasons) for me in unmatched]
    rows.sort(key=lambda r: (r["name"].lower(), r["partner"].lower()))
    counts = {key: sum(1 for r in rows if r["flags"].get(key)) for key in FOLLOW_UP_FILTERS}
    shown = [r for r in rows if (not show or r["flags"].get(show)) and (not q or q.lower() in r["name"].lower())]
    return Table(columns, shown, len(shown), {"counts": counts, "everyone": len(rows), "reasons": "reason" in dict(columns)})


async def reasons_read(registry, uow, manager: Manager, answers: list[ResponseRow], purpose: str) -> dict[str, str]:
    """The reasons for a no, by answer, for a role that may see them; each person's read is audited."""
    if not manager.sees_special_category:
        return {}
    reasons = await decline_reasons.reasons_of(uow, registry.cipher, answers)
    if reasons:
        for leader_id in sorted({a.leader_id for a in answers if a.nonce in reasons}):
            common.audit(uow, manager.email, "read a reason for a no", leader_id, purpose)
        await uow.commit()
    return reasons


def marked_ended(row: dict[str, Any], ended: bool) -> dict[str, Any]:
    """A pair that ended says so, whatever was answered before; nobody is chased about it."""
    if not ended:
        return row
    return {**row, "answer": "Pair ended", "flags": {**row["flags"], "not_answered": False}}


def follow_up_row(
    names: dict, me: str, partner: str | None, status: str | None, answer: ResponseRow | None, reasons: dict[str, str]
) -> dict[str, Any]:
    if partner is None:
        said = "Not asked: not paired"
    elif answer is None:
        said = "Nothing yet"
    else:
        said = "Yes" if answer.answer == "accept" else "No"
    answered = answer.received_on or answer.answered_at.date() if answer is not None else None
    return {
        "leader_id": me,
        "name": names[me]["name"],
        "role": role_word(names[me]["role"]),
        "partner": names[partner]["name"] if partner else "Not paired",
        "message": MESSAGE_WORDS.get(status, status),
        "status": status,
        "answer": said,
        "answered_on": say_date(answered) if answered else "",
        "how": how_it_came(answer),
        "reason": reasons.get(answer.nonce, "") if answer is not None else "",
        "flags": {
            "not_answered": partner is not None and answer is None,
            "failed": status == "failed",
            "needs_a_person": status == "needs_a_person",
        },
    }
