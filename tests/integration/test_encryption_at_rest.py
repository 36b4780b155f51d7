"""Names, contact details and access needs never sit in plain text in a database: not in any
table, not in an event waiting in the outbox, and (on SQLite) not anywhere in the database file or
its write-ahead log, before or after the relay has published the events."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from services.common.relay import OutboxRelay
from services.registry.sample import sample_leaders
from tests.integration.conftest import running_registry

pytestmark = pytest.mark.integration

NEEDS = ["bsl_interpreter", "step_free_access", "hearing_loop"]


@pytest.fixture
def relay_gate(monkeypatch) -> asyncio.Event:
    """Holds the registry's outbox relay until the test sets the event, so the events can be
    seen waiting in the outbox."""
    gate = asyncio.Event()
    original = OutboxRelay.publish_pending

    async def gated(self: OutboxRelay) -> int:
        await gate.wait()
        return await original(self)

    monkeypatch.setattr(OutboxRelay, "publish_pending", gated)
    return gate


@pytest.fixture
def postgres_url(postgres_database) -> str:
    return postgres_database("atrest")  # outside the test's event loop: it makes the database with asyncio.run


def secret_leaders(count: int) -> list[dict]:
    """Leaders whose every personal detail is unique to this test, so finding it anywhere is a leak."""
    leaders = []
    for i, base in enumerate(sample_leaders()[:count]):
        tag = uuid.uuid4().hex[:8]
        leaders.append(
            {
                **base,
                "id": f"{base['id']}-{tag}",
                "name": f"Zephyrine Quillfeather {tag}",
                "email": f"secret-{tag}@example.org",
                "phone": f"07700 9{i:02d}{tag[:3]}",
                "postal_address": f"{i + 17} Larkspur Row {tag}, Gateshead NE8 1AA",
                "access_needs": NEEDS,
            }
        )
    return leaders


def plain_details(leaders: list[dict]) -> list[str]:
    return [leader[field] for leader in leaders for field in ("name", "email", "phone", "postal_address")] + NEEDS


async def register(client: httpx.AsyncClient, leaders: list[dict]) -> None:
    for leader in leaders:
        response = await client.post("/leaders", json=leader)
        assert response.status_code == 201, response.text


async def unpublished(store) -> int:
    async with store.engine.connect() as conn:
        return (await conn.execute(text("select count(*) from outbox where published_at is null"))).scalar()


async def until_published(store) -> None:
    for _ in range(200):
        if await unpublished(store) == 0:
            return
        await asyncio.sleep(0.05)
    pytest.fail("the relay did not publish the outbox")


def file_bytes(db: Path) -> dict[str, bytes]:
    """The database file and its companions (-wal, -shm, -journal) as they are on disk."""
    return {path.name: path.read_bytes() for path in db.parent.iterdir() if path.name.startswith(db.name)}


def leaks(files: dict[str, bytes], details: list[str]) -> list[tuple[str, str]]:
    return [(name, detail) for name, content in files.items() for detail in details if detail.encode() in content]


async def test_the_sqlite_file_and_its_log_hold_no_plain_personal_details(tmp_path, kafka_settings, relay_gate):
    db = tmp_path / "registry.db"
    leaders = secret_leaders(4)
    details = plain_details(leaders)
    async with running_registry(f"sqlite:///{db}", kafka_settings) as client:
        store = client.store
        await register(client, leaders)
        # Three events a person: the matching profile, the sealed contact record and its key.
        assert await unpublished(store) == 3 * len(leaders), "the events are waiting in the outbox"
        before = file_bytes(db)
        assert any(name.endswith("-wal") and content for name, content in before.items()), "the writes are in the log"
        assert leaks(before, details) == [], "waiting events are encrypted"

        relay_gate.set()
        await until_published(store)
        assert leaks(file_bytes(db), details) == [], "published events leave nothing behind"

        # Copy the log into the main file, as SQLite does by itself from time to time.
        async with store.engine.connect() as conn:
            # Cleared bodies and deleted rows are overwritten, not left in the file's free space.
            assert (await conn.execute(text("PRAGMA secure_delete"))).scalar() == 1
            await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        assert leaks(file_bytes(db), details) == []

        # The details are all there, encrypted: the registry reads them back.
        read = (await client.get(f"/leaders/{leaders[0]['id']}", params={"purpose": "test"})).json()
        assert (read["email"], read["postal_address"], read["access_needs"]) == (
            leaders[0]["email"],
            leaders[0]["postal_address"],
            NEEDS,
        )


async def test_events_waiting_in_the_postgresql_outbox_are_encrypted(postgres_url, kafka_settings, relay_gate):
    leaders = secret_leaders(2)
    async with running_registry(postgres_url, kafka_settings) as client:
        store = client.store
        await register(client, leaders)
        async with store.engine.connect() as conn:
            bodies = [row.value for row in (await conn.execute(text("select value from outbox where published_at is null")))]
        assert len(bodies) == 3 * len(leaders) and all(bodies), "profile, sealed contact record and its key"
        stored = b"".join(bodies)
        assert [d for d in plain_details(leaders) if d.encode() in stored] == []

        relay_gate.set()
        await until_published(store)
        async with store.engine.connect() as conn:
            assert (await conn.execute(text("select count(*) from outbox where value is not null"))).scalar() == 0
