"""After the first meeting, on the round's follow-up page: each person's latest answer to "Did you
meet?" and to the check-ins, and how it came in; and the page where a manager records an answer
someone gave by phone, letter, text, in person or email. Words a person added are shown only to
managers and admins, and each person's read is audited. Works without JavaScript."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from services.registry import decline_reasons
from services.registry.adapters.orm import FollowUpAnswerRow
from services.registry.answers import GIVER_WORDS, VIA_WORDS
from services.registry.domain.check_ins import ANSWERS, MAX_WORDS, TEAM_WORDS, CannotAnswer, check_meeting_date
from services.registry.handlers import check_ins, common
from services.registry.web import auth, date_boxes
from services.registry.web.answers import GIVER_OPTIONS, VIA_OPTIONS, questions
from services.registry.web.deps import need, need_form, registry_of
from services.registry.web.pages import leader_names, page, round_and_names, with_message
from services.registry.web.roles import Manager

router = APIRouter()
QUESTION_OPTIONS = [("met", "Did you meet your partner?"), ("check_in", "A check-in: how is it going?")]
ANSWER_OPTIONS = [
    ("met", "Yes, we have met"),
    ("not_yet", "Not met yet"),
    ("going_well", "Going well"),
    ("some_problems", "Some problems"),
    ("need_help", "We need help"),
]
FIELDS = ("question", "person", "number", "answer", "via", "given_by", "words")


def how_it_came(row: FollowUpAnswerRow) -> str:
    if row.via == "link":
        return "From the link in their message" + (", by the person they named" if row.given_by == "named_person" else "")
    words = f"Given {VIA_WORDS.get(row.via, row.via)} by {GIVER_WORDS.get(row.given_by, row.given_by)}"
    return words + (f", recorded by {row.recorded_by}" if row.recorded_by else "")


async def answers_section(registry, round_id: str, manager: Manager) -> dict[str, Any]:
    """One row per person and partner with an answer: the latest to each question, newest check-in first."""
    async with registry.store.unit_of_work() as uow:
        rows = await check_ins.latest(uow, round_id)
        words: dict[int, str] = {}
        if manager.sees_special_category and (given := [r for r in rows if r.sealed_words]):
            keys = await decline_reasons.keys_of(uow, registry.cipher, {r.leader_id for r in given})
            for r in given:
                if r.sealed_words:
                    words[r.id] = decline_reasons.open_reason(registry.cipher, r.sealed_words, keys.get(r.leader_id))
            for leader_id in sorted({r.leader_id for r in given}):
                common.audit(uow, manager.email, "read words given in a check-in", leader_id, f"follow up of round {round_id}")
            await uow.commit()
    names = await leader_names(registry, sorted({who for r in rows for who in (r.leader_id, r.partner_id)}))
    by_pair: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:  # oldest first: a later answer replaces an earlier one
        mine = by_pair.setdefault(
            (r.leader_id, r.partner_id),
            {
                "leader_id": r.leader_id,
                "name": names[r.leader_id]["name"],
                "partner": names[r.partner_id]["name"],
                "met": "",
                "check_in": "",
                "how": "",
                "words": "",
            },
        )
        said = TEAM_WORDS[r.answer] + (f" (plan to meet on {r.meeting_on:%-d %B %Y})" if r.meeting_on else "")
        if r.question == "met":
            mine["met"] = said
        else:
            mine["check_in"] = f"{said} (check-in {r.number})"
        mine["how"] = how_it_came(r)
        mine["answered_on"] = r.answered_at.date()
        mine["words"] = words.get(r.id, mine["words"])
    shown = sorted(by_pair.values(), key=lambda row: (row["name"].lower(), row["partner"].lower()))
    return {"rows": shown, "words": manager.sees_special_category}


async def record_form(request: Request, round_id: str, values: dict, errors: dict[str, str], status_code: int = 200) -> Response:
    found = await round_and_names(request, round_id)
    if isinstance(found, Response):
        return found
    view, names = found
    return page(
        request,
        "check_in_new.html",
        {
            "title": "Record a follow-up answer",
            "section": "rounds",
            "round": view,
            "values": values,
            "people": questions(view["pairs"], names),
            "question_options": QUESTION_OPTIONS,
            "answer_options": ANSWER_OPTIONS,
            "via_options": VIA_OPTIONS,
            "giver_options": GIVER_OPTIONS,
            "errors": list(errors.items()),
            "error_for": errors,
        },
        status_code=status_code,
    )


@router.get("/manage/rounds/{round_id}/check-ins/new", response_class=HTMLResponse, include_in_schema=False)
async def new_answer(round_id: str, request: Request) -> Response:
    await need(request, "manager")
    return await record_form(request, round_id, {"given_by": "leader", "number": "1"}, {})


def meeting_date(values: dict[str, str], today: dt.date, errors: dict[str, str]) -> dt.date | None:
    """The date they plan to meet, in day, month and year boxes: optional, and only with "not met yet"."""
    planned = date_boxes.read_date(values, "meeting_on", "the date they plan to meet", errors, required=False)
    if planned is not None and values["answer"] != "not_yet":
        errors["meeting_on_day"] = 'Give the date they plan to meet only with the answer "Not met yet", or empty its boxes'
    elif planned is not None:
        try:
            check_meeting_date("not_yet", planned, today)
        except CannotAnswer:
            errors["meeting_on_day"] = "The date they plan to meet must be from today to a year from now"
    return planned


def read_form(values: dict[str, str], today: dt.date) -> tuple[check_ins.FollowUpGiven | None, tuple[str, str], dict[str, str]]:
    """The answer the form describes, whose it is, or each field's problem in words."""
    errors: dict[str, str] = {}
    leader_id, _, partner_id = values["person"].partition(" ")
    if not (leader_id and partner_id):
        errors["person"] = "Choose whose answer it is, and about which partner"
    question = values["question"]
    if question not in ANSWERS:
        errors["question"] = "Choose which question they answered"
    number = 0
    if question == "check_in":
        number = int(values["number"]) if values["number"].isascii() and values["number"].isdigit() else 0
        if not 1 <= number <= 100:
            errors["number"] = "Enter which check-in they answered, as a number: 1 for the first"
    if values["answer"] not in TEAM_WORDS:
        errors["answer"] = "Choose what they said"
    elif question in ANSWERS and values["answer"] not in ANSWERS[question]:
        errors["answer"] = "That answer does not go with this question: choose another answer, or the other question"
    planned = meeting_date(values, today, errors)
    if values["via"] not in VIA_WORDS:
        errors["via"] = "Choose how the answer reached you"
    if values["given_by"] not in GIVER_WORDS:
        errors["given_by"] = "Choose who gave the answer"
    if len(values["words"]) > MAX_WORDS:
        errors["words"] = f"Keep what they said to {MAX_WORDS:,} characters or fewer"
    if errors:
        return None, (leader_id, partner_id), errors
    given = check_ins.FollowUpGiven(
        question=question,
        answer=values["answer"],
        number=number,
        words=values["words"] or None,
        given_by=values["given_by"],
        via=values["via"],
        meeting_on=planned,
    )
    return given, (leader_id, partner_id), errors


@router.post("/manage/rounds/{round_id}/check-ins/new", response_class=HTMLResponse, include_in_schema=False)
async def record_answer(round_id: str, request: Request) -> Response:
    manager, form = await need_form(request, "manager")
    values = {key: str(form.get(key) or "").strip() for key in FIELDS} | date_boxes.boxes(form, "meeting_on")
    registry = registry_of(request)
    given, (leader_id, partner_id), errors = read_form(values, registry.today())
    if given is not None:
        given = check_ins.FollowUpGiven(**{**given.__dict__, "recorded_by": manager.name})
        async with registry.store.unit_of_work() as uow:
            try:
                await check_ins.record(uow, registry.cipher, round_id, leader_id, partner_id, given, auth.actor(request))
                await uow.commit()
            except (common.Conflict, common.NotFound) as problem:
                errors = {"person": str(problem)}
            else:
                names = await leader_names(registry, [leader_id, partner_id])
                said = TEAM_WORDS[given.answer].lower()
                return with_message(
                    f"/manage/rounds/{quote(round_id)}/follow-up",
                    f"Recorded: {names[leader_id]['name']}, about {names[partner_id]['name']}: {said}.",
                )
    return await record_form(request, round_id, values, errors, 400)
