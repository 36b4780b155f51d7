"""Ending a pair: the page a person opens from their answer link (/a/{code}/end), and the route a
program or the programme team calls (POST /rounds/{id}/pairs/end). The rules are in
domain/pair_endings.py; handlers/pair_endings.py records it and tells the notifier.

A pair lasts months, longer than its answer link takes answers: the ending page works with the
same code for as long as the round is published (the code stays the person's secret)."""

from __future__ import annotations

from typing import Annotated, Literal, cast

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from schemas.cohort import LeaderId
from services.common.store import UnitOfWork
from services.registry.adapters.orm import AnswerCodeRow
from services.registry.api.answers import problem_page
from services.registry.domain import answers as answer_codes
from services.registry.domain.pair_endings import REASONS, EndReason
from services.registry.handlers import answers, common, pair_endings
from services.registry.web.deps import MANAGER, actor_of, registry_of
from services.registry.web.pages import PAGES

router = APIRouter()


class EndPair(BaseModel):
    """A manager ends a pair: because one of the two asked (by phone, letter, text, in person or
    email), or as the programme team's own decision."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    leader_id: LeaderId = Field(description="One of the pair: the person who asked, when one of them asked")
    partner_id: LeaderId = Field(description="The other person in the pair")
    reason: EndReason = Field(description="not_working, circumstances_changed or other")
    words: str | None = Field(default=None, max_length=2000, description="Anything they said; only the programme team sees it")
    asked_by: Literal["leader", "programme_team"] = Field(
        default="programme_team", description="leader: leader_id asked; programme_team: the team decided"
    )
    via: Literal["phone", "letter", "text", "in_person", "email"] | None = Field(
        default=None,
        validate_default=True,
        description="How the leader's request reached the team (needed when asked_by is leader)",
    )

    @field_validator("via", mode="after")
    @classmethod
    def said_how(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("asked_by") == "leader" and value is None:
            raise ValueError("say how the leader's request reached you: phone, letter, text, in_person or email")
        return value


async def read_code(uow: UnitOfWork, typed: str) -> answers.ResponseLink:
    """The person and partner behind an answer code, however long ago its answers closed."""
    code = answer_codes.read_code(typed)
    row = await uow.session.get(AnswerCodeRow, answer_codes.code_digest(code)) if code else None
    if row is None:
        raise answers.LinkProblem(
            "This link is not complete. Please copy the whole link from your message, or contact the programme team."
        )
    return answers.ResponseLink(row.round_id, row.leader_id, row.partner_id)


def end_page(request: Request, view: dict, action: str, error: tuple[str, str] | None = None, status: int = 200) -> HTMLResponse:
    """error: the field with the problem ("reason" or "checked") and what to do about it."""
    field, words = error or (None, None)
    title = ("Error: " if error else "") + "End your pair"
    context = {**view, "title": title, "action": action, "error": words, "error_field": field}
    return PAGES.TemplateResponse(request, "end_pair.html", {**context, "reasons": REASONS}, status_code=status)


@router.get("/a/{code}/end", response_class=HTMLResponse, tags=["responses"])
async def end_pair_page(code: str, request: Request) -> HTMLResponse:
    """The page where a person can end their pair; only its form ends it."""
    registry = registry_of(request)
    try:
        async with registry.store.unit_of_work() as uow:
            view = await answers.link_view(uow, registry.cipher, await read_code(uow, code))
    except (answers.LinkProblem, common.Conflict) as problem:
        return problem_page(request, problem)
    return end_page(request, view, f"/a/{answer_codes.read_code(code) or ''}/end")


@router.post("/a/{code}/end", response_class=HTMLResponse, tags=["responses"])
async def end_pair_from_link(
    code: str,
    request: Request,
    reason: Annotated[str | None, Form(max_length=40)] = None,
    words: Annotated[str | None, Form(max_length=2000)] = None,
    checked: Annotated[str | None, Form(max_length=10)] = None,
) -> HTMLResponse:
    registry = registry_of(request)
    action = f"/a/{answer_codes.read_code(code) or ''}/end"
    try:
        async with registry.store.unit_of_work() as uow:
            link = await read_code(uow, code)
            view = await answers.link_view(uow, registry.cipher, link)
            if reason not in REASONS:
                return end_page(request, view, action, ("reason", "Choose why you want to end the pair"), 400)
            if view["named_person"] and checked != "yes":
                error = f"Tick the box to say you have checked with {view['leader_name']} that they want to end the pair"
                return end_page(request, view, action, ("checked", error), 400)
            chosen = cast(EndReason, reason)  # checked against REASONS above
            ending = pair_endings.Ending(reason=chosen, words=words, asked_by=link.leader_id, via="link")
            await pair_endings.end_pair(uow, registry.cipher, link.round_id, (link.leader_id, link.partner_id), ending, "leader")
            await uow.commit()
    except (answers.LinkProblem, common.Conflict, common.NotFound) as problem:
        return problem_page(request, problem)
    return PAGES.TemplateResponse(request, "end_pair.html", {**view, "title": "Your pair has ended", "done": True})


@router.post("/rounds/{round_id}/pairs/end", status_code=201, tags=["rounds"], dependencies=[MANAGER])
async def end_pair(round_id: str, command: EndPair, request: Request) -> dict:
    """End a pair that is going ahead: the partner is told kindly, and both can be paired again. Audited."""
    registry = registry_of(request)
    ending = pair_endings.Ending(
        reason=command.reason,
        words=command.words,
        asked_by=command.leader_id if command.asked_by == "leader" else None,
        via=command.via if command.asked_by == "leader" and command.via else "programme_team",
        recorded_by=request.state.manager.name,
    )
    async with registry.store.unit_of_work() as uow:
        row = await pair_endings.end_pair(
            uow, registry.cipher, round_id, (command.leader_id, command.partner_id), ending, actor_of(request)
        )
        await uow.commit()
    return pair_endings.ended_view(row)
