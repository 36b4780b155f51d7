"""The small public pages a person opens from "Did you meet?" (/a/{code}/met) and from a check-in
(/a/{code}/check-in/{number}): one question, three answers, and room for a few words only the
programme team reads. They work by keyboard and without JavaScript, with the same answer code as
the person's first message, for as long as the round is published.

A form sent with a problem comes back with what was typed and chosen still there, and each problem
named beside its field. A form that is taken goes on to a thank-you page (post, then redirect, then
get), so refreshing that page never sends the answer twice; the thank-you page reads the answer kept."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from services.registry.adapters.orm import FollowUpAnswerRow
from services.registry.api.answers import problem_page
from services.registry.api.pair_endings import read_code
from services.registry.domain import answers as answer_codes
from services.registry.domain.check_ins import (
    ANSWERS,
    MAX_WORDS,
    CannotAnswer,
    check_can_answer,
    check_meeting_date,
)
from services.registry.handlers import answers, check_ins, common
from services.registry.web import date_boxes
from services.registry.web.deps import registry_of
from services.registry.web.pages import PAGES

router = APIRouter()
Number = Annotated[int, Path(ge=1, le=100, description="Which check-in: 1 for the first")]
CHOOSE = "Choose one answer"
MEETING_DATE = "the date you will meet"
TOO_LONG = f"Keep what you tell us to {MAX_WORDS:,} characters or fewer"


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
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    done: str | None = None,
) -> HTMLResponse:
    """The question (with what was sent and each field's problem, when it came back), or the thanks for an answer."""
    errors = errors or {}
    title = heading(question, view)
    context = {
        **view,
        "title": ("Error: " if errors else "") + (title if done is None else "Thank you for telling us"),
        "question": question,
        "heading": title,
        "choices": list(ANSWERS[question].items()),
        "action": action,
        "values": {"answer": "", "words": "", **date_boxes.boxes({}, "meeting_on"), **(values or {})},
        "errors": list(errors.items()),
        "error_for": errors,
        "done": done,
        "max_words": MAX_WORDS,
    }
    return PAGES.TemplateResponse(request, "follow_up_answer.html", context, status_code=400 if errors else 200)


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


def problems_in(question: str, values: dict[str, str], today: dt.date) -> tuple[dict[str, str], dt.date | None]:
    """Each field's problem in words (none: the form can be taken), and the date they plan to meet."""
    errors: dict[str, str] = {}
    answer = values["answer"]
    if answer not in ANSWERS[question]:
        errors["answer"] = CHOOSE
    planned: dt.date | None = None
    # A date typed before choosing another answer is not kept: it goes only with "not yet".
    if question == "met" and answer in ("", "not_yet"):
        planned = date_boxes.read_date(values, "meeting_on", MEETING_DATE, errors, required=False)
        try:
            check_meeting_date("not_yet", planned, today)
        except CannotAnswer:
            errors["meeting_on_day"] = "The date you will meet must be from today to a year from now"
    if len(values["words"]) > MAX_WORDS:
        errors["words"] = TOO_LONG
    return errors, planned


async def take(
    request: Request, code: str, question: str, number: int, answer: str | None, words: str | None, meeting_on: dict | None = None
) -> Response:
    registry = registry_of(request)
    action = action_of(code, question, number)
    values = {"answer": (answer or "").strip(), "words": words or "", **date_boxes.boxes(meeting_on or {}, "meeting_on")}
    try:
        async with registry.store.unit_of_work() as uow:
            link = await read_code(uow, code)
            view = await answers.link_view(uow, registry.cipher, link)
            errors, planned = problems_in(question, values, registry.today())
            if errors:
                return question_page(request, view, question, action, values, errors)
            given = check_ins.FollowUpGiven(
                question=question,
                answer=values["answer"],
                number=number,
                words=values["words"],
                given_by="named_person" if view["named_person"] else "leader",
                meeting_on=planned if values["answer"] == "not_yet" else None,
            )
            await check_ins.record(
                uow, registry.cipher, link.round_id, link.leader_id, link.partner_id, given, "leader", registry.today()
            )
            await uow.commit()
    except (answers.LinkProblem, common.Conflict, common.NotFound) as problem:
        return problem_page(request, problem)
    return RedirectResponse(f"{action}/thank-you", status_code=303)


async def thanks(request: Request, code: str, question: str, number: int) -> Response:
    """The thanks for the answer kept (the latest to this question); the question itself when there is none yet."""
    registry = registry_of(request)
    action = action_of(code, question, number)
    try:
        async with registry.store.unit_of_work() as uow:
            link = await read_code(uow, code)
            view = await answers.link_view(uow, registry.cipher, link)
            latest = await uow.session.scalar(
                select(FollowUpAnswerRow.answer)
                .where(FollowUpAnswerRow.round_id == link.round_id, FollowUpAnswerRow.leader_id == link.leader_id)
                .where(FollowUpAnswerRow.partner_id == link.partner_id, FollowUpAnswerRow.question == question)
                .where(FollowUpAnswerRow.number == number)
                .order_by(FollowUpAnswerRow.id.desc())
                .limit(1)
            )
    except (answers.LinkProblem, common.Conflict, common.NotFound) as problem:
        return problem_page(request, problem)
    if latest is None:
        return RedirectResponse(action, status_code=303)
    return question_page(request, view, question, action, done=latest)


@router.get("/a/{code}/met", response_class=HTMLResponse, tags=["responses"])
async def met_page(code: str, request: Request) -> HTMLResponse:
    """Did you meet your partner? The page only asks; its form answers."""
    return await show(request, code, "met", 0)


@router.post("/a/{code}/met", response_class=HTMLResponse, tags=["responses"])
async def met_answer(
    code: str,
    request: Request,
    answer: Annotated[str | None, Form()] = None,
    words: Annotated[str | None, Form()] = None,
    meeting_on_day: Annotated[str, Form()] = "",
    meeting_on_month: Annotated[str, Form()] = "",
    meeting_on_year: Annotated[str, Form()] = "",
) -> Response:
    """Taken: on to the thank-you page (303). A problem: the form again, as it was sent, each problem by its field (400).
    The date they plan to meet (only with "not yet", and optional) comes in day, month and year boxes."""
    typed = {"meeting_on_day": meeting_on_day, "meeting_on_month": meeting_on_month, "meeting_on_year": meeting_on_year}
    return await take(request, code, "met", 0, answer, words, typed)


@router.get("/a/{code}/met/thank-you", response_class=HTMLResponse, tags=["responses"])
async def met_thanks(code: str, request: Request) -> Response:
    """Thanks for the answer to "Did you meet?"; a refresh sends nothing again."""
    return await thanks(request, code, "met", 0)


@router.get("/a/{code}/check-in/{number}", response_class=HTMLResponse, tags=["responses"])
async def check_in_page(code: str, number: Number, request: Request) -> HTMLResponse:
    """How is it going with your partner? The page only asks; its form answers."""
    return await show(request, code, "check_in", number)


@router.post("/a/{code}/check-in/{number}", response_class=HTMLResponse, tags=["responses"])
async def check_in_answer(
    code: str,
    number: Number,
    request: Request,
    answer: Annotated[str | None, Form()] = None,
    words: Annotated[str | None, Form()] = None,
) -> Response:
    """Taken: on to the thank-you page (303). A problem: the form again, as it was sent, each problem by its field (400)."""
    return await take(request, code, "check_in", number, answer, words)


@router.get("/a/{code}/check-in/{number}/thank-you", response_class=HTMLResponse, tags=["responses"])
async def check_in_thanks(code: str, number: Number, request: Request) -> Response:
    """Thanks for the answer to this check-in; a refresh sends nothing again."""
    return await thanks(request, code, "check_in", number)
