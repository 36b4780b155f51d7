"""The sign-in check that the JSON API routes use (services.registry.web.auth.require_role):
API tokens and HTTP Basic authentication for programs, never a Basic challenge a browser would keep,
and the browser's session cookie with its form token for any change."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi import Depends, Request
from fastapi.testclient import TestClient

from services.common.crypto import new_key
from services.registry.adapters.orm import ManagerRow
from services.registry.app import create_app
from services.registry.config import RegistrySettings
from services.registry.web import auth

pytestmark = pytest.mark.integration

ADMIN = ("first.admin@example.org", "first admin password")
VIEWER = ("viewer@example.org", "viewer password 789")
MANAGER_ONLY = Depends(auth.require_role("manager"))


@pytest.fixture
def client(tmp_path) -> TestClient:
    settings = RegistrySettings(
        database_url=f"sqlite:///{tmp_path / 'registry.db'}",
        encryption_keys=new_key(),
        event_keys=new_key(),
        token_secret=new_key(),
        admin_email=ADMIN[0],
        admin_password=ADMIN[1],
        # the page sign-in here is about the cookie; tests/integration/test_accounts.py covers the code
        require_second_factor=False,
    )
    app = create_app(settings)
    registry = app.state.registry

    async def prepare() -> None:
        await registry.store.prepare("registry")
        async with registry.store.unit_of_work() as uow:
            uow.session.add(
                ManagerRow(
                    email=VIEWER[0],
                    name="A viewer",
                    role="viewer",
                    password_hash=auth.hash_password(VIEWER[1]),
                    active=True,
                    failed_sign_ins=0,
                )
            )
            await uow.commit()
        await registry.store.engine.dispose()

    # In a thread of its own: Playwright's browser, kept open for the whole folder, runs an event loop in this one.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, prepare()).result()
    auth.forget_cached_passwords()

    @app.get("/probe/read", dependencies=[Depends(auth.require_role("viewer"))])
    async def read(request: Request) -> dict:
        return {"actor": auth.actor(request)}

    @app.post("/probe/change")
    async def change(request: Request, manager: auth.Manager = MANAGER_ONLY) -> dict:
        return {"actor": auth.actor(request), "role": manager.role}

    return TestClient(app)  # no lifespan: the broker is not needed here


def test_the_api_asks_for_a_sign_in_and_checks_the_role(client: TestClient) -> None:
    missing = client.get("/probe/read")
    # No challenge: a browser asked for Basic would keep the login and send it with other sites' forms.
    assert missing.status_code == 401 and "www-authenticate" not in missing.headers
    assert "Sign in first" in missing.json()["detail"]
    assert client.get("/probe/read", auth=(ADMIN[0], "wrong password")).status_code == 401
    assert client.get("/probe/read", auth=VIEWER).json() == {"actor": VIEWER[0]}
    refused = client.post("/probe/change", auth=VIEWER)
    assert refused.status_code == 403 and "needs manager" in refused.json()["detail"]
    # The first admin comes from the settings, and may do everything a manager may.
    assert client.post("/probe/change", auth=ADMIN).json() == {"actor": ADMIN[0], "role": "admin"}


def test_a_browser_session_may_read_the_api_but_not_change_anything(client: TestClient) -> None:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/sign-in").text).group(1)
    signed_in = client.post(
        "/sign-in", data={"csrf_token": token, "email": ADMIN[0], "password": ADMIN[1]}, follow_redirects=False
    )
    assert signed_in.status_code == 303
    assert client.get("/probe/read").json() == {"actor": ADMIN[0]}
    # Another site could make a signed-in browser send a POST: the cookie alone is not enough,
    # nor the cookie with a password, but the cookie with the session's form token is.
    assert client.post("/probe/change").status_code == 403
    assert client.post("/probe/change", auth=ADMIN).status_code == 403
    form_token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/manage/users").text).group(1)
    assert client.post("/probe/change", headers={"X-CSRF-Token": form_token}).json() == {"actor": ADMIN[0], "role": "admin"}


def test_five_wrong_passwords_lock_the_account_for_a_while(client: TestClient) -> None:
    for _ in range(auth.MAX_FAILED_SIGN_INS):
        assert client.get("/probe/read", auth=(VIEWER[0], "not it")).status_code == 401
    locked = client.get("/probe/read", auth=VIEWER)
    assert locked.status_code == 401 and f"wait {auth.LOCK_MINUTES} minutes" in locked.json()["detail"]
