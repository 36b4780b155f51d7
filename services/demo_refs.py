"""Whose each message is, for the demos: messages name people by their event reference, never the registry's
id (services/registry/event_refs.py), so the demos read the references from the registry's database. Once
for each person: read again only when a message names someone not seen before (or asked about, someone new)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Protocol


class HasRefs(Protocol):
    async def event_refs(self) -> dict[str, str]:
        """Every registered leader's event reference, by registry id (services/launcher.Stack)."""
        ...


class EventRefs:
    """Event reference by registry id and back, read from the registry only when someone new appears."""

    def __init__(self, stack: HasRefs):
        self.stack = stack
        self.by_id: dict[str, str] = {}
        self.unknown: set[str] = set()  # references the registry did not know when last asked (someone erased)
        self.reads = 0

    def read(self) -> None:
        self.by_id = asyncio.run(self.stack.event_refs())
        self.reads += 1

    def refs_of(self, leader_ids: Iterable[str]) -> dict[str, str]:
        """Event reference by registry id, for the people registered."""
        leader_ids = list(leader_ids)
        if any(leader_id not in self.by_id for leader_id in leader_ids):
            self.read()
        return {leader_id: self.by_id[leader_id] for leader_id in leader_ids if leader_id in self.by_id}

    def ids_of(self, refs: Iterable[str]) -> dict[str, str]:
        """Registry id by event reference, for the references that name someone registered."""
        refs = set(refs)
        new = refs - set(self.by_id.values()) - self.unknown
        if new:
            self.read()
            self.unknown |= new - set(self.by_id.values())
        by_ref = {ref: leader_id for leader_id, ref in self.by_id.items()}
        return {ref: by_ref[ref] for ref in refs if ref in by_ref}
