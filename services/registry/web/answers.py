"""The page where a manager records an answer someone gave by phone, letter, text or in person:
typed from the reference on a reply slip, or chosen from the round's people. It works without
JavaScript; the answer follows the same rules as one from a link, and is audited."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from services.registry import answers
from services.registry.handlers import common
from services.registry.web import auth
from services.registry.web.deps import need, need_form, registry_of
from services.registry.web.pages import leader_names, page, round_and_names, with_message

VIA_OPTIONS = [
    ("phone", "On the phone"),
    ("letter", "By letter or reply slip"),
    ("text", "By text message"),
    ("in_person", "In person"),
    ("email", "By email"),
]
GIVER_OPTIONS = [
    ("leader", "The person themselves"),
    ("named_person", "The carer or other person they named to get their messages"),
]
# Where each field of the answer shows its error on the page.
FIELD_IDS = {
    "reference": "reference",
    "partner_id": "question",
    "leader_id": "question",
    "answer": "answer",
    "via": "via",
    "received_on": "received-day",
    "given_by": "given_by",
    "checked_with_leader": "checked",
    "reason": "reason",
}
FIELD_WORDS = {
    "answer": "Select whether they said yes or no",
    "via": "Select how the answer reached you",
    "given_by": "Select who gave the answer",
    "checked_with_leader": "Tick the box to confirm the person who answered checked with the leader first",
}


router = APIRouter()


@router.get("/manage/rounds/{round_id}/answers/new", response_class=HTMLResponse, include_in_schema=False)
async def answer_form(round_id: str, request: Request) -> Response:
    await need(request, "manager")
    today = registry_of(request).today()
    values = {"received-day": today.day, "received-month": today.month, "received-year": today.year, "given_by": "leader"}
    return await answer_page(request, round_id, values, {})


async def answer_page(request: Request, round_id: str, values: dict, errors: dict[str, str], status_code: int = 200) -> Response:
    found = await round_and_names(request, round_id)
    if isinstance(found, Response):
        return found
    view, names = found
    if view["status"] != "published":
        return page(
            request,
            "problem.html",
            {
                "title": "This round is not taking answers",
                "message": "Answers can be recorded only while a round is published.",
                "back": f"/manage/rounds/{quote(round_id)}",
            },
            status_code=409,
        )
    return page(
        request,
        "answer_new.html",
        {
            "title": "Record an answer",
            "section": "rounds",
            "round": view,
            "values": values,
            "questions": questions(view["pairs"], names),
            "via_options": VIA_OPTIONS,
            "giver_options": GIVER_OPTIONS,
            "errors": list(errors.items()),
            "error_for": errors,
        },
        status_code=status_code,
    )


@router.post("/manage/rounds/{round_id}/answers/new", response_class=HTMLResponse, include_in_schema=False)
async def record_answer(round_id: str, request: Request) -> Response:
    manager, form = await need_form(request, "manager")
    values = {
        key: str(form.get(key) or "").strip()
        for key in (
            "reference",
            "question",
            "answer",
            "via",
            "given_by",
            "checked",
            "reason",
            "received-day",
            "received-month",
            "received-year",
        )
    }
    command, errors = read_form(values)
    if command is not None:
        async with registry_of(request).store.unit_of_work() as uow:
            try:
                row = await answers.record_on_behalf(
                    uow, registry_of(request).cipher, round_id, command, manager.name, auth.actor(request)
                )
                await uow.commit()
            except (common.Conflict, common.NotFound) as problem:
                field, _, words = str(problem).partition(": ")
                errors = {FIELD_IDS[field]: words} if field in FIELD_IDS and words else {"reference": str(problem)}
            else:
                said = "yes" if row.answer == "accept" else "no"
                names = await leader_names(registry_of(request), [row.leader_id, row.partner_id])
                return with_message(
                    f"/manage/rounds/{quote(round_id)}",
                    f"Recorded: {names[row.leader_id]['name']} said {said} to working with {names[row.partner_id]['name']}.",
                )
    return await answer_page(request, round_id, values, errors, 400)


def questions(pairs: list[dict], names: dict[str, dict[str, str]]) -> list[tuple[str, str]]:
    """Each person and partner in the round, by name, for choosing whose answer it is."""
    found = []
    for pair in pairs:
        for me, partner in (
            (pair["lived_experience_id"], pair["professional_id"]),
            (pair["professional_id"], pair["lived_experience_id"]),
        ):
            found.append((f"{me} {partner}", f"{names[me]['name']} ({me}), about {names[partner]['name']}"))
    return [("", "Choose a person"), *sorted(found, key=lambda q: q[1])]


def read_form(values: dict[str, str]) -> tuple[answers.AnswerOnBehalf | None, dict[str, str]]:
    """The answer the form describes, or each field's problem in words for the page."""
    errors: dict[str, str] = {}
    try:
        received = dt.date(int(values["received-year"]), int(values["received-month"]), int(values["received-day"]))
    except ValueError:
        errors["received-day"] = "Enter the date the answer reached you, for example 3 12 2026"
        received = None
    leader_id, _, partner_id = values["question"].partition(" ")
    body = {
        "reference": values["reference"] or None,
        "leader_id": None if values["reference"] else leader_id or None,
        "partner_id": None if values["reference"] else partner_id or None,
        "answer": values["answer"] or None,
        "via": values["via"] or None,
        "received_on": received,
        "given_by": values["given_by"] or None,
        "checked_with_leader": True if values["checked"] == "yes" else None,
        "reason": values["reason"] or None,
    }
    try:
        command = answers.AnswerOnBehalf.model_validate({k: v for k, v in body.items() if v is not None})
    except ValidationError as exc:
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "reference"
            words = FIELD_WORDS.get(field) or str(error["msg"]).removeprefix("Value error, ")
            if field in ("partner_id", "leader_id") and "give leader_id or reference" in words:
                field, words = "reference", "Enter the reference from the letter or reply slip, or choose the person"
            errors.setdefault(FIELD_IDS.get(field, "reference"), words[0].upper() + words[1:])
        return None, errors
    return (None, errors) if errors else (command, errors)
