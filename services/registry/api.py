"""HTTP routes: validate, call one handler in a unit of work, answer."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from opentelemetry import trace
from fastapi import Depends, FastAPI, File, Form, Query, Request, Response, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select

from services.common.errors import describe
from services.common.logs import correlation_id
from services.common.store import DatabaseUnavailable, utc_now
from services.common.tracing import mark_correlation
from services.registry import answers, handlers, monitor
from services.registry.adapters.orm import AuditRow, LeaderRow
from services.registry.app import Registry
from services.registry.domain.commands import (
    ApproveRound,
    CohortMembers,
    LaunchRound,
    NewCohort,
    NewProgramme,
    PairChoice,
    ProgrammeChange,
)
from services.registry.adapters import spreadsheets
from services.registry.adapters.gazetteer import locate_town
from services.registry.domain.importing import FileProblem, parse_rows
from services.registry.domain.answers import read_code
from services.registry.domain.leaders import LeaderIn
from services.registry.web.auth import actor, require_role
from services.registry.domain.rounds import IllegalTransition, RoundStatus


PAGES = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")
ROLE_WORDS = {
    "patient_leader": "a patient leader",
    "carer_leader": "a carer leader",
    "clinical_leader": "a clinical leader",
    "managerial_leader": "a manager in health and care",
}


def registry_of(request: Request) -> Registry:
    return request.app.state.registry


def actor_of(request: Request) -> str:
    """The signed-in person, for the audit log."""
    return actor(request)


# Who may call each route: people signed in (HTTP Basic from programs, the session cookie from a browser).
VIEWER = Depends(require_role("viewer"))
MANAGER = Depends(require_role("manager"))
ADMIN = Depends(require_role("admin"))


def install_routes(app: FastAPI) -> None:
    tracer = trace.get_tracer("pairing.registry")

    @app.middleware("http")
    async def correlate(request: Request, call_next):
        """Each request is a trace span; logs and spans about a round carry its id."""
        parts = request.url.path.strip("/").split("/")
        about = parts[1] if len(parts) > 1 and parts[0] == "rounds" else request.headers.get("x-correlation-id")
        token = correlation_id.set((about or "")[:200] or None)
        try:
            with tracer.start_as_current_span(f"{request.method} /{parts[0] if parts else ''}"):
                mark_correlation(correlation_id.get())
                return await call_next(request)
        finally:
            correlation_id.reset(token)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = describe(list(exc.errors()))
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return JSONResponse(status_code=422, content={"detail": f"Please check: {summary}", "errors": errors})

    @app.exception_handler(handlers.NotFound)
    async def not_found(_: Request, exc: handlers.NotFound) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @app.exception_handler(handlers.Conflict)
    @app.exception_handler(IllegalTransition)
    async def conflict(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": str(exc)})

    @app.exception_handler(DatabaseUnavailable)
    async def database_unavailable(_: Request, exc: DatabaseUnavailable) -> JSONResponse:
        # Nothing was saved; saying so lets people (and scripts) simply try again.
        return JSONResponse(
            status_code=503,
            headers={"Retry-After": "30"},
            content={"detail": "The database is not answering at the moment, so nothing was saved. Please try again in a minute."},
        )

    @app.get("/live", tags=["operations"])
    async def live() -> dict[str, str]:
        """Alive, without touching the database: a database outage should not restart the registry."""
        return {"status": "alive"}

    @app.get("/health", tags=["operations"])
    async def health(request: Request) -> dict[str, str]:
        await registry_of(request).store.check()
        return {"status": "ok"}

    def leader_answer(row: LeaderRow, outcome: str) -> dict:
        return {"id": row.id, "version": row.version, "status": row.status, "outcome": outcome}

    @app.post(
        "/leaders",
        status_code=201,
        tags=["leaders"],
        dependencies=[MANAGER],
        responses={200: {"description": "A leader with this id was already registered: their record was replaced (or was the same)"}},
    )
    async def register_leader(leader: LeaderIn, request: Request, response: Response) -> dict:
        """Add a leader (201), or replace the record of the leader with this id (200)."""
        registry = registry_of(request)
        async with registry.store.unit_of_work() as uow:
            row, outcome = await handlers.register_leader(uow, registry.cipher, leader, keys=registry.person_keys)
            await uow.commit()
        if outcome != "created":
            response.status_code = 200
        return leader_answer(row, outcome)

    @app.put("/leaders/{leader_id}", tags=["leaders"], dependencies=[MANAGER])
    async def replace_leader(leader_id: str, leader: LeaderIn, request: Request) -> dict:
        """Replace a registered leader's whole record; the id in the body may be left out."""
        if leader.id is not None and leader.id != leader_id:
            raise RequestValidationError(
                [{"loc": ("body", "id"), "type": "value_error", "msg": f"must be {leader_id}, the id at the end of the address, or be left out"}]
            )
        registry = registry_of(request)
        async with registry.store.unit_of_work() as uow:
            row, outcome = await handlers.replace_leader(uow, registry.cipher, leader_id, leader, keys=registry.person_keys)
            await uow.commit()
        return leader_answer(row, outcome)

    @app.get("/leaders/import/template.csv", tags=["import"], response_class=Response, dependencies=[MANAGER])
    async def import_template_csv() -> Response:
        return Response(
            spreadsheets.template_csv(),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="leaders-template.csv"'},
        )

    @app.get("/leaders/import/template.xlsx", tags=["import"], response_class=Response, dependencies=[MANAGER])
    async def import_template_xlsx() -> Response:
        return Response(
            spreadsheets.template_xlsx(),
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": 'attachment; filename="leaders-template.xlsx"'},
        )

    @app.post("/leaders/import", tags=["import"], dependencies=[MANAGER])
    async def import_leaders(request: Request, file: Annotated[UploadFile, File()]) -> JSONResponse:
        """Store every valid row and report every invalid one; the same file again changes nothing."""
        registry = registry_of(request)
        content = await file.read()
        try:
            header, rows = spreadsheets.read_rows(file.filename or "", content)
            valid, problems = parse_rows(header, rows, locate_town)
        except FileProblem as problem:
            return JSONResponse(status_code=422, content={"detail": f"The file cannot be imported: {problem}"})
        async with registry.store.unit_of_work() as uow:
            counts, conflicts = await handlers.import_leaders(uow, registry.cipher, valid, keys=registry.person_keys)
            await uow.commit()
        problems = sorted(problems + conflicts, key=lambda p: (p.row, p.column))
        return JSONResponse(
            {
                **counts,
                "rows_with_problems": len({p.row for p in problems}),
                "problems": [{"row": p.row, "column": p.column, "message": p.message} for p in problems],
            }
        )

    @app.get("/leaders/{leader_id}", tags=["leaders"], dependencies=[MANAGER])
    async def read_leader(
        leader_id: str,
        request: Request,
        purpose: Annotated[str, Query(min_length=3, max_length=500)] = "viewing the leader's record",
    ) -> dict:
        """Includes access and communication needs, so every read is written to the audit log."""
        registry = registry_of(request)
        async with registry.store.unit_of_work() as uow:
            view = await handlers.read_leader(uow, registry.cipher, leader_id, actor_of(request), purpose)
            await uow.commit()
        return view

    @app.delete("/leaders/{leader_id}", tags=["leaders"], dependencies=[MANAGER])
    async def erase_leader(
        leader_id: str,
        request: Request,
        purpose: Annotated[str, Query(min_length=3, max_length=500)] = "the person asked to be erased",
    ) -> dict:
        """Erase the person here and, through tombstones, in the matcher and the notifier."""
        async with registry_of(request).store.unit_of_work() as uow:
            await handlers.erase_leader(uow, leader_id, actor_of(request), purpose)
            await uow.commit()
        return {"id": leader_id, "erased": True}

    @app.get("/operations/services", tags=["operations"], dependencies=[VIEWER])
    async def services_state(request: Request) -> dict:
        """Each service: answering, able to reach its database and the broker, and the work waiting for it."""
        registry = registry_of(request)
        states = await monitor.every_service(registry)
        return {
            "dead_letters": await monitor.dead_letters(registry),
            "items": [
                {"name": s.name, "answering": s.answering, "ready": s.ready, "state": s.words, "waiting": s.waiting, "unsent": s.unsent,
                 "set_aside": s.set_aside}
                for s in states
            ]
        }

    @app.get("/audit", tags=["operations"], dependencies=[ADMIN])
    async def audit_log(
        request: Request, leader_id: Annotated[str | None, Query(max_length=100)] = None
    ) -> dict:
        query = select(AuditRow).order_by(AuditRow.id.desc()).limit(500)
        if leader_id:
            query = query.where(AuditRow.leader_id == leader_id)
        async with registry_of(request).store.unit_of_work() as uow:
            rows = (await uow.session.scalars(query)).all()
        return {
            "items": [
                {"at": r.at.isoformat(), "actor": r.actor, "action": r.action, "leader_id": r.leader_id, "purpose": r.purpose}
                for r in rows
            ]
        }

    @app.get("/leaders", tags=["leaders"], dependencies=[VIEWER])
    async def list_leaders(
        request: Request,
        role: Annotated[str | None, Query(max_length=30)] = None,
        system: Annotated[str | None, Query(max_length=20)] = None,
        status: Annotated[Literal["active", "paused", "withdrawn"] | None, Query()] = None,
        page: Annotated[int, Query(ge=1, le=100000)] = 1,
        per_page: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> dict:
        query = select(LeaderRow)
        for column, value in ((LeaderRow.role, role), (LeaderRow.system, system), (LeaderRow.status, status)):
            if value is not None:
                query = query.where(column == value)
        async with registry_of(request).store.unit_of_work() as uow:
            total = await uow.session.scalar(select(func.count()).select_from(query.subquery()))
            rows = (await uow.session.scalars(query.order_by(LeaderRow.id).offset((page - 1) * per_page).limit(per_page))).all()
        # The list shows no special-category data; open a leader to see it.
        return {
            "total": total,
            "page": page,
            "per_page": per_page,
            "items": [
                {"id": r.id, "role": r.role, "system": r.system, "status": r.status, "version": r.version} for r in rows
            ],
        }

    @app.post("/rounds", status_code=202, tags=["rounds"], dependencies=[MANAGER])
    async def launch_round(command: LaunchRound, request: Request) -> dict:
        registry = registry_of(request)
        async with registry.store.unit_of_work() as uow:
            row = await handlers.launch_round(uow, command, registry.today(), registry.settings.programme_defaults)
            mark_correlation(row.id)
            await uow.commit()
        # warnings: required sessions on a bank holiday or while the programme is closed, in plain words.
        return {"id": row.id, "status": row.status, "leader_count": len(row.leader_ids), "warnings": row.warnings or []}

    @app.get("/rounds", tags=["rounds"], dependencies=[VIEWER])
    async def list_rounds(
        request: Request,
        status: Annotated[RoundStatus | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> dict:
        """Rounds newest first, with their status, pairs and how many people have been told."""
        async with registry_of(request).store.unit_of_work() as uow:
            return {"items": await handlers.list_rounds(uow, status, limit)}

    @app.get("/rounds/{round_id}", tags=["rounds"], dependencies=[MANAGER])
    async def read_round(round_id: str, request: Request) -> dict:
        async with registry_of(request).store.unit_of_work() as uow:
            return await handlers.round_view(uow, round_id, registry_of(request).settings.programme_defaults)

    async def round_action(request: Request, action, *args) -> dict:
        async with registry_of(request).store.unit_of_work() as uow:
            row = await action(uow, *args)
            await uow.commit()
        return {"id": row.id, "status": row.status, "locked_pairs": row.locked_pairs, "forbidden_pairs": row.forbidden_pairs}

    @app.post("/rounds/{round_id}/lock", tags=["rounds"], dependencies=[MANAGER])
    async def lock_pair(round_id: str, choice: PairChoice, request: Request) -> dict:
        """Keep this pair in every re-solve (a pre-formed pair)."""
        return await round_action(request, handlers.lock_pair, round_id, choice)

    @app.post("/rounds/{round_id}/forbid", tags=["rounds"], dependencies=[MANAGER])
    async def forbid_pair(round_id: str, choice: PairChoice, request: Request) -> dict:
        """Never propose this pair again in this round."""
        return await round_action(request, handlers.forbid_pair, round_id, choice)

    @app.post("/rounds/{round_id}/resolve", status_code=202, tags=["rounds"], dependencies=[MANAGER])
    async def resolve_round(round_id: str, request: Request) -> dict:
        """Solve again, keeping locked pairs and leaving out forbidden ones."""
        return await round_action(request, handlers.resolve_round, round_id)

    @app.post("/rounds/{round_id}/pair-again", status_code=202, tags=["rounds"], dependencies=[MANAGER])
    async def pair_again(round_id: str, request: Request) -> dict:
        """Start a follow-up round for the people whose partner said no: kept pairs stay, declined pairs are never proposed again."""
        registry = registry_of(request)
        async with registry.store.unit_of_work() as uow:
            row = await handlers.pair_again(uow, round_id, registry.today())
            await uow.commit()
            return {"id": row.id, "status": row.status, "parent_round_id": row.parent_round_id, "leader_ids": row.leader_ids}

    @app.post("/rounds/{round_id}/close", tags=["rounds"], dependencies=[MANAGER])
    async def close_round(round_id: str, request: Request) -> dict:
        """Finish a published round: its answer links stop taking answers."""
        return await round_action(request, handlers.close_round, round_id, request.state.manager.name)

    @app.post("/rounds/{round_id}/cancel", tags=["rounds"], dependencies=[MANAGER])
    async def cancel_round(round_id: str, request: Request) -> dict:
        return await round_action(request, handlers.cancel_round, round_id)

    @app.post("/programmes", status_code=201, tags=["programmes"], dependencies=[MANAGER])
    async def create_programme(command: NewProgramme, request: Request) -> dict:
        """Add a programme with its team's contact details (every message gives them) and closure periods."""
        async with registry_of(request).store.unit_of_work() as uow:
            row = await handlers.create_programme(uow, command, actor_of(request))
            await uow.commit()
            return handlers.programme_view(row)

    @app.get("/programmes/{programme_id}", tags=["programmes"], dependencies=[VIEWER])
    async def read_programme(programme_id: str, request: Request) -> dict:
        async with registry_of(request).store.unit_of_work() as uow:
            return handlers.programme_view(await handlers.get_programme(uow, programme_id))

    @app.put("/programmes/{programme_id}", tags=["programmes"], dependencies=[MANAGER])
    async def change_programme(programme_id: str, change: ProgrammeChange, request: Request) -> dict:
        """Replace a programme's name, contact details, closure periods and next round date (audited)."""
        async with registry_of(request).store.unit_of_work() as uow:
            row = await handlers.change_programme(uow, programme_id, change, actor_of(request))
            await uow.commit()
            return handlers.programme_view(row)

    @app.post("/programmes/{programme_id}/cohorts", status_code=201, tags=["programmes"], dependencies=[MANAGER])
    async def create_cohort(programme_id: str, command: NewCohort, request: Request) -> dict:
        async with registry_of(request).store.unit_of_work() as uow:
            row = await handlers.create_cohort(uow, programme_id, command)
            view = await handlers.cohort_view(uow, row.id)
            await uow.commit()
        return view

    @app.post("/cohorts/{cohort_id}/members", tags=["programmes"], dependencies=[MANAGER])
    async def add_members(cohort_id: str, command: CohortMembers, request: Request) -> dict:
        async with registry_of(request).store.unit_of_work() as uow:
            added = await handlers.add_members(uow, cohort_id, command.leader_ids)
            view = await handlers.cohort_view(uow, cohort_id)
            await uow.commit()
        return {**view, "added": added}

    @app.get("/cohorts/{cohort_id}", tags=["programmes"], dependencies=[VIEWER])
    async def read_cohort(cohort_id: str, request: Request) -> dict:
        async with registry_of(request).store.unit_of_work() as uow:
            return await handlers.cohort_view(uow, cohort_id)

    @app.post("/rounds/{round_id}/approve", tags=["rounds"], dependencies=[MANAGER])
    async def approve_round(round_id: str, command: ApproveRound, request: Request) -> dict:
        # The approval is recorded against the person signed in, whatever the body says.
        command = ApproveRound(approved_by=request.state.manager.name)
        async with registry_of(request).store.unit_of_work() as uow:
            row = await handlers.approve_round(uow, round_id, command)
            await uow.commit()
        return {"id": row.id, "status": row.status}

    @app.post("/rounds/{round_id}/publish", tags=["rounds"], dependencies=[MANAGER])
    async def publish_round(round_id: str, request: Request) -> dict:
        registry = registry_of(request)
        async with registry.store.unit_of_work() as uow:
            row = await handlers.publish_round(uow, round_id, registry.publishing, registry.today(), actor_of(request))
            await uow.commit()
        return {"id": row.id, "status": row.status}

    # ---- leaders answer from the links in their message ----
    # Opening a link only shows a page: email scanners follow links, so only the form's POST records an answer.
    # Short links (/a/{code}) are what messages carry; long signed links (/responses/{token}) sent before
    # links were short keep working for their lifetime.

    def problem_page(request: Request, problem: Exception) -> HTMLResponse:
        status = 409 if isinstance(problem, handlers.Conflict) else 400
        return PAGES.TemplateResponse(
            request, "answered.html", {"title": "We could not use this link", "problem": str(problem)}, status_code=status
        )

    def question_page(request: Request, view: dict, action: str, answer: str | None, error: str | None = None) -> HTMLResponse:
        question = (
            f"Does {view['leader_name']} want to work with {view['partner_name']}?"
            if view["named_person"] else f"Do you want to work with {view['partner_name']}?"
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
                view = await handlers.link_view(uow, registry.cipher, link)
        except (handlers.LinkProblem, handlers.Conflict) as problem:
            return problem_page(request, problem)
        return question_page(request, view, action, answer or link.answer)

    async def take_answer(request: Request, read, action: str, answer: str, reason: str | None, checked: str | None) -> HTMLResponse:
        registry = registry_of(request)
        try:
            async with registry.store.unit_of_work() as uow:
                link = await read(uow)
                view = await handlers.link_view(uow, registry.cipher, link)
                how = handlers.Answered()
                if view["named_person"] and not view["already"]:
                    # Someone answering for the leader confirms they asked them first.
                    if checked != "yes":
                        error = f"Tick the box to say you have checked with {view['leader_name']} and this is their answer"
                        return question_page(request, view, action, answer, error)
                    how = handlers.Answered(given_by="named_person", checked_with_leader=True)
                await handlers.record_response(uow, registry.cipher, link, answer, (reason or "").strip() or None, how)
                await uow.commit()
        except (handlers.LinkProblem, handlers.Conflict, handlers.NotFound) as problem:
            return problem_page(request, problem)
        context = {"title": "Thank you", "answer": answer, **view}
        return PAGES.TemplateResponse(request, "answered.html", context)

    def from_code(code: str):
        async def read(uow) -> handlers.ResponseLink:
            return await handlers.read_code(uow, code, utc_now())

        return read

    def from_token(registry: Registry, token: str):
        async def read(_) -> handlers.ResponseLink:
            return handlers.read_link(registry.signer, token, registry.publishing.link_days)

        return read

    @app.get("/a/{code}", response_class=HTMLResponse, tags=["responses"])
    async def short_link_page(code: str, request: Request) -> HTMLResponse:
        """The question a short link in a message opens; answering is the form on it."""
        return await show_question(request, from_code(code), f"/a/{read_code(code) or ''}", None)

    @app.post("/a/{code}", response_class=HTMLResponse, tags=["responses"])
    async def short_link_answer(
        code: str,
        request: Request,
        answer: Annotated[Literal["accept", "decline"], Form()],
        reason: Annotated[str | None, Form(max_length=2000)] = None,
        checked: Annotated[str | None, Form(max_length=10)] = None,
    ) -> HTMLResponse:
        return await take_answer(request, from_code(code), f"/a/{read_code(code) or ''}", answer, reason, checked)

    @app.get("/responses/{token}", response_class=HTMLResponse, tags=["responses"])
    async def response_page(
        token: str, request: Request, answer: Annotated[Literal["accept", "decline"] | None, Query()] = None
    ) -> HTMLResponse:
        return await show_question(request, from_token(registry_of(request), token), f"/responses/{token}", answer)

    @app.post("/responses/{token}", response_class=HTMLResponse, tags=["responses"])
    async def record_response(
        token: str,
        request: Request,
        answer: Annotated[Literal["accept", "decline"], Form()],
        reason: Annotated[str | None, Form(max_length=2000)] = None,
        checked: Annotated[str | None, Form(max_length=10)] = None,
    ) -> HTMLResponse:
        return await take_answer(request, from_token(registry_of(request), token), f"/responses/{token}", answer, reason, checked)

    @app.post("/rounds/{round_id}/answers", status_code=201, tags=["rounds"], dependencies=[MANAGER])
    async def record_answer(round_id: str, command: answers.AnswerOnBehalf, request: Request) -> dict:
        """Record an answer a person gave by phone, letter, text or in person, found by their reference
        or id: the same rules as answering from the link, and written to the audit log."""
        registry = registry_of(request)
        async with registry.store.unit_of_work() as uow:
            row = await answers.record_on_behalf(
                uow, registry.cipher, round_id, command, request.state.manager.name, actor_of(request)
            )
            await uow.commit()
        return answers.answer_view(row)
