"""The event references of a running stack's leaders, read from the registry's database.

Events name people by these random references, never by the registry's id
(services/registry/event_refs.py); a test that reads topics finds its people by them."""

from __future__ import annotations

from sqlalchemy import text

from services.common.store import make_engine
from services.launcher import Stack


async def event_refs(stack: Stack) -> dict[str, str]:
    """Every registered leader's event reference, by registry id."""
    url = stack.database_urls.get("registry") or f"sqlite:///{(stack.data_dir / 'registry.db').resolve()}"
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return dict((await conn.execute(text("select id, event_ref from leaders"))).all())
    finally:
        await engine.dispose()


async def event_ref_of(stack: Stack, leader_id: str) -> str:
    ref = (await event_refs(stack)).get(leader_id)
    assert ref, f"{leader_id} has an event reference"
    return ref
