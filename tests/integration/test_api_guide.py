"""The API guide (/docs) and its description (/openapi.json): signed-in people only, its viewer
served from the registry itself under the content security policy."""

from __future__ import annotations

import re

import httpx
import pytest

from services.registry.web.security import CONTENT_SECURITY_POLICY
from tests.integration.conftest import ADMIN

pytestmark = pytest.mark.integration


def browser(registry: httpx.AsyncClient) -> httpx.AsyncClient:
    """A client of the same registry with no sign-in of its own, as a browser."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=registry._transport.app), base_url="http://registry")


async def sign_in(http: httpx.AsyncClient) -> None:
    token = re.search(r'name="csrf_token" value="([^"]+)"', (await http.get("/sign-in")).text).group(1)
    answer = await http.post("/sign-in", data={"csrf_token": token, "email": ADMIN[0], "password": ADMIN[1], "next": "/manage"})
    assert answer.status_code == 303 and answer.headers["location"] == "/manage"


async def test_the_guide_and_its_description_need_a_sign_in(registry):
    async with browser(registry) as stranger:
        guide = await stranger.get("/docs")
        assert guide.status_code == 303 and guide.headers["location"].startswith("/sign-in?next=%2Fdocs")
        assert (await stranger.get("/openapi.json")).status_code == 401
        assert (await stranger.get("/redoc")).status_code == 404


async def test_the_guide_loads_only_this_sites_pinned_files_under_the_policy(registry):
    async with browser(registry) as person:
        await sign_in(person)
        guide = await person.get("/docs")
        assert guide.status_code == 200
        assert guide.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "script-src 'self'" in guide.headers["content-security-policy"]
        sources = re.findall(r'(?:src|href)="([^"]+)"', guide.text)
        assert sources and all(source.startswith("/static/swagger/") for source in sources)
        assert "<script>" not in guide.text  # no inline script: the policy would block it
        for source in sources:
            asset = await person.get(source)
            assert asset.status_code == 200 and len(asset.content) > 0
            assert "sourceMappingURL" not in asset.text
        assert re.fullmatch(r"swagger-ui-dist \d+\.\d+\.\d+\n", (await person.get("/static/swagger/VERSION")).text)
        description = await person.get("/openapi.json")
        assert description.status_code == 200 and "/leaders" in str(description.json()["paths"])


async def test_programs_read_the_description_with_their_sign_in(registry):
    description = await registry.get("/openapi.json")  # Basic, as the registry fixture signs in
    assert description.status_code == 200
    assert description.json()["info"]["title"] == "Pairing registry"
