"""What the round handlers need from storage, as a Protocol, so a handler written against it can be
unit tested with an in-memory fake; SqlRounds gives the same through the unit of work's database
session and outbox. Integration tests keep the real database.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import select

from schemas.events import Envelope
from schemas.topics import Topic
from services.common.store import UnitOfWork
from services.registry.adapters.orm import PairRow, RoundRow
from services.registry.handlers.common import NotFound, Publisher


class Rounds(Publisher, Protocol):
    """A round, its proposed pairs, and the outbox the events about it go to."""

    async def round(self, round_id: str) -> RoundRow | None: ...

    async def pairs(self, round_id: str) -> Sequence[PairRow]: ...


class SqlRounds:
    """Rounds in the registry's database, within one unit of work (its caller commits)."""

    def __init__(self, uow: UnitOfWork):
        self.uow = uow

    async def round(self, round_id: str) -> RoundRow | None:
        return await self.uow.session.get(RoundRow, round_id)

    async def pairs(self, round_id: str) -> Sequence[PairRow]:
        return (await self.uow.session.scalars(select(PairRow).where(PairRow.round_id == round_id))).all()

    def publish(self, topic: Topic, key: str, event: Envelope) -> None:
        self.uow.publish(topic, key, event)


async def round_in(rounds: Rounds, round_id: str) -> RoundRow:
    row = await rounds.round(round_id)
    if row is None:
        raise NotFound(f"there is no round called {round_id}")
    return row
