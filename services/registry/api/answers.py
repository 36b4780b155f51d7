"""Leaders answer from the links in their message; managers record answers given another way.

Opening a link only shows a page: email scanners follow links, so only the form's POST records an answer.
Short links (/a/{code}) are what messages carry; long signed links (/responses/{token}) sent before
links were short keep working for their lifetime."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse

from services.common.store import utc_now
from services.registry import answers as on_behalf
from services.registry.domain.answers import read_code
from services.registry.handlers import answers, common
from services.registry.registry import Registry
from services.registry.web.deps import MANAGER, actor_of, registry_of
from services.registry.web.pages import PAGES

router = APIRouter()
ROLE_WORDS = {
    "patient_leader": "a patient leader",
    "carer_leader": "a carer leader",
    "clinical_leader": "a clinical leader",
    "managerial_leader": "a manager in health and care",
}


def problem_page(request: Request, problem: Exception) -> HTMLResponse:
    status = 409 if isinstance(problem, common.Conflict) else 400
    return PAGES.TemplateResponse(
        request, "answered.html", {"title": "We could not use this link", "problem": str(problem)}, status_code=status
    )


def question_page(request: Request, view: dict, action: str, answer: str | None, error: str | None = None) -> HTMLResponse:
    question = (
        f"Does {view['leader_name']} want to work with {view['partner_name']}?"
        if view["named_person"]
        else f"Do you want to work with {view['partner_name']}?"
    )
    context = {
        **view,
        "title": ("Error: " if error else "") + question,
        "question": question,
        "partner_role": ROLE_WORDS[view["partner_role"]],
        "answer": answer,
        "action": action,
        "error": error,
    }
    return PAGES.TemplateResponse(request, "respond.html", context, status_code=400 if error else 200)


async def show_question(request: Request, read, action: str, answer: str | None) -> HTMLResponse:
    registry = registry_of(request)
    try:
        async with registry.store.unit_of_work() as uow:
            link = await read(uow)
            view = await answers.link_view(uow, registry.cipher, link)
    except (answers.LinkProblem, common.Conflict) as problem:
        return problem_page(request, problem)
    return question_page(request, view, action, answer or link.answer)


async def take_answer(request: Request, read, action: str, answer: str, reason: str | None, checked: str | None) -> HTMLResponse:
    registry = registry_of(request)
    try:
        async with registry.store.unit_of_work() as uow:
            link = await read(uow)
            view = await answers.link_view(uow, registry.cipher, link)
            how = answers.Answered()
            if view["named_person"] and not view["already"]:
                # Someone answering for the leader confirms they asked them first.
                if checked != "yes":
                    error = f"Tick the box to say you have checked with {view['leader_name']} and this is their answer"
                    return question_page(request, view, action, answer, error)
                how = answers.Answered(given_by="named_person", checked_with_leader=True)
            await answers.record_response(uow, registry.cipher, link, answer, (reason or "").strip() or None, how)
            await uow.commit()
    except (answers.LinkProblem, common.Conflict, common.NotFound) as problem:
        return problem_page(request, problem)
    context = {"title": "Thank you", "answer": answer, **view}
    return PAGES.TemplateResponse(request, "answered.html", context)


def from_code(code: str):
    async def read(uow) -> answers.ResponseLink:
        return await answers.read_code(uow, code, utc_now())

    return read


def from_token(registry: Registry, token: str):
    async def read(_) -> answers.ResponseLink:
        return answers.read_link(registry.signer, token, registry.publishing.link_days)

    return read


@router.get("/a/{code}", response_class=HTMLResponse, tags=["responses"])
async def short_link_page(code: str, request: Request) -> HTMLResponse:
    """The question a short link in a message opens; answering is the form on it."""
    return await show_question(request, from_code(code), f"/a/{read_code(code) or ''}", None)


@router.post("/a/{code}", response_class=HTMLResponse, tags=["responses"])
async def short_link_answer(
    code: str,
    request: Request,
    answer: Annotated[Literal["accept", "decline"], Form()],
    reason: Annotated[str | None, Form(max_length=2000)] = None,
    checked: Annotated[str | None, Form(max_length=10)] = None,
) -> HTMLResponse:
    return await take_answer(request, from_code(code), f"/a/{read_code(code) or ''}", answer, reason, checked)


@router.get("/responses/{token}", response_class=HTMLResponse, tags=["responses"])
async def response_page(
    token: str, request: Request, answer: Annotated[Literal["accept", "decline"] | None, Query()] = None
) -> HTMLResponse:
    return await show_question(request, from_token(registry_of(request), token), f"/responses/{token}", answer)


@router.post("/responses/{token}", response_class=HTMLResponse, tags=["responses"])
async def record_response(
    token: str,
    request: Request,
    answer: Annotated[Literal["accept", "decline"], Form()],
    reason: Annotated[str | None, Form(max_length=2000)] = None,
    checked: Annotated[str | None, Form(max_length=10)] = None,
) -> HTMLResponse:
    return await take_answer(request, from_token(registry_of(request), token), f"/responses/{token}", answer, reason, checked)


@router.post("/rounds/{round_id}/answers", status_code=201, tags=["rounds"], dependencies=[MANAGER])
async def record_answer(round_id: str, command: on_behalf.AnswerOnBehalf, request: Request) -> dict:
    """Record an answer a person gave by phone, letter, text or in person, found by their reference
    or id: the same rules as answering from the link, and written to the audit log."""
    registry = registry_of(request)
    async with registry.store.unit_of_work() as uow:
        row = await on_behalf.record_on_behalf(
            uow, registry.cipher, round_id, command, request.state.manager.name, actor_of(request)
        )
        await uow.commit()
    return on_behalf.answer_view(row)
