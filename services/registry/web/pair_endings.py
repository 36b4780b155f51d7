"""The page where a manager ends a pair, from the round's follow-up page: because one of the two
asked (on the phone, by letter, by text, in person or by email) or as the programme team's own
decision. The same rules as a person ending it from their link; audited; works without JavaScript."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from services.registry.domain.pair_endings import REASONS, VIA_WORDS
from services.registry.handlers import common, pair_endings
from services.registry.web import auth
from services.registry.web.deps import need, need_form, registry_of
from services.registry.web.pages import leader_names, page, round_and_names, with_message

TEAM = "team"
router = APIRouter()


def choices(pairs: list[dict], names: dict[str, dict[str, str]]) -> list[tuple[str, str]]:
    """For each pair: either person asked, or the team decided. The value is "who asked|one|other"."""
    found = []
    for pair in pairs:
        lived, prof = pair["lived_experience_id"], pair["professional_id"]
        a, b = names[lived]["name"], names[prof]["name"]
        found += [
            (f"{lived}|{lived}|{prof}", f"{a} asked to end their pair with {b}"),
            (f"{prof}|{prof}|{lived}", f"{b} asked to end their pair with {a}"),
            (f"{TEAM}|{lived}|{prof}", f"The programme team ends the pair of {a} and {b}"),
        ]
    return [("", "Choose a pair"), *sorted(found, key=lambda c: c[1])]


async def end_form(request: Request, round_id: str, values: dict, errors: dict[str, str], status_code: int = 200) -> Response:
    found = await round_and_names(request, round_id)
    if isinstance(found, Response):
        return found
    view, names = found
    return page(
        request,
        "pair_end_new.html",
        {
            "title": "End a pair",
            "section": "rounds",
            "round": view,
            "values": values,
            "choices": choices(view["pairs"], names),
            "reasons": list(REASONS.items()),
            "via_options": [(k, v[:1].upper() + v[1:]) for k, v in VIA_WORDS.items()],
            "errors": list(errors.items()),
            "error_for": errors,
        },
        status_code=status_code,
    )


@router.get("/manage/rounds/{round_id}/pairs/end", response_class=HTMLResponse, include_in_schema=False)
async def end_pair_form(round_id: str, request: Request) -> Response:
    await need(request, "manager")
    return await end_form(request, round_id, {}, {})


def read_form(values: dict[str, str]) -> tuple[pair_endings.Ending | None, tuple[str, str], dict[str, str]]:
    """The ending the form describes, the pair (the one who asked first), or each field's problem in words."""
    errors: dict[str, str] = {}
    asked, _, rest = values["choice"].partition("|")
    one, _, other = rest.partition("|")
    if not (asked and one and other):
        errors["choice"] = "Choose the pair, and who asked to end it"
    if values["reason"] not in REASONS:
        errors["reason"] = "Choose why the pair is ending"
    by_team = asked == TEAM
    if not by_team and values["via"] not in VIA_WORDS:
        errors["via"] = "Choose how their request reached you"
    if len(values["words"]) > 2000:
        errors["words"] = "Keep what they said to 2,000 characters or fewer"
    if errors:
        return None, (one, other), errors
    ending = pair_endings.Ending(
        reason=values["reason"],  # type: ignore[arg-type]  # checked against REASONS above
        words=values["words"] or None,
        asked_by=None if by_team else asked,
        via="programme_team" if by_team else values["via"],
    )
    return ending, (one, other), errors


@router.post("/manage/rounds/{round_id}/pairs/end", response_class=HTMLResponse, include_in_schema=False)
async def end_pair(round_id: str, request: Request) -> Response:
    manager, form = await need_form(request, "manager")
    values = {key: str(form.get(key) or "").strip() for key in ("choice", "reason", "via", "words")}
    ending, pair, errors = read_form(values)
    if ending is not None:
        registry = registry_of(request)
        ending = pair_endings.Ending(ending.reason, ending.words, ending.asked_by, ending.via, recorded_by=manager.name)
        async with registry.store.unit_of_work() as uow:
            try:
                await pair_endings.end_pair(uow, registry.cipher, round_id, pair, ending, auth.actor(request))
                await uow.commit()
            except (common.Conflict, common.NotFound) as problem:
                errors = {"choice": str(problem)}
            else:
                names = await leader_names(registry, list(pair))
                return with_message(
                    f"/manage/rounds/{quote(round_id)}/follow-up",
                    f"Ended: the pair of {names[pair[0]]['name']} and {names[pair[1]]['name']}. Both will be told, kindly.",
                )
    return await end_form(request, round_id, values, errors, 400)
