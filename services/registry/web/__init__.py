"""The web pages: manager journeys (sign in, leaders, import, rounds, review,
approve, publish, queue monitor) in the NHS.UK design system, server-rendered
so that every journey works without JavaScript.

`install_web(app)` adds them to the registry's FastAPI app; the JSON API routes
can be protected with `services.registry.web.auth.require_role`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"


def install_web(app: FastAPI) -> None:
    from services.registry.web import (
        accounts,
        answers,
        check_ins,
        imports,
        leaders,
        operations,
        pair_endings,
        programmes,
        queue,
        review,
        round_closing,
        round_steps,
        rounds,
        sign_in,
        tasks,
        tokens,
    )
    from services.registry.web.guide import install_api_guide
    from services.registry.web.pages import install_page_errors
    from services.registry.web.security import install_body_limits, install_secure_headers

    registry = app.state.registry
    install_secure_headers(
        app, https=registry.settings.public_url.startswith("https://"), public_url=registry.settings.public_url
    )
    install_body_limits(app, registry.settings.max_body_bytes, registry.settings.max_upload_bytes)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    install_page_errors(app)
    pages = (
        sign_in,
        queue,
        operations,
        leaders,
        imports,
        rounds,
        round_steps,
        round_closing,
        programmes,
        review,
        answers,
        pair_endings,
        check_ins,
    )
    for module in (*pages, tasks, tokens, accounts):
        app.include_router(module.router)
    install_api_guide(app)
