"""What the round handlers need from storage, as Protocols, so a handler written against them can
be unit tested with an in-memory fake; SqlRounds gives the same through the unit of work's database
session and outbox. Integration tests keep the real database.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

from sqlalchemy import select

from schemas.events import Envelope
from schemas.topics import Topic
from services.common.store import UnitOfWork
from services.registry.adapters.orm import AnswerCodeRow, AuditRow, LeaderRow, PairRow, ResponseRow, RoundRow, UnmatchedRow
from services.registry.domain.programmes import ProgrammeDefaults, ProgrammeTerms
from services.registry.handlers.common import NotFound, Publisher, audit_many
from services.registry.handlers.programmes import programme_terms


class Rounds(Publisher, Protocol):
    """A round, its proposed pairs (in the order they were stored), and the outbox the events about it go to."""

    async def round(self, round_id: str) -> RoundRow | None: ...

    async def pairs(self, round_id: str) -> Sequence[PairRow]: ...


class Publications(Rounds, Protocol):
    """What publishing a round reads besides the round and its pairs, and the rows it adds: the answer
    codes in the links people are sent, and the audit log of reading their access needs."""

    async def leaders(self, leader_ids: Collection[str]) -> Sequence[LeaderRow]: ...

    async def programme_terms(self, cohort_id: str | None, defaults: ProgrammeDefaults) -> ProgrammeTerms: ...

    async def said_no(self, round_id: str) -> Sequence[tuple[str, str]]:
        """Each (leader, partner) in the round where the leader said no (leaving counts as no)."""
        ...

    async def unmatched(self, round_id: str) -> Sequence[UnmatchedRow]: ...

    def taken_references(self, round_id: str) -> set[str]:
        """The answer references given out in this round by this unit of work (a round is published in one)."""
        ...

    def add(self, row: AnswerCodeRow | AuditRow) -> None: ...

    async def audit_many(self, actor: str, action: str, leader_ids: list[str], purpose: str) -> None:
        """One audit row for each person, the same actor, action and purpose."""
        ...


class SqlRounds:
    """Rounds in the registry's database, within one unit of work (its caller commits)."""

    def __init__(self, uow: UnitOfWork):
        self.uow = uow

    async def round(self, round_id: str) -> RoundRow | None:
        return await self.uow.session.get(RoundRow, round_id)

    async def pairs(self, round_id: str) -> Sequence[PairRow]:
        return (await self.uow.session.scalars(select(PairRow).where(PairRow.round_id == round_id).order_by(PairRow.id))).all()

    def publish(self, topic: Topic, key: str, event: Envelope) -> None:
        self.uow.publish(topic, key, event)

    async def leaders(self, leader_ids: Collection[str]) -> Sequence[LeaderRow]:
        return (await self.uow.session.scalars(select(LeaderRow).where(LeaderRow.id.in_(leader_ids)))).all()

    async def programme_terms(self, cohort_id: str | None, defaults: ProgrammeDefaults) -> ProgrammeTerms:
        return await programme_terms(self.uow, cohort_id, defaults)

    async def said_no(self, round_id: str) -> Sequence[tuple[str, str]]:
        said = await self.uow.session.execute(
            select(ResponseRow.leader_id, ResponseRow.partner_id).where(
                ResponseRow.round_id == round_id, ResponseRow.answer == "decline"
            )
        )
        return [(leader_id, partner_id) for leader_id, partner_id in said.all()]

    async def unmatched(self, round_id: str) -> Sequence[UnmatchedRow]:
        return (
            await self.uow.session.scalars(
                select(UnmatchedRow).where(UnmatchedRow.round_id == round_id).order_by(UnmatchedRow.id)
            )
        ).all()

    def taken_references(self, round_id: str) -> set[str]:
        taken: set[str] = self.uow.session.info.setdefault(("answer references", round_id), set())
        return taken

    def add(self, row: AnswerCodeRow | AuditRow) -> None:
        self.uow.session.add(row)

    async def audit_many(self, actor: str, action: str, leader_ids: list[str], purpose: str) -> None:
        # One statement: the ORM inserts rows with a generated id one at a time on SQLite.
        await audit_many(self.uow, actor, action, leader_ids, purpose)


async def round_in(rounds: Rounds, round_id: str) -> RoundRow:
    row = await rounds.round(round_id)
    if row is None:
        raise NotFound(f"there is no round called {round_id}")
    return row
