"""What routes and pages depend on: the registry, the signed-in person, and the role checks.

The API checks roles with FastAPI dependencies (VIEWER, MANAGER, ADMIN: a token, HTTP Basic or
the browser's session); the pages call `need` and `need_form`, which send a person who is not
signed in to the sign-in page instead of answering 401.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request

from services.registry.registry import Registry
from services.registry.web import auth
from services.registry.web.auth import Manager, actor, require_role


def registry_of(request: Request) -> Registry:
    return request.app.state.registry


def actor_of(request: Request) -> str:
    """The signed-in person, for the audit log."""
    return actor(request)


# Who may call each API route: people signed in (HTTP Basic from programs, the session cookie from a browser).
VIEWER = Depends(require_role("viewer"))
MANAGER = Depends(require_role("manager"))
ADMIN = Depends(require_role("admin"))


class SignInRequired(Exception):
    def __init__(self, path: str, idle: bool = False):
        self.path, self.idle = path, idle


class NotAllowed(Exception):
    def __init__(self, manager: Manager, needed: str):
        self.manager, self.needed = manager, needed


class FormExpired(Exception):
    """The form token is missing or wrong: the form came from another site, or the session changed."""


async def signed_in(request: Request) -> Manager | None:
    if not hasattr(request.state, "web_manager"):
        found = await auth.read_session(registry_of(request), request.cookies.get(auth.SESSION_COOKIE))
        request.state.web_manager = found.manager if found.stage == auth.SIGNED_IN else None
        request.state.session_idle = found.idle
    return request.state.web_manager


async def need(request: Request, role: str = "viewer") -> Manager:
    manager = await signed_in(request)
    if manager is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(path, request.state.session_idle)
    if not manager.may(role):
        raise NotAllowed(manager, role)
    request.state.manager = manager
    return manager


async def need_form(request: Request, role: str) -> tuple[Manager, Any]:
    manager = await need(request, role)
    form = await request.form()
    if not auth.csrf_matches(manager.csrf_token, form.get("csrf_token")):
        raise FormExpired()
    return manager, form
