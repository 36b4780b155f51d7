"""Limits on every input, on the real registry: request bodies and uploads over their size are
refused (413) with a plain message, a spreadsheet that reaches too far is refused before it is
read, and names are stored without control or direction characters."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from services.registry.sample import sample_leaders
from tests.integration.conftest import running_registry, unique

pytestmark = pytest.mark.integration

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(params=["sqlite"])
def database_kind(request) -> str:
    return request.param  # the limits are the web layer's: one database is enough


@pytest.fixture
async def registry(database_url, kafka_settings):
    async with running_registry(database_url, kafka_settings) as client:
        yield client


async def test_a_body_over_the_limit_is_refused_before_it_is_read(registry):
    leader = {**unique(sample_leaders()[0]), "challenge": "x" * (3 * 1024 * 1024)}
    refused = await registry.post("/leaders", json=leader)
    assert refused.status_code == 413 and "too large" in refused.text and "2 MiB" in refused.text


async def test_a_body_without_a_length_is_counted_as_it_arrives(registry):
    async def chunks():
        for _ in range(40):
            yield b"x" * (64 * 1024)

    refused = await registry.post("/rounds", content=chunks(), headers={"Content-Type": "application/json"})
    assert refused.status_code == 413


async def test_an_upload_over_its_limit_is_refused(registry):
    big = b"id,name\n" + b"pl-1,Someone\n" * (6 * 1024 * 1024 // 13)
    refused = await registry.post("/leaders/import", files={"file": ("leaders.csv", big, "text/csv")})
    assert refused.status_code == 413 and "5 MiB" in refused.text and "Split" in refused.text


async def test_a_spreadsheet_reaching_far_is_refused_and_a_good_one_still_imports(registry):
    book = Workbook()
    book.active.append(["id", "name"])
    book.active.cell(row=20_000, column=520, value="x")
    buffer = io.BytesIO()
    book.save(buffer)
    refused = await registry.post("/leaders/import", files={"file": ("leaders.xlsx", buffer.getvalue(), XLSX)})
    assert refused.status_code == 422 and "row 20,000, column 520" in refused.json()["detail"]
    template = await registry.get("/leaders/import/template.xlsx")
    imported = await registry.post("/leaders/import", files={"file": ("leaders.xlsx", template.content, XLSX)})
    assert imported.status_code == 200, imported.text


async def test_names_are_kept_without_control_or_direction_characters(registry):
    leader = {**unique(sample_leaders()[0]), "name": "Amira\x00 \u202eAhmed\u2069"}
    assert (await registry.post("/leaders", json=leader)).status_code == 201
    assert (await registry.get(f"/leaders/{leader['id']}")).json()["name"] == "Amira Ahmed"
    too_many = await registry.post("/leaders", json={**unique(sample_leaders()[0]), "topics": ["x" * 61]})
    assert too_many.status_code == 422 and too_many.json()["errors"][0]["field"].startswith("topics")


async def test_an_import_that_meets_a_change_made_meanwhile_says_to_import_again(registry, monkeypatch):
    """Someone changed or removed a leader while their row was being imported (write_changed_rows):
    the person importing is told what happened and what to do, not shown a server error."""
    from sqlalchemy.orm.exc import StaleDataError

    from services.registry.handlers import leaders

    async def changed_meanwhile(uow) -> None:
        raise StaleDataError("1 leader(s) in the import were changed or removed meanwhile")

    monkeypatch.setattr(leaders, "write_changed_rows", changed_meanwhile)
    template = (await registry.get("/leaders/import/template.xlsx")).content
    refused = await registry.post("/leaders/import", files={"file": ("leaders.xlsx", template, XLSX)})
    assert refused.status_code == 409 and "Import the same file again" in refused.json()["detail"]
