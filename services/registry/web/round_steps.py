"""What a manager does to a round from its page: approve, publish, keep or rule out a pair, solve again,
pair again and cancel (closing is in round_closing.py). Each step runs in one transaction, then shows the
round with what happened."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from services.common.collector import collector_paused
from services.registry.domain.commands import ApproveRound, PairChoice
from services.registry.domain.rounds import IllegalTransition
from services.registry.handlers import common, publishing, review
from services.registry.handlers.store import SqlRounds
from services.registry.web import auth
from services.registry.web.deps import need, need_form, registry_of
from services.registry.web.pages import (
    not_found,
    page,
    safe_next,
    with_message,
)
from services.registry.web.rounds import round_context

router = APIRouter()


async def round_action(
    request: Request, round_id: str, action, success: str | Callable[[], str], back: str | None = None
) -> Response:
    """Run `action` in one transaction; then show the round (or `back`, a page of it) with `success`
    (words, or what makes them)."""
    await need_form(request, "manager")
    # Approving or publishing a round is bulk work (a row or an event for each person): services/common/collector.py.
    with collector_paused():
        async with registry_of(request).store.unit_of_work() as uow:
            try:
                shown = await action(uow) or round_id  # an action may lead to another round's page
            except (common.Conflict, common.NotFound, IllegalTransition) as problem:
                return page(
                    request,
                    "problem.html",
                    {
                        "title": "That cannot be done now",
                        "message": str(problem),
                        "back": f"/manage/rounds/{quote(round_id)}",
                    },
                    status_code=409,
                )
            await uow.commit()
    return with_message(back or f"/manage/rounds/{quote(shown)}", success() if callable(success) else success)


@router.post("/manage/rounds/{round_id}/approve", response_class=HTMLResponse, include_in_schema=False)
async def approve(round_id: str, request: Request) -> Response:
    manager, form = await need_form(request, "manager")
    checked = set(form.getlist("checked"))
    context = await round_context(request, round_id, manager)
    if context is None:
        return not_found(request, f"There is no round called {round_id}.")
    missing = [p for p in context["round"]["pairs"] if p["key"] not in checked]
    if missing:
        errors = {
            f"check-{p['number']}": f"Confirm you have checked pair {p['number']}: "
            f"{context['names'][p['lived_experience_id']]['name']} and {context['names'][p['professional_id']]['name']}"
            for p in missing
        }
        return page(
            request,
            "round.html",
            {
                "title": f"{context['round']['name']}: waiting for review",
                "section": "rounds",
                **context,
                "may_act": True,
                "errors": list(errors.items()),
                "error_for": errors,
                "checked": checked,
            },
            status_code=400,
        )

    async def act(uow):
        await review.approve_round(SqlRounds(uow), round_id, ApproveRound(approved_by=f"{manager.name} ({manager.email})"))

    return await round_action(request, round_id, act, "You have approved every pair. Publish the round to tell people.")


async def confirm_page(request: Request, round_id: str, template: str, title: str, **extra: Any) -> Response:
    """The page that asks a manager to confirm a step for the round, with the form that takes it."""
    manager = await need(request, "manager")
    context = await round_context(request, round_id, manager)
    if context is None:
        return not_found(request, f"There is no round called {round_id}.")
    return page(request, template, {"title": title, "section": "rounds", **context, **extra})


@router.get("/manage/rounds/{round_id}/publish", response_class=HTMLResponse, include_in_schema=False)
async def publish_page(round_id: str, request: Request) -> Response:
    return await confirm_page(
        request,
        round_id,
        "round_publish.html",
        "Publish the round and tell everyone",
        respond_days=registry_of(request).settings.response_days,
    )


@router.post("/manage/rounds/{round_id}/publish", response_class=HTMLResponse, include_in_schema=False)
async def publish(round_id: str, request: Request) -> Response:
    registry = registry_of(request)

    async def act(uow):
        await publishing.publish_round(SqlRounds(uow), round_id, registry.publishing, registry.today(), auth.actor(request))

    return await round_action(request, round_id, act, "The round is published. Everyone will be told in the way they asked for.")


async def pair_choice(form) -> tuple[str, str]:
    return str(form.get("lived_experience_id") or ""), str(form.get("professional_id") or "")


@router.post("/manage/rounds/{round_id}/lock", response_class=HTMLResponse, include_in_schema=False)
async def lock(round_id: str, request: Request) -> Response:
    return await choose_pair(round_id, request, review.lock_pair, "This pair will be kept when the round is solved again.")


@router.post("/manage/rounds/{round_id}/forbid", response_class=HTMLResponse, include_in_schema=False)
async def forbid(round_id: str, request: Request) -> Response:
    return await choose_pair(
        round_id, request, review.forbid_pair, "These two will not be paired when the round is solved again."
    )


async def choose_pair(round_id: str, request: Request, handler: Callable, success: str) -> Response:
    await need(request, "manager")
    form = await request.form()
    lived, professional = await pair_choice(form)
    # From the table of pairs, back to the same view of it (its search, filters and page).
    back = safe_next(str(form.get("back") or ""))
    table = back if back.startswith(f"/manage/rounds/{quote(round_id)}/pairs") else None

    async def act(uow):
        await handler(uow, round_id, PairChoice(lived_experience_id=lived, professional_id=professional))

    return await round_action(request, round_id, act, success + " Choose 'Solve again' when you are ready.", table)


@router.post("/manage/rounds/{round_id}/resolve", response_class=HTMLResponse, include_in_schema=False)
async def resolve(round_id: str, request: Request) -> Response:
    async def act(uow):
        await review.resolve_round(uow, round_id)

    return await round_action(request, round_id, act, "The round has been sent to the matcher again")


@router.post("/manage/rounds/{round_id}/pair-again", response_class=HTMLResponse, include_in_schema=False)
async def pair_again(round_id: str, request: Request) -> Response:
    registry = registry_of(request)

    async def act(uow):
        return (await review.pair_again(uow, round_id, registry.today())).id

    return await round_action(
        request,
        round_id,
        act,
        "The people whose partner said no are being paired again. Pairs nobody said no to are kept.",
    )


@router.get("/manage/rounds/{round_id}/cancel", response_class=HTMLResponse, include_in_schema=False)
async def cancel_page(round_id: str, request: Request) -> Response:
    return await confirm_page(request, round_id, "round_cancel.html", "Cancel this round?")


@router.post("/manage/rounds/{round_id}/cancel", response_class=HTMLResponse, include_in_schema=False)
async def cancel(round_id: str, request: Request) -> Response:
    was_published = []

    async def act(uow):
        was_published.append((await common.get_round(uow, round_id)).status == "published")
        await review.cancel_round(uow, round_id)

    return await round_action(
        request,
        round_id,
        act,
        lambda: (
            "The round is cancelled. Everyone in it will be told that it will not go ahead."
            if any(was_published)
            else "The round is cancelled. Nobody has been told anything."
        ),
    )
