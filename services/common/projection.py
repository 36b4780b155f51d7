"""Projections: a topic kept as a table (contact details, matching profiles, delivery reports).

A projection's events are small and come in floods (an import of 10,000
leaders, a round's 10,000 delivery reports). One transaction and one offset
commit per event made the offset commits and the database's commits the
bottleneck, so a projection takes a batch at a time:

- every event in the batch is applied in order in one transaction, each at
  most once (the inbox), and a tombstone erases its key where it falls;
- a record that can never be read (not JSON, not the event it should be) is
  dead-lettered on its own, and the rest of the batch still lands;
- if the transaction fails, the whole batch is tried again (the inbox makes
  that safe) and, after the last try, every record of it is dead-lettered,
  so nothing is lost.

The offset is committed after the transaction, as everywhere else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError, WithJsonSchema

from services.common.collector import collector_paused
from services.common.kafka import dead_letter_record
from services.common.store import Store, UnitOfWork, skipped_duplicate


@dataclass(frozen=True)
class Change:
    key: str
    event: Any | None  # None: a tombstone, the key was erased


def record_schema(model: type[BaseModel], tombstones: bool = False) -> WithJsonSchema:
    """What a batch handler's parameter, `Annotated[list[Any], record_schema(Event)]`, is described
    as: one record, as it is on the topic, the event it carries (or null for a tombstone, on a
    compacted topic). The AsyncAPI document would otherwise say each record is a list."""
    annotation: Any = model | None if tombstones else model
    schema = TypeAdapter(annotation).json_schema(by_alias=True)
    return WithJsonSchema(inline_definitions(schema, schema.pop("$defs", {})))


def inline_definitions(schema: Any, definitions: dict[str, Any]) -> Any:
    """The schema with each reference to a definition replaced by the definition itself."""
    if isinstance(schema, list):
        return [inline_definitions(item, definitions) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if (ref := schema.get("$ref", "")).startswith("#/$defs/"):
        return inline_definitions(definitions[ref.removeprefix("#/$defs/")], definitions)
    return {key: inline_definitions(value, definitions) for key, value in schema.items()}


Apply = Callable[..., Awaitable[None]]
Forget = Callable[[UnitOfWork, str], Awaitable[None]]
# Loads the rows for these keys into the session, so `apply` finds them without a query each. It returns
# what it loaded, and that is held until the commit: the session keeps unchanged rows only weakly, so
# rows nobody held would be gone again before `apply` asked for them.
Preload = Callable[[UnitOfWork, list[str]], Awaitable[Any]]


def read_records(records: list[Any], model: type[BaseModel]) -> tuple[list[Change], list[tuple[Any, Exception]]]:
    """The changes in the batch, in order, and the records that cannot be read, with why."""
    changes: list[Change] = []
    unreadable: list[tuple[Any, Exception]] = []
    for record in records:
        key = record.key.decode() if record.key else ""
        if record.value is None:
            changes.append(Change(key, None))
            continue
        try:
            changes.append(Change(key, model.model_validate_json(record.value)))
        except (ValidationError, UnicodeDecodeError, ValueError) as exc:
            unreadable.append((record, exc))
    return changes, unreadable


async def apply_changes(
    store: Store,
    consumer: str,
    changes: list[Change],
    apply: Apply,
    forget: Forget | None,
    *args: Any,
    preload: Preload | None = None,
) -> list[Any]:
    """Apply every change in one transaction; returns the events that were new.

    The inbox marks go in with one statement, and `preload` reads the batch's rows
    with one more, so each change costs no round trip to the database of its own."""
    applied = []
    async with store.unit_of_work() as uow:
        # Each event's id as text, read once: the inbox takes them, and each change is looked up by it.
        ids = [str(change.event.event_id) if change.event is not None else "" for change in changes]
        new = await uow.first_times(consumer, [event_id for event_id in ids if event_id])
        loaded = await preload(uow, sorted({change.key for change in changes})) if preload is not None else None
        for change, event_id in zip(changes, ids, strict=True):
            if change.event is None:
                if forget is not None:
                    await forget(uow, change.key)
            elif event_id in new:
                new.discard(event_id)  # a second copy in the same batch is a redelivery too
                await apply(uow, change.event, *args)
                applied.append(change.event)
            else:
                skipped_duplicate(consumer)
        await uow.commit()
        del loaded  # held until here on purpose (see Preload)
    return applied


async def project(
    broker: Any,
    service: str,
    store: Store,
    consumer: str,
    records: list[Any],
    model: type[BaseModel],
    apply: Apply,
    forget: Forget | None,
    *args: Any,
    preload: Preload | None = None,
) -> int:
    """Read a batch of records, apply what can be read, dead-letter what cannot; returns how many events were new."""
    with collector_paused():  # a batch is bulk work (services/common/collector.py)
        changes, unreadable = read_records(records, model)
        applied = len(await apply_changes(store, consumer, changes, apply, forget, *args, preload=preload))
        # The batch's events go before the collector runs again: its next run would walk every one of
        # them (about a millisecond a batch of 300), only to find them still held.
        del changes
    for record, why in unreadable:
        await dead_letter_record(broker, service, record, why, 1)
    return applied
