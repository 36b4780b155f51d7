"""Event references: the random, meaningless name each person has in events, instead of their id.

A leader's registry id is often a reference a manager typed or imported, and may name them; events
outlive the person (tombstone keys on the compacted topics, records on the others until retention
removes them). So every event the registry writes names people by their event reference
(`p-` and 20 random hex digits, kept beside the leader in `leaders.event_ref`), and every event it
reads back has its references turned into registry ids, here and nowhere else: the domain, the
pages and the database keep using registry ids. Erasure deletes the leader's row, and with it the
only link from the reference to the person: the references left on the topics point to no one.

Outward, `ReferencingUnitOfWork` translates every event and tombstone in one step at commit (one
query for the whole transaction). Inward, `inward` replaces every reference anywhere in an event,
free text included (the matcher's suggestions name people in words).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import pydantic_core
from sqlalchemy import event as orm_event
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.events import Envelope
from schemas.topics import Topic
from services.common.crypto import Cipher
from services.common.store import Store, UnitOfWork
from services.common.tracing import trace_headers
from services.registry.adapters.orm import Base, Inbox, LeaderRow, Outbox, new_event_ref

E = TypeVar("E", bound=Envelope)

# The registry's ids allow letters, digits, dot, dash and underscore; a reference is never part of a longer one.
# (A full stop after one ends a sentence, unless more of an id follows it.)
REF = re.compile(r"(?<![A-Za-z0-9._-])p-[0-9a-f]{20}(?![A-Za-z0-9_-]|\.[A-Za-z0-9_-])")

# The fields of the registry's events that name a person (schemas/events.py, schemas/cohort.py).
PERSON_FIELDS = frozenset({"leader_id", "partner_id", "lived_experience_id", "professional_id"})
PEOPLE_FIELDS = frozenset(
    {"do_not_pair_with", "left_out_before", "leader_ids"}
)  # lists of people (a profile's left_out_before is a flag)
PAIR_FIELDS = frozenset({"locked_pairs", "forbidden_pairs", "previous_pairs"})
KEYED_BY_PERSON = frozenset({"leader_versions"})
# The parts of an event's data that hold person fields (a person field added anywhere else must be added
# here: tests/e2e/test_erasure_everywhere.py searches every topic for the registry's ids).
HOLDING_PEOPLE = frozenset({"profile", "partners", "pairs", "unmatched"})
# The parts whose own `id` is a person: a leader's profile, and someone a round could not pair.
IDENTIFYING_PEOPLE = frozenset({"profile", "unmatched"})
# Every value marked NAMES_A_PERSON (schemas/cohort.py's LeaderId) in every event must be covered by one of
# these: tests/unit/registry/test_event_ref_fields.py walks the contract and fails on one they miss.

TO_REF, TO_ID = "event refs: id to reference", "event refs: reference to id"  # the transaction's caches (session.info)


new_ref = new_event_ref


def is_ref(value: str) -> bool:
    return REF.fullmatch(value) is not None


CONTAINERS = (dict, list)  # a tuple: isinstance takes it faster than `dict | list`
# Every name `renamed` looks at: any other is copied as it is, without looking at its value.
NAMED = PERSON_FIELDS | PEOPLE_FIELDS | PAIR_FIELDS | KEYED_BY_PERSON | HOLDING_PEOPLE | {"id"}


def renamed(data: Any, swap: Callable[[str], str], within: str = "") -> Any:
    """The event's data with every person field passed through `swap` (also used to collect them)."""
    if isinstance(data, list):
        return [renamed(item, swap, within) if isinstance(item, CONTAINERS) else item for item in data]
    if not isinstance(data, dict):
        return data
    # A copy whose few named fields are replaced in place, so it keeps the order of its keys
    # (an event's body is written in that order): most of an event's fields name no one.
    out = dict(data)
    for name in NAMED.intersection(data):
        value = data[name]
        if isinstance(value, str):
            if name in PERSON_FIELDS or (name == "id" and within in IDENTIFYING_PEOPLE):
                out[name] = swap(value)
        elif name in PEOPLE_FIELDS and isinstance(value, list):
            out[name] = [swap(person) for person in value]
        elif name in PAIR_FIELDS and isinstance(value, list):
            out[name] = [[swap(person) for person in pair] for pair in value]
        elif name in KEYED_BY_PERSON and isinstance(value, dict):
            out[name] = {swap(person): v for person, v in value.items()}
        elif name in HOLDING_PEOPLE and isinstance(value, CONTAINERS):
            out[name] = renamed(value, swap, name)
    return out  # numbers, flags and nothing kept as they are, as is all else


def people_in(data: Any) -> set[str]:
    found: set[str] = set()
    renamed(data, lambda person: found.add(person) or person)  # type: ignore[func-returns-value]
    return found


def is_about_a_person(topic: Topic) -> bool:
    return topic.key == "leader_id"


def _caches(uow: UnitOfWork) -> tuple[dict[str, str], dict[str, str]]:
    info = uow.session.info
    return info.setdefault(TO_REF, {}), info.setdefault(TO_ID, {})


def remember(uow: UnitOfWork, leader_id: str, ref: str) -> None:
    """A leader's reference for this transaction's events: one made in it (not yet in the database,
    perhaps not yet flushed), or one an import read as plain values rather than as an entity."""
    to_ref, to_id = _caches(uow)
    to_ref[leader_id], to_id[ref] = ref, leader_id


@orm_event.listens_for(LeaderRow, "load")
def _remember_loaded(row: LeaderRow, context: Any) -> None:
    # Every leader read in a transaction is known here, so an erased person's reference is still
    # at hand for the tombstones written in the same transaction, and bulk imports need no query each.
    info = context.session.info
    info.setdefault(TO_REF, {})[row.id] = row.event_ref
    info.setdefault(TO_ID, {})[row.event_ref] = row.id


async def refs_of(uow: UnitOfWork, leader_ids: Iterable[str]) -> dict[str, str]:
    """Registry id to event reference, for the leaders that exist (or were read in this transaction)."""
    to_ref, to_id = _caches(uow)
    leader_ids = list(leader_ids)
    wanted = sorted({i for i in leader_ids if i not in to_ref})
    for start in range(0, len(wanted), 1000):
        rows = await uow.session.execute(
            select(LeaderRow.id, LeaderRow.event_ref).where(LeaderRow.id.in_(wanted[start : start + 1000]))
        )
        for leader_id, ref in rows.all():
            to_ref[leader_id], to_id[ref] = ref, leader_id
    return {i: to_ref[i] for i in leader_ids if i in to_ref}


async def ids_of(uow: UnitOfWork, refs: Iterable[str]) -> dict[str, str]:
    """Event reference to registry id, for the people still registered; an erased person's is gone."""
    to_ref, to_id = _caches(uow)
    refs = list(refs)
    wanted = sorted({r for r in refs if r not in to_id})
    for start in range(0, len(wanted), 1000):
        rows = await uow.session.execute(
            select(LeaderRow.event_ref, LeaderRow.id).where(LeaderRow.event_ref.in_(wanted[start : start + 1000]))
        )
        for ref, leader_id in rows.all():
            to_ref[leader_id], to_id[ref] = ref, leader_id
    return {r: to_id[r] for r in refs if r in to_id}


@dataclass(frozen=True)
class KeptKey:
    """A tombstone whose key is sent as it is: for records written before events carried references."""

    event_id: str


# An event, one already dumped (UnitOfWork.publish_body), a tombstone's event id, or a KeptKey.
Waiting = tuple[Topic, str, Envelope | dict[str, Any] | str | KeptKey]


def tombstone_by_id(uow: UnitOfWork, topic: Topic, leader_id: str, event_id: str) -> None:
    """Erase a record keyed by the registry id itself (written before events carried references)."""
    if isinstance(uow, ReferencingUnitOfWork):
        uow.waiting.append((topic, leader_id, KeptKey(event_id)))
    else:
        uow.tombstone(topic, leader_id, event_id)


@dataclass(frozen=True)
class Outgoing:
    """One outbox row, as it goes: an event's body (JSON, by alias) or a tombstone (no body)."""

    topic: Topic
    key: str
    event_id: str
    event_type: str
    correlation_id: str
    body: dict[str, Any] | None

    def value(self) -> bytes | None:
        # Compact UTF-8 JSON, as json.dumps with separators (",", ":") and ensure_ascii=False writes it, in less time.
        return None if self.body is None else pydantic_core.to_json(self.body)


async def outward(uow: UnitOfWork, waiting: list[Waiting]) -> list[Outgoing]:
    """The transaction's events and tombstones with every registry id turned into an event reference.

    An id with no leader behind it (a placeholder for an erased person, an id that was never
    registered) gets a reference made for this transaction only: no registry id ever leaves.

    One pass with the references the transaction already knows (an import has read every leader it
    changes), noting anyone it does not; only when there is someone, they are looked up and the
    events are renamed again from the start."""
    dumped = [
        item.model_dump(mode="json", by_alias=True) if isinstance(item, Envelope) else item if isinstance(item, dict) else None
        for _, _, item in waiting
    ]
    to_ref, known_refs = _caches(uow)
    unknown: set[str] = set()

    def known(person: str) -> str:
        # A registry id that happens to look like a reference is still looked up; a known reference is not.
        if person in known_refs:
            return person
        if (ref := to_ref.get(person)) is None:
            unknown.add(person)
            return person
        return ref

    out = _renamed_all(waiting, dumped, known)
    if not unknown:
        return out
    mapping = await refs_of(uow, unknown)
    for person in unknown:
        if person not in mapping and not is_ref(person):
            mapping[person] = new_ref()

    def swap(person: str) -> str:
        return mapping[person] if person in mapping else known(person)

    return _renamed_all(waiting, dumped, swap)


def _renamed_all(waiting: list[Waiting], dumped: list[dict[str, Any] | None], swap: Callable[[str], str]) -> list[Outgoing]:
    """Every event and tombstone with each person passed through `swap`; `dumped` is left as it was."""
    out: list[Outgoing] = []
    for (topic, key, item), body in zip(waiting, dumped, strict=True):
        if isinstance(item, KeptKey):
            out.append(Outgoing(topic, key, item.event_id, "Tombstone", key, None))
            continue
        new_key = swap(key) if is_about_a_person(topic) else key
        if isinstance(item, str):  # a tombstone is about the key it erases
            out.append(Outgoing(topic, new_key, item, "Tombstone", new_key, None))
            continue
        assert body is not None
        renamed_body = {**body, "data": renamed(body["data"], swap)}
        if is_about_a_person(topic) and body["correlation_id"] == key:
            renamed_body["correlation_id"] = new_key
        # The body's event id is the event's, as text (cheaper than turning the UUID into text again).
        out.append(Outgoing(topic, new_key, body["event_id"], body["event_type"], renamed_body["correlation_id"], renamed_body))
    return out


async def inward(uow: UnitOfWork, event: E) -> E:
    """An event read from a topic with every event reference, anywhere in it, turned into a registry id.

    A reference of someone erased stays as it is: it names no one."""
    text = event.model_dump_json(by_alias=True)
    found = set(REF.findall(text))
    if not found or not (ids := await ids_of(uow, found)):
        return event
    return type(event).model_validate_json(REF.sub(lambda m: ids.get(m.group(0), m.group(0)), text))


def translated(handler: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """A consumer's handler `(uow, event, *args)` that sees registry ids, never references."""

    async def handle(uow: UnitOfWork, event: Envelope, *args: Any) -> None:
        await handler(uow, await inward(uow, event), *args)

    return handle


class ReferencingUnitOfWork(UnitOfWork):
    """The registry's unit of work: events and tombstones wait until commit, then go into the
    outbox with event references in place of registry ids, in the order they were written."""

    def __init__(self, store: Store):
        super().__init__(store)
        self.waiting: list[Waiting] = []

    def publish(self, topic: Topic, key: str, event: Envelope) -> None:
        self.waiting.append((topic, key, event))

    def publish_body(self, topic: Topic, key: str, body: dict[str, Any]) -> None:
        self.waiting.append((topic, key, body))

    def tombstone(self, topic: Topic, key: str, event_id: str) -> None:
        self.waiting.append((topic, key, event_id))

    async def commit(self) -> None:
        waiting, self.waiting = self.waiting, []
        # Every row goes in now, in one context: its trace headers are read once (an import writes thousands).
        trace = trace_headers() if waiting else {}
        for row in await outward(self, waiting) if waiting else []:
            if (value := row.value()) is None:
                self._add_outbox(row.topic, row.key, row.event_id, None, row.event_type, row.correlation_id, trace)
            else:
                self._add_event(row.topic, row.key, row.event_id, value, row.event_type, row.correlation_id, trace)
        await super().commit()


class RegistryStore(Store):
    def unit_of_work(self) -> UnitOfWork:
        return ReferencingUnitOfWork(self)


def registry_store(engine: AsyncEngine, cipher: Cipher | None = None) -> RegistryStore:
    """The registry's database, whose units of work write events with references (every registry process and test uses it)."""
    return RegistryStore(engine, Outbox, Inbox, Base.metadata, cipher)
