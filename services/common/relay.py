"""The outbox relay: publishes each service's outbox rows to the broker in order, then marks them
published (services/common/store.py writes them, in the same transaction as the change they report).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any

from aiokafka.errors import MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError
from sqlalchemy import Select, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.topics import DEAD_LETTERS
from services.common.background import Background
from services.common.crypto import is_plain_json
from services.common.observability import EVENTS_PUBLISHED, OUTBOX_SET_ASIDE
from services.common.partitioner import KeyPartitioner
from services.common.store import SET_ASIDE_ROWS, Store, utc_now

log = logging.getLogger(__name__)


# The broker will never take these records, however often they are sent: they are set aside instead.
REFUSED = (MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError)
# A body this large goes to the producer alone (OutboxRelay._send): bigger than a batch, and maybe than a request.
ALONE_BYTES = 64 * 1024
SET_ASIDE = "set_aside"  # the outbox header, and the dead letter's source, of an event the broker refused


@dataclasses.dataclass
class _Part:
    """Rows of one partition that the relay hands to the producer together: a batch, or one big record."""

    topic: str
    partition: int
    position: int  # its place among its partition's parts
    rows: list[Any]
    batch: Any = None
    record: tuple[bytes, bytes, list[tuple[str, bytes]]] | None = None


class OutboxRelay(Background):
    """Publishes outbox rows in order, then marks them published.

    At-least-once: a crash between sending and marking sends the row again
    with the same event_id, and consumers' inboxes skip it. A row the broker
    refuses for good (too large) is set aside so it never holds up the rows
    behind it: marked (published_at set, its sealed body kept, the header
    set_aside saying why) and reported on the dead-letter topic by its event id
    and topic only, without its body.
    """

    BATCH = 500

    def __init__(self, store: Store, producer: Any, service: str = "", poll_seconds: float = 0.5):
        self.store = store
        self.producer = producer
        self.service = service
        self.poll_seconds = poll_seconds
        self.published = 0
        self.partitioner = KeyPartitioner()  # as the producer's own (make_producer): the same partition for a key
        self.task_name = f"{service}-outbox-relay"

    async def stop(self) -> None:
        """Finish the pass in hand, its rows sent and marked, and start no other (background.py)."""
        self.store.outbox_written.set()  # out of its wait at once
        await super().stop()

    async def run_forever(self) -> None:
        sent_all = self.store.outbox_sent = asyncio.Event()
        try:
            while not self.stopping.is_set():
                # Cleared before reading, not after: a commit that lands while this pass reads or sends
                # leaves it set, so the relay goes round again at once instead of at the next poll.
                self.store.outbox_written.clear()
                try:
                    # The collector is not paused here, as it is for a projection's batch: a pass can wait
                    # for the broker's answer for as long as the broker is away.
                    sent = await self.publish_pending()
                    self.store.relay_failing = False
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - the broker or database is down: wait and try again
                    log.warning("outbox relay could not publish yet: %s", exc.__class__.__name__)
                    self.store.relay_failing = True  # bulk work does not wait for a relay that cannot send
                    sent_all.set()
                    await self.rest(1.0)
                    continue
                if sent < self.BATCH:
                    if not self.store.outbox_written.is_set():
                        sent_all.set()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.store.outbox_written.wait(), self.poll_seconds)
        finally:
            self.store.outbox_sent = None

    async def publish_pending(self) -> int:
        outbox = self.store.outbox
        self.store.sealed_bodies.forget_old()
        async with self.store.sessions() as session, session.begin():
            if self.store.is_postgres:
                # One relay at a time per database keeps per-key order across instances.
                locked = await session.scalar(text("select pg_try_advisory_xact_lock(7263001)"))
                if not locked:
                    return 0
            # Plain rows, not ORM objects: the relay only reads them and marks them in one statement.
            table = outbox.__table__
            rows = (
                await session.execute(
                    select(table.c.id, table.c.event_id, table.c.topic, table.c.key, table.c.value, table.c.headers)
                    .where(table.c.published_at.is_(None))
                    .order_by(table.c.id)
                    .limit(self.BATCH + 1)  # one more, to know whether these are the last ones
                )
            ).all()
            if not rows:
                return 0
            last, rows = len(rows) <= self.BATCH, rows[: self.BATCH]
            # Every body is decrypted before anything is sent, so an unreadable one sends nothing.
            bodies = [self._body(row.event_id, row.value) for row in rows]
            refused = await self._send(rows, bodies, last=last)
            now = utc_now()
            for row in rows:
                if row.id in refused:
                    await self._set_aside(session, row, refused[row.id], now)
            # The events now live in Kafka; keeping their bodies here would keep personal data twice.
            if sent := [row.id for row in rows if row.id not in refused]:
                await session.execute(update(table).where(table.c.id.in_(sent)).values(published_at=now, value=None))
            for topic, count in Counter(row.topic for row in rows if row.id not in refused).items():
                EVENTS_PUBLISHED.labels(self.service, topic).inc(count)
        self.published += len(rows) - len(refused)
        return len(rows)

    async def _send(self, rows: Sequence[Any], bodies: list[bytes | None], *, last: bool = False) -> dict[int, Exception]:
        """Send every row; the ones the broker refused for good, by row id. Any other failure is raised.
        `last`: no row waits behind these in the outbox."""
        refused: dict[int, Exception] = {}
        sending = []
        for part in await self._parts(rows, bodies):
            if part.batch is not None:
                part.batch.close()
                sending.append((part.rows, await self.producer.send_batch(part.batch, part.topic, partition=part.partition)))
                continue
            assert part.record is not None
            key, body, headers = part.record
            try:
                future = await self.producer.send(part.topic, body, key, partition=part.partition, headers=headers)
            except REFUSED as exc:  # the client knows before sending that it is too large
                refused[part.rows[0].id] = exc
                continue
            sending.append((part.rows, future))
        if last:
            self._handed_over()
        results = await asyncio.gather(*(future for _, future in sending), return_exceptions=True)
        for (sent, _), result in zip(sending, results, strict=True):
            if isinstance(result, REFUSED):
                refused.update((row.id, result) for row in sent)
            elif isinstance(result, BaseException):
                raise result
        return refused

    async def _parts(self, rows: Sequence[Any], bodies: list[bytes | None]) -> list[_Part]:
        """The rows in the producer's batches, each partition's in the order read: one future a batch rather
        than one a record (the producer's handling of each record was a third of the relay's work). A body
        of ALONE_BYTES or more goes alone, with send(), which checks it against the largest request.

        Every partition's first part comes first, then every second one...: a partition's next batch waits
        until the producer has taken its last one, and meanwhile the other partitions' go on."""
        partitions: dict[str, list[int]] = {}
        parts: dict[tuple[str, int], list[_Part]] = {}
        for row, body in zip(rows, bodies, strict=True):
            key = row.key.encode()
            if (ids := partitions.get(row.topic)) is None:
                ids = partitions[row.topic] = sorted(await self.producer.partitions_for(row.topic))
            partition = self.partitioner(key, ids, ids)
            headers = [("event_id", row.event_id.encode())] + [(k, str(v).encode()) for k, v in (row.headers or {}).items()]
            queue = parts.setdefault((row.topic, partition), [])
            if body is not None and len(body) >= ALONE_BYTES:
                queue.append(_Part(row.topic, partition, len(queue), [row], record=(key, body, headers)))
                continue
            batch = queue[-1].batch if queue else None
            if batch is None or batch.append(timestamp=None, key=key, value=body, headers=headers) is None:  # none, or full
                batch = self.producer.create_batch()
                batch.append(timestamp=None, key=key, value=body, headers=headers)
                queue.append(_Part(row.topic, partition, len(queue), [], batch=batch))
            queue[-1].rows.append(row)
        return sorted((part for queue in parts.values() for part in queue), key=lambda part: part.position)

    def _handed_over(self) -> None:
        """The producer has every row this pass read: when they were the last ones committed, bulk work
        waiting for the relay (Store.relay_turn) goes on while the broker's answer is awaited, instead of
        leaving the process idle until then. A failure after this still leaves them to the next pass."""
        sent_all = self.store.outbox_sent
        if sent_all is not None and not self.store.outbox_written.is_set():
            sent_all.set()

    async def _set_aside(self, session: AsyncSession, row: Any, exc: Exception, now: dt.datetime) -> None:
        why = (
            f"The message broker refused this event ({exc.__class__.__name__}): it was set aside so the events after it could go"
        )
        letter = {"event_id": row.event_id, "topic": row.topic, "why": why, "set_aside_at": now.isoformat()}
        headers = {
            "consumer": f"{self.service}.outbox",
            "original_topic": row.topic,
            "original_partition": "-1",
            "original_offset": "-1",
            "attempts": "1",
            "error": why,
            "event_id": row.event_id,
            "source": SET_ASIDE,
        }
        await self.producer.send_and_wait(
            DEAD_LETTERS.name,
            value=json.dumps(letter).encode(),
            key=row.key.encode(),
            headers=[(k, v.encode()) for k, v in headers.items()],
        )
        # The body stays, sealed, for a person to look at; the row is never sent again.
        table = self.store.outbox.__table__
        await session.execute(
            update(table).where(table.c.id == row.id).values(published_at=now, headers={**(row.headers or {}), SET_ASIDE: why})
        )
        OUTBOX_SET_ASIDE.labels(self.service).inc()
        log.error("%s: event %s for %s was refused by the broker and set aside", self.service, row.event_id, row.topic)

    def _body(self, event_id: str, value: bytes | None) -> bytes | None:
        cipher = self.store.cipher
        # Tombstones stay None; a plain JSON body was written before bodies were encrypted: sent as it is.
        if value is None or cipher is None or is_plain_json(value):
            return value
        # A body this process sealed a moment ago is not decrypted again (Store.sealed_bodies).
        if (body := self.store.sealed_bodies.opened(event_id, value)) is not None:
            return body
        return cipher.open_bytes(value)

    async def backlog(self) -> int:
        outbox = self.store.outbox
        async with self.store.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(outbox).where(outbox.published_at.is_(None))) or 0)


async def set_aside_count(store: Store) -> int:
    """Events the broker refused and the relay set aside (their rows keep their sealed body after publishing)."""
    async with store.sessions() as session:
        headers = await session.scalars(set_aside_headers(store.outbox))
        return sum(1 for h in headers if SET_ASIDE in (h or {}))


def set_aside_headers(outbox: Any) -> Select:
    """The headers of the rows set aside. The condition is the index's own (store.SET_ASIDE_ROWS), word
    for word, so the database can read ix_outbox_set_aside instead of every row ever sent."""
    return select(outbox.headers).where(SET_ASIDE_ROWS)
