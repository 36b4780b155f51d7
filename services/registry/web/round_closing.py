"""Closing a round from its page, and telling everyone in it what difference the pairs made (issue 18).

The manager may write what happened because of the pairs' work. "Check the words" runs the plain-English
check (domain/plain_english.py) and shows the message in every format people get it in (email, large print,
easy read, text message, letter), made by services/common/round_feedback.py as the notifier makes it. Words
are sent only once a preview of exactly those words has been shown. Works without JavaScript.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from services.common import round_feedback as words
from services.registry.adapters.orm import RoundRow
from services.registry.domain.plain_english import MAX_CHARACTERS, check
from services.registry.domain.rounds import IllegalTransition
from services.registry.handlers import common, round_feedback
from services.registry.handlers.programmes import programme_terms
from services.registry.web.deps import need, need_form, registry_of
from services.registry.web.pages import not_found, page, with_message
from services.registry.web.rounds import round_context

router = APIRouter()
FIELD = "feedback"
PREVIEW_NAME = "[their name]"


def preview(said: str, contact: words.FeedbackContact) -> dict:
    """The message in every format, for a person called PREVIEW_NAME."""
    sms = words.text_message(PREVIEW_NAME, said, contact)
    return {
        "subject": words.SUBJECT,
        "standard": words.standard_lines(PREVIEW_NAME, said, contact),
        "easy_read": [
            (kind, text.split(" ", 1)[1] if text.startswith("@") else text)
            for kind, text in words.easy_read_lines(PREVIEW_NAME, said, contact)
        ],
        "sms": sms,
        "sms_characters": len(sms),
        "sms_parts": words.sms_parts(sms),
    }


async def close_form(
    request: Request,
    round_id: str,
    said: str = "",
    errors: list[tuple[str, str]] | None = None,
    show_preview: bool = False,
    status_code: int = 200,
) -> Response:
    manager = await need(request, "manager")
    context = await round_context(request, round_id, manager)
    if context is None:
        return not_found(request, f"There is no round called {round_id}.")
    registry = registry_of(request)
    async with registry.store.unit_of_work() as uow:
        row = await uow.session.get(RoundRow, round_id)
        terms = await programme_terms(uow, row.cohort_id if row else None, registry.settings.programme_defaults)
        people = len(await round_feedback.everyone_in(uow, row)) if row else 0
    reach = words.FeedbackContact(
        team=terms.contact.team, person=terms.contact.person, phone=terms.contact.phone, email=terms.contact.email
    )
    errors = errors or []
    return page(
        request,
        "round_close.html",
        {
            "title": "Close this round?",
            "section": "rounds",
            **context,
            "said": said,
            "people": people,
            "max_characters": MAX_CHARACTERS,
            "errors": errors,
            "error_for": {FIELD: " ".join(message for _, message in errors)} if errors else {},
            "preview": preview(said, reach) if show_preview else None,
        },
        status_code=status_code,
    )


@router.get("/manage/rounds/{round_id}/close", response_class=HTMLResponse, include_in_schema=False)
async def close_page(round_id: str, request: Request) -> Response:
    return await close_form(request, round_id)


@router.post("/manage/rounds/{round_id}/close", response_class=HTMLResponse, include_in_schema=False)
async def close(round_id: str, request: Request) -> Response:
    manager, form = await need_form(request, "manager")
    said = str(form.get(FIELD) or "").strip()
    previewed = str(form.get("previewed") or "").strip()
    if said:
        findings = check(said)
        if findings:
            return await close_form(request, round_id, said, [(FIELD, str(f)) for f in findings], status_code=400)
        if form.get("action") != "close" or previewed != said:
            # Nothing is sent before the manager has seen these very words in every format.
            return await close_form(request, round_id, said, show_preview=True)
    registry = registry_of(request)
    by = f"{manager.name} ({manager.email})"
    async with registry.store.unit_of_work() as uow:
        try:
            row = await round_feedback.close_with_feedback(uow, round_id, by, said, registry.settings.programme_defaults)
        except (common.Conflict, common.NotFound, IllegalTransition) as problem:
            return page(
                request,
                "problem.html",
                {"title": "That cannot be done now", "message": str(problem), "back": f"/manage/rounds/{quote(round_id)}"},
                status_code=409,
            )
        told = len(await round_feedback.everyone_in(uow, row))
        await uow.commit()
    done = "The round is closed. People can no longer answer from the links in their message."
    if said:
        done += f" Everyone in it ({told} people) will be told what difference the pairs made, in the way they asked for."
    return with_message(f"/manage/rounds/{quote(round_id)}", done)
