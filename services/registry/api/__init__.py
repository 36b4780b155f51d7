"""The registry's HTTP API: one router per resource. Each route validates, calls one handler in a
unit of work, commits, and answers; errors the handlers raise become answers here."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from opentelemetry import trace

from services.common.errors import describe
from services.common.logs import correlation_id
from services.common.store import DatabaseUnavailable
from services.common.tracing import mark_correlation
from services.registry.api import answers, check_ins, imports, leaders, operations, pair_endings, programmes, rounds
from services.registry.domain.rounds import IllegalTransition
from services.registry.handlers.common import Conflict, NotFound

ROUTERS = (operations, leaders, imports, rounds, programmes, answers, pair_endings, check_ins)


def install_routes(app: FastAPI) -> None:
    install_tracing(app)
    install_error_answers(app)
    for module in ROUTERS:
        app.include_router(module.router)


def install_tracing(app: FastAPI) -> None:
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


def install_error_answers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = describe(list(exc.errors()))
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return JSONResponse(status_code=422, content={"detail": f"Please check: {summary}", "errors": errors})

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @app.exception_handler(Conflict)
    @app.exception_handler(IllegalTransition)
    async def conflict(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": str(exc)})

    @app.exception_handler(DatabaseUnavailable)
    async def database_unavailable(_: Request, exc: DatabaseUnavailable) -> JSONResponse:
        # Nothing was saved; saying so lets people (and scripts) simply try again.
        return JSONResponse(
            status_code=503,
            headers={"Retry-After": "30"},
            content={
                "detail": "The database is not answering at the moment, so nothing was saved. Please try again in a minute."
            },
        )
