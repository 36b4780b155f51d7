"""Viewers see who is on the programme, never what they care about (topics may say something of
their health) nor their needs: in the pages and in the API alike."""

from __future__ import annotations

import re

import httpx
import pytest

from services.registry.adapters.orm import ManagerRow
from services.registry.sample import sample_leaders
from services.registry.web import auth
from tests.integration.conftest import ADMIN, unique

pytestmark = pytest.mark.integration

VIEWER = ("viewer@test.example", "a long viewer password")


async def add_viewer(registry) -> None:
    async with registry.store.unit_of_work() as uow:
        uow.session.add(
            ManagerRow(
                email=VIEWER[0],
                name="Viewer",
                role="viewer",
                password_hash=auth.hash_password(VIEWER[1]),
                active=True,
                failed_sign_ins=0,
            )
        )
        await uow.commit()


def browser(registry: httpx.AsyncClient, **options) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=registry._transport.app), base_url="http://registry", **options)


async def sign_in(http: httpx.AsyncClient, email: str, password: str) -> None:
    token = re.search(r'name="csrf_token" value="([^"]+)"', (await http.get("/sign-in")).text).group(1)
    answer = await http.post("/sign-in", data={"csrf_token": token, "email": email, "password": password, "next": "/manage"})
    assert answer.status_code == 303 and answer.headers["location"] == "/manage"


@pytest.fixture
async def leader(registry) -> dict:
    auth.forget_cached_passwords()
    await add_viewer(registry)
    leader = {**unique(sample_leaders()[4]), "topics": ["cancer"]}  # step-free access, regular breaks
    assert (await registry.post("/leaders", json=leader)).status_code in (200, 201, 202)
    return leader


async def test_viewers_pages_show_no_topics_and_search_none(registry, leader):
    async with browser(registry) as viewer:
        await sign_in(viewer, *VIEWER)
        listed = await viewer.get("/manage/leaders", params={"q": leader["id"]})
        assert leader["name"] in listed.text and "cancer" not in listed.text.lower()
        assert ">Topics<" not in listed.text
        by_topic = await viewer.get("/manage/leaders", params={"q": "cancer"})
        assert leader["id"] not in by_topic.text
        record = await viewer.get(f"/manage/leaders/{leader['id']}")
        assert record.status_code == 200 and leader["name"] in record.text
        assert "cancer" not in record.text.lower() and "Topics they care about" not in record.text
        assert "step-free" not in record.text.lower() and "breaks" not in record.text.lower()
    async with browser(registry) as manager:
        await sign_in(manager, *ADMIN)
        assert leader["id"] in (await manager.get("/manage/leaders", params={"q": "cancer"})).text
        assert "cancer" in (await manager.get(f"/manage/leaders/{leader['id']}")).text.lower()


async def test_viewers_api_shows_no_topics_or_needs(registry, leader):
    async with browser(registry, auth=VIEWER) as viewer:
        listed = await viewer.get("/leaders", params={"per_page": 500})
        assert listed.status_code == 200
        mine = [item for item in listed.json()["items"] if item["id"] == leader["id"]]
        assert mine and "topics" not in mine[0] and "access_needs" not in mine[0]
        assert "cancer" not in listed.text.lower()
        assert (await viewer.get(f"/leaders/{leader['id']}")).status_code == 403
