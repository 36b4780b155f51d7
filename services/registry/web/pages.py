"""What every manager page shares: the templates and the words they use, how a page is
answered, and the names of the people it lists.

The pages themselves are in one module for each resource (sign_in, queue, operations, leaders, imports,
rounds, round_steps, programmes, review, answers, tasks, tokens, accounts). Each route checks
the signed-in person's role (services.registry.web.deps), checks the form token on every POST,
calls the registry's handlers in a unit of work, and answers with a page (or a redirect after
a change, so reloading never repeats it)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from services.registry import queries
from services.registry.adapters.areas import area_name
from services.registry.adapters.orm import LeaderRow
from services.registry.domain.importing import COLUMNS
from services.registry.domain.rounds import progress_words
from services.registry.handlers.common import ERASED, NotFound
from services.registry.web import auth, forms, leader_form
from services.registry.web.auth import Manager
from services.registry.web.deps import FormExpired, NotAllowed, SignInRequired, registry_of

PAGES = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")

STATUS_WORDS = {
    "draft": ("Draft", "grey"),
    "queued": ("Waiting for the matcher", "blue"),
    "solving": ("Being solved", "blue"),
    "proposed": ("Waiting for review", "yellow"),
    "approved": ("Approved, not yet published", "aqua-green"),
    "published": ("Published", "green"),
    "closed": ("Closed", "grey"),
    "cancelled": ("Cancelled", "grey"),
    "failed": ("Could not be solved", "red"),
}
DELIVERY_WORDS = {
    "sent": "Sent",
    "delivered": "Delivered",
    "scheduled": "Waiting to be sent (quiet hours or notice)",
    "failed": "Failed",
    "needs_a_person": "Needs a person to send it",
}
# Words that would reveal someone's access needs in a reason written by the matcher.
ACCESS_WORDS = (
    "sign language",
    "interpreter",
    "step-free",
    "hearing loop",
    "quiet room",
    "support worker",
    "large print",
    "easy read",
    "large-print",
    "easy-read",
    "braille",
)
LIVE_STATUSES = ("queued", "solving", "approved", "published")
PER_PAGE = 25

PAGES.env.globals.update(
    role_names=forms.ROLE_NAMES,
    status_names=forms.STATUS_NAMES,
    mode_names=forms.MODE_NAMES,
    experience_names=forms.EXPERIENCE_NAMES,
    contact_names=forms.CONTACT_NAMES,
    format_names=forms.FORMAT_NAMES,
    access_names=forms.ACCESS_NAMES,
    day_names=forms.DAY_NAMES,
    status_words=STATUS_WORDS,
    delivery_words=DELIVERY_WORDS,
    progress_words=progress_words,
    role_words=auth.ROLE_WORDS,
    say_window=forms.say_window,
    leader_fields=forms.LEADER_FIELDS,
    round_fields=forms.ROUND_FIELDS,
    import_columns=COLUMNS,
)


def say_date(value: Any) -> str:
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    return f"{value.day} {forms.MONTHS[value.month - 1].capitalize()} {value.year}"


PAGES.env.filters["say_date"] = say_date
PAGES.env.filters["area_name"] = area_name
PAGES.env.filters["miles"] = leader_form.miles
PAGES.env.filters["named"] = lambda codes, names: ", ".join(names.get(c, c) for c in (codes or []))


def page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    manager = getattr(request.state, "web_manager", None)
    context = {"manager": manager, "csrf_token": manager.csrf_token if manager else "", "section": "", **context}
    errors = context.get("errors")
    # The browser tab says there is a problem; the heading on the page stays the same.
    context["page_title"] = ("Error: " if errors else "") + context["title"]
    return PAGES.TemplateResponse(request, name, context, status_code=status_code)


def not_found(request: Request, message: str) -> Response:
    return page(request, "problem.html", {"title": "Page not found", "message": message}, status_code=404)


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def with_message(url: str, message: str) -> RedirectResponse:
    joiner = "&" if "?" in url else "?"
    return see_other(f"{url}{joiner}{urlencode({'done': message})}")


def safe_next(path: str | None) -> str:
    if path and path.startswith("/manage") and not path.startswith("//") and "\\" not in path:
        return path
    return "/manage"


def is_https(request: Request) -> bool:
    return registry_of(request).settings.public_url.startswith("https://")


def session_cookie(request: Request, response: Response, token: str) -> Response:
    """Give the browser its session cookie (and forget the sign-in form's)."""
    response.set_cookie(
        auth.SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=is_https(request),
        max_age=auth.SESSION_HOURS * 3600,
        path="/",
    )
    response.delete_cookie(auth.SIGN_IN_COOKIE, path="/sign-in")
    return response


def for_role(reason: str, manager: Manager) -> str:
    if manager.sees_special_category or not any(word in reason.lower() for word in ACCESS_WORDS):
        return reason
    return "The reason involves this person's access needs, which your role cannot see."


ERASED_PERSON = {"name": "Someone who has been erased", "role": ""}


class Names(dict):
    """Each leader's name and role; anyone not registered (erased since) reads as an erased person."""

    def __missing__(self, leader_id: str) -> dict[str, str]:
        return ERASED_PERSON


async def leader_names(registry, ids: list[str]) -> dict[str, dict[str, str]]:
    """Name and role of each leader, for the pages that list people (names are not special-category data)."""
    found: dict[str, dict[str, str]] = Names()
    unique = sorted(set(ids))
    async with registry.store.unit_of_work() as uow:
        for start in range(0, len(unique), 500):
            rows = (
                await uow.session.execute(
                    select(LeaderRow.id, LeaderRow.role, LeaderRow.sealed).where(LeaderRow.id.in_(unique[start : start + 500]))
                )
            ).all()
            for leader_id, role, sealed in rows:
                found[leader_id] = {"name": registry.cipher.open(sealed).get("name", leader_id), "role": role}
    for leader_id in unique:
        found.setdefault(leader_id, ERASED_PERSON if leader_id == ERASED else {"name": leader_id, "role": ""})
    return found


async def round_and_names(request: Request, round_id: str) -> tuple[dict[str, Any], dict[str, dict[str, str]]] | Response:
    """A round as its pages show it, and the name of everyone in its pairs: for a form about one of its
    pairs. The page saying there is no such round when there is none."""
    registry = registry_of(request)
    async with registry.store.unit_of_work() as uow:
        try:
            view = await queries.round_view(uow, round_id)
        except NotFound:
            return not_found(request, f"There is no round called {round_id}.")
    people = [who for pair in view["pairs"] for who in (pair["lived_experience_id"], pair["professional_id"])]
    return view, await leader_names(registry, people)


def install_page_errors(app: FastAPI) -> None:
    """A page asked for by someone not signed in, without the role, or with an expired form."""

    @app.exception_handler(SignInRequired)
    async def sign_in_first(_: Request, exc: SignInRequired) -> Response:
        return see_other(f"/sign-in?{urlencode({'next': exc.path, **({'idle': 1} if exc.idle else {})})}")

    @app.exception_handler(NotAllowed)
    async def not_allowed(request: Request, exc: NotAllowed) -> Response:
        return page(
            request,
            "problem.html",
            {
                "title": "You cannot do this",
                "message": f"Your role is {exc.manager.role}. This page needs the {exc.needed} role or above. "
                "Ask an admin if you need it.",
            },
            status_code=403,
        )

    @app.exception_handler(FormExpired)
    async def form_expired(request: Request, _: FormExpired) -> Response:
        return page(
            request,
            "problem.html",
            {
                "title": "The form has expired",
                "message": "For your security, forms only work in the browser session that opened them. "
                "Go back, reload the page and try again.",
            },
            status_code=400,
        )
