"""The queue monitor, the home page when signed in, written for programme managers: first what needs a
person (messages to deliver by hand, answers to chase, rounds waiting for review), then rounds and
messages by state, then who is not paired. No topic names or commands: those are on the admins'
operations page (web/operations.py).

The page works without JavaScript ("Refresh" is a plain link); where scripts run, static/monitor.js
fetches the part below the heading (GET /manage/now) every 15 seconds and announces what changed."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select

from services.registry import monitor, queries
from services.registry.adapters.orm import ResponseRow, RoundRow, TaskRow, UnmatchedRow
from services.registry.web.deps import need, registry_of
from services.registry.web.pages import PAGES, for_role, leader_names, page
from services.registry.web.roles import Manager

router = APIRouter()

NO_ANSWER = "no_answer"  # the notifier's task the morning after someone's answer date (work_queue.KIND_WORDS)
ROUND_STATES = ("queued", "solving", "proposed", "approved", "failed", "published", "closed", "cancelled")
MESSAGE_STATES = ("sent", "delivered", "failed", "scheduled", "needs_a_person")
LATEST_ROUNDS = 5  # who is not paired: in the latest rounds proposed, approved or published


@router.get("/manage", response_class=HTMLResponse, include_in_schema=False)
async def queue(request: Request) -> Response:
    manager = await need(request)
    context = await monitor_view(request, manager)
    return page(
        request, "queue.html", {**context, "title": "Queue monitor", "section": "queue", "done": request.query_params.get("done")}
    )


@router.get("/manage/now", response_class=HTMLResponse, include_in_schema=False)
async def queue_now(request: Request) -> Response:
    """The monitor without the page around it, for static/monitor.js to put in place."""
    manager = await need(request)
    return fragment(request, "queue_now.html", await monitor_view(request, manager))


def fragment(request: Request, name: str, context: dict) -> HTMLResponse:
    manager = request.state.manager
    return PAGES.TemplateResponse(request, name, {"manager": manager, "csrf_token": manager.csrf_token, **context})


async def monitor_view(request: Request, manager: Manager) -> dict:
    registry = registry_of(request)
    async with registry.store.unit_of_work() as uow:
        tasks = await open_tasks_by_kind(uow)
        to_chase = await answers_to_chase(uow)
        rounds = await rounds_by_state(uow)
        to_review = (
            await uow.session.scalars(select(RoundRow).where(RoundRow.status == "proposed").order_by(RoundRow.created_at))
        ).all()
        deliveries = await queries.delivery_counts(uow)
        unmatched = await not_paired(uow)
    names = await leader_names(registry, [u.leader_id for u, _ in unmatched])
    by_hand = sum(n for kind, n in tasks.items() if kind != NO_ANSWER)
    trouble = [s for s in await monitor.every_service(registry) if s.troubled]
    return {
        "by_hand": by_hand,
        "to_chase": to_chase,
        "to_review": [{"id": r.id, "name": r.name or r.id, "people": len(r.leader_ids)} for r in to_review],
        "rounds": rounds,
        "round_states": ROUND_STATES,
        "messages": {state: deliveries.get(state, 0) for state in MESSAGE_STATES},
        "unmatched": [
            {
                "round_id": u.round_id,
                "round_name": round_name,
                "leader_id": u.leader_id,
                "name": names[u.leader_id]["name"],
                "role": names[u.leader_id]["role"],
                "reason": for_role(u.reason, manager),
            }
            for u, round_name in unmatched
        ],
        "trouble": trouble,
        "summary": summary(by_hand, sum(r["people"] for r in to_chase), len(to_review), rounds),
        "now": dt.datetime.now().strftime("%H:%M:%S"),
        "acts": manager.may("manager"),
    }


def summary(by_hand: int, to_chase: int, to_review: int, rounds: dict[str, int]) -> str:
    """One sentence of what a person must do: the script announces it when it changes."""

    def count(n: int, one: str, many: str) -> str:
        return f"{n} {one if n == 1 else many}"

    with_matcher = rounds.get("solving", 0) + rounds.get("queued", 0)
    return (
        f"{count(by_hand, 'message', 'messages')} to deliver by hand, {count(to_chase, 'answer', 'answers')} to chase, "
        f"{count(to_review, 'round', 'rounds')} waiting for review, {count(with_matcher, 'round', 'rounds')} with the matcher."
    )


async def open_tasks_by_kind(uow) -> dict[str, int]:
    rows = await uow.session.execute(select(TaskRow.kind, func.count()).where(TaskRow.done_at.is_(None)).group_by(TaskRow.kind))
    return dict(rows.all())


async def answers_to_chase(uow) -> list[dict]:
    """By round: people past their answer date with no answer yet (the notifier's task for the team,
    still open, and no answer recorded since)."""
    tasks = (
        await uow.session.execute(
            select(TaskRow.round_id, TaskRow.leader_id).where(TaskRow.kind == NO_ANSWER, TaskRow.done_at.is_(None))
        )
    ).all()
    rounds = sorted({round_id for round_id, _ in tasks})
    answered = (
        set(
            (
                await uow.session.execute(
                    select(ResponseRow.round_id, ResponseRow.leader_id).where(ResponseRow.round_id.in_(rounds))
                )
            ).all()
        )
        if rounds
        else set()
    )
    people: dict[str, set[str]] = {}
    for round_id, leader_id in tasks:
        if (round_id, leader_id) not in answered:
            people.setdefault(round_id, set()).add(leader_id)
    names = dict((await uow.session.execute(select(RoundRow.id, RoundRow.name).where(RoundRow.id.in_(list(people))))).all())
    return [{"id": r, "name": names.get(r) or r, "people": len(who)} for r, who in sorted(people.items())]


async def rounds_by_state(uow) -> dict[str, int]:
    return dict((await uow.session.execute(select(RoundRow.status, func.count()).group_by(RoundRow.status))).all())


async def not_paired(uow) -> list[tuple[UnmatchedRow, str]]:
    """The people not paired in the latest rounds that were solved, with each round's name."""
    latest = (
        await uow.session.execute(
            select(RoundRow.id, RoundRow.name)
            .where(RoundRow.status.in_(["proposed", "approved", "published"]))
            .order_by(RoundRow.created_at.desc())
            .limit(LATEST_ROUNDS)
        )
    ).all()
    if not latest:
        return []
    names = {round_id: name or round_id for round_id, name in latest}
    rows = (
        await uow.session.scalars(
            select(UnmatchedRow).where(UnmatchedRow.round_id.in_(list(names))).order_by(UnmatchedRow.round_id, UnmatchedRow.id)
        )
    ).all()
    return [(u, names[u.round_id]) for u in rows]
