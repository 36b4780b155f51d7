"""The small public pages a person opens from "Did you meet?" (/a/{code}/met) and from a check-in
(/a/{code}/check-in/{number}): one question, three answers, and room for a few words only the
programme team reads. They work by keyboard and without JavaScript, with the same answer code as
the person's first message, for as long as the round is published."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse

from services.registry.api.answers import problem_page
from services.registry.api.pair_endings import read_code
from services.registry.domain import answers as answer_codes
from services.registry.domain.check_ins import (
    ANSWERS,
    MAX_WORDS,
    CannotAnswer,
    check_can_answer,
    check_meeting_date,
    read_meeting_date,
)
from services.registry.handlers import answers, check_ins, common
from services.registry.web.deps import registry_of
from services.registry.web.pages import PAGES

router = APIRouter()
Number = Annotated[int, Path(ge=1, le=100, description="Which check-in: 1 for the first")]


def action_of(code: str, question: str, number: int) -> str:
    page = f"check-in/{number}" if question == "check_in" else "met"
    return f"/a/{answer_codes.read_code(code) or ''}/{page}"


def heading(question: str, view: dict) -> str:
    partner = view["partner_name"]
    if question == "met":
        return f"Did {view['leader_name']} meet {partner}?" if view["named_person"] else f"Did you meet {partner}?"
    return (
        f"How is it going for {view['leader_name']} with {partner}?"
        if view["named_person"]
        else f"How is it going with {partner}?"
    )


def question_page(
    request: Request,
    view: dict,
    question: str,
    action: str,
    error: str | None = None,
    status: int = 200,
    done: str | None = None,
    field: str = "answer",
) -> HTMLResponse:
    title = heading(question, view)
    context = {
        **view,
        "title": ("Error: " if error else "") + (title if done is None else "Thank you for telling us"),
        "question": question,
        "heading": title,
        "choices": list(ANSWERS[question].items()),
        "action": action,
        "error": error,
        "error_field": field,
        "done": done,
        "max_words": MAX_WORDS,
    }
    return PAGES.TemplateResponse(request, "follow_up_answer.html", context, status_code=status)


async def show(request: Request, code: str, question: str, number: int) -> HTMLResponse:
    registry = registry_of(request)
    try:
        async with registry.store.unit_of_work() as uow:
            link = await read_code(uow, code)
            view = await answers.link_view(uow, registry.cipher, link)
            check_can_answer(await check_ins.pair_now(uow, link.round_id, link.leader_id, link.partner_id))
    except CannotAnswer as problem:
        return problem_page(request, common.Conflict(str(problem)))
    except (answers.LinkProblem, common.Conflict) as problem:
        return problem_page(request, problem)
    return question_page(request, view, question, action_of(code, question, number))


async def take(
    request: Request, code: str, question: str, number: int, answer: str | None, words: str | None, meeting_on: str = ""
) -> HTMLResponse:
    registry = registry_of(request)
    action = action_of(code, question, number)
    try:
        async with registry.store.unit_of_work() as uow:
            link = await read_code(uow, code)
            view = await answers.link_view(uow, registry.cipher, link)
            if answer not in ANSWERS[question]:
                return question_page(request, view, question, action, "Choose one answer", 400)
            try:
                # A date typed before choosing another answer is not kept: it goes only with "not yet".
                planned = read_meeting_date(meeting_on) if answer == "not_yet" else None
                check_meeting_date(answer, planned, registry.today())
            except CannotAnswer as problem:
                words_for = str(problem).partition(": ")[2]
                return question_page(
                    request, view, question, action, words_for[:1].upper() + words_for[1:], 400, field="meeting_on"
                )
            given = check_ins.FollowUpGiven(
                question=question,
                answer=answer,
                number=number,
                words=words,
                given_by="named_person" if view["named_person"] else "leader",
                meeting_on=planned,
            )
            await check_ins.record(
                uow, registry.cipher, link.round_id, link.leader_id, link.partner_id, given, "leader", registry.today()
            )
            await uow.commit()
    except (answers.LinkProblem, common.Conflict, common.NotFound) as problem:
        return problem_page(request, problem)
    return question_page(request, view, question, action, done=answer)


@router.get("/a/{code}/met", response_class=HTMLResponse, tags=["responses"])
async def met_page(code: str, request: Request) -> HTMLResponse:
    """Did you meet your partner? The page only asks; its form answers."""
    return await show(request, code, "met", 0)


@router.post("/a/{code}/met", response_class=HTMLResponse, tags=["responses"])
async def met_answer(
    code: str,
    request: Request,
    answer: Annotated[str | None, Form(max_length=20)] = None,
    words: Annotated[str | None, Form(max_length=MAX_WORDS)] = None,
    meeting_on: Annotated[str, Form(max_length=20)] = "",
) -> HTMLResponse:
    return await take(request, code, "met", 0, answer, words, meeting_on)


@router.get("/a/{code}/check-in/{number}", response_class=HTMLResponse, tags=["responses"])
async def check_in_page(code: str, number: Number, request: Request) -> HTMLResponse:
    """How is it going with your partner? The page only asks; its form answers."""
    return await show(request, code, "check_in", number)


@router.post("/a/{code}/check-in/{number}", response_class=HTMLResponse, tags=["responses"])
async def check_in_answer(
    code: str,
    number: Number,
    request: Request,
    answer: Annotated[str | None, Form(max_length=20)] = None,
    words: Annotated[str | None, Form(max_length=MAX_WORDS)] = None,
) -> HTMLResponse:
    return await take(request, code, "check_in", number, answer, words)
