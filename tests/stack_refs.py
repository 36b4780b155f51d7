"""The event references of a running stack's leaders, read from the registry's database.

Events name people by these random references, never by the registry's id
(services/registry/event_refs.py); a test that reads topics finds its people by them."""

from __future__ import annotations

from services.launcher import Stack


async def event_refs(stack: Stack) -> dict[str, str]:
    """Every registered leader's event reference, by registry id."""
    return await stack.event_refs()


async def event_ref_of(stack: Stack, leader_id: str) -> str:
    ref = (await event_refs(stack)).get(leader_id)
    assert ref, f"{leader_id} has an event reference"
    return ref
