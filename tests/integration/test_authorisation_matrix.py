"""Every API route against every kind of caller: nobody, a viewer, a manager, an
admin, and a leader holding an answer link (valid, expired or already used).

The expected answer is the least the role needs: 401 for nobody, 403 for a role
below the route's, and otherwise anything but 401 or 403 (the request itself may
still be refused for its content, for example a round that does not exist).
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from itsdangerous import URLSafeTimedSerializer

from services.common.crypto import new_key
from services.registry.adapters.orm import ManagerRow
from services.registry.app import create_app
from services.registry.config import RegistrySettings
from services.registry.web.api_auth import create_token
from services.registry.web.auth import hash_password

pytestmark = pytest.mark.integration

ROLES = ("viewer", "manager", "admin")
PASSWORD = "a long test password"
NEEDS = {  # route -> the least role that may call it (None: open to everyone)
    ("GET", "/live"): None,
    ("GET", "/health"): None,
    ("GET", "/leaders"): "viewer",
    ("GET", "/cohorts/c-1"): "viewer",
    ("GET", "/rounds"): "viewer",
    ("POST", "/leaders"): "manager",
    ("GET", "/leaders/import/template.csv"): "manager",
    ("GET", "/leaders/import/template.xlsx"): "manager",
    ("POST", "/leaders/import"): "manager",
    ("GET", "/leaders/l-1"): "manager",
    ("DELETE", "/leaders/l-1"): "manager",
    ("PUT", "/leaders/l-1"): "manager",
    ("POST", "/rounds"): "manager",
    ("GET", "/rounds/r-1"): "manager",
    ("POST", "/rounds/r-1/lock"): "manager",
    ("POST", "/rounds/r-1/forbid"): "manager",
    ("POST", "/rounds/r-1/resolve"): "manager",
    ("POST", "/rounds/r-1/pair-again"): "manager",
    ("POST", "/rounds/r-1/cancel"): "manager",
    ("POST", "/rounds/r-1/close"): "manager",
    ("POST", "/rounds/r-1/approve"): "manager",
    ("POST", "/rounds/r-1/publish"): "manager",
    ("POST", "/rounds/r-1/answers"): "manager",
    ("POST", "/rounds/r-1/pairs/end"): "manager",
    ("POST", "/programmes"): "manager",
    ("POST", "/programmes/p-1/cohorts"): "manager",
    ("GET", "/programmes/p-1"): "viewer",
    ("PUT", "/programmes/p-1"): "manager",
    ("POST", "/cohorts/c-1/members"): "manager",
    ("GET", "/audit"): "admin",
    ("GET", "/operations/services"): "viewer",
    ("GET", "/api-tokens"): "admin",
    ("POST", "/api-tokens"): "admin",
    ("DELETE", "/api-tokens/t-1"): "admin",
}


@pytest.fixture(scope="module")
def authz_database(postgres_database) -> str:
    return postgres_database("authz")


@pytest.fixture(scope="module")
async def registry_app(authz_database, kafka_settings):
    key = new_key()
    settings = RegistrySettings(
        database_url=authz_database,
        encryption_keys=key,
        event_keys=key,
        token_secret=key,
        kafka=kafka_settings,
        admin_email="first-admin@test.example",
        admin_password=PASSWORD,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with app.state.registry.store.unit_of_work() as uow:
            for role in ROLES:
                uow.session.add(
                    ManagerRow(
                        email=f"{role}@test.example",
                        name=f"A {role}",
                        role=role,
                        password_hash=hash_password(PASSWORD),
                        active=True,
                        failed_sign_ins=0,
                    )
                )
            await uow.commit()
        # Programs use API tokens: a password alone (HTTP Basic) is refused for managers and admins.
        registry = app.state.registry
        made = [await create_token(registry, f"matrix {role}", role, "first-admin@test.example") for role in ROLES]
        app.state.tokens = {token.role: token.token for token in made}
        yield app


def client(app, role: str | None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {app.state.tokens[role]}"} if role else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://registry", headers=headers)


def expected_allowed(needs: str | None, role: str | None) -> bool:
    return needs is None or (role is not None and ROLES.index(role) >= ROLES.index(needs))


@pytest.mark.parametrize("role", [None, *ROLES])
@pytest.mark.parametrize("method,path", list(NEEDS))
async def test_each_route_answers_each_role_as_it_should(registry_app, role, method, path):
    async with client(registry_app, role) as http:
        response = await http.request(method, path, json={} if method == "POST" else None)
    if expected_allowed(NEEDS[(method, path)], role):
        assert response.status_code not in (401, 403), response.text
        assert response.status_code < 500
    elif role is None:
        assert response.status_code == 401 and "Sign in" in response.json()["detail"]
    else:
        assert response.status_code == 403 and "cannot do this" in response.json()["detail"]


def test_every_api_route_is_in_the_matrix(registry_app):
    api_routes = {
        (method, route.path)
        for route in registry_app.routes
        if getattr(route, "include_in_schema", False) and not route.path.startswith(("/manage", "/responses", "/a/", "/sign"))
        for method in getattr(route, "methods", ()) - {"HEAD"}
    }
    templated = {
        (
            m,
            p.replace("r-1", "{round_id}")
            .replace("l-1", "{leader_id}")
            .replace("c-1", "{cohort_id}")
            .replace("p-1", "{programme_id}")
            .replace("t-1", "{token_id}"),
        )
        for m, p in NEEDS
    }
    assert api_routes <= templated, f"routes missing from the matrix: {sorted(api_routes - templated)}"


async def test_leader_links_work_once_and_expire(registry_app):
    """A leader needs no account, only the link: a forged, expired or reused link is refused."""
    settings = registry_app.state.registry.settings
    forged = URLSafeTimedSerializer(new_key(), salt="pairing-response").dumps(
        {"round": "r", "leader": "l", "partner": "p", "nonce": uuid.uuid4().hex}
    )
    expired = registry_app.state.registry.signer.dumps({"round": "r", "leader": "l", "partner": "p", "nonce": "n"})
    async with client(registry_app, None) as http:
        assert (await http.get(f"/responses/{forged}")).status_code == 400
        answer = await http.post(f"/responses/{forged}", data={"answer": "accept"})
        assert answer.status_code == 400 and "not complete" in answer.text
        # The same link read as if it were older than its lifetime.
        settings_days = settings.response_days
        try:
            object.__setattr__(settings, "response_days", -8)
            late = await http.get(f"/responses/{expired}")
        finally:
            object.__setattr__(settings, "response_days", settings_days)
        assert late.status_code == 400 and "expired" in late.text
