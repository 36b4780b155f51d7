"""Database plumbing every service shares: engine, outbox, inbox, unit of work.

The outbox and the inbox are what make the services reliable: an event that a
database change causes is written in the same transaction as the change (and
published later by the relay), and an event a service has handled is
remembered in the same transaction as its effects, so a redelivery is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from aiokafka.errors import MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError
from sqlalchemy import JSON, DateTime, Integer, LargeBinary, String, event, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Mapped, mapped_column

from schemas.events import Envelope
from schemas.topics import DEAD_LETTERS, Topic
from services.common.crypto import Cipher, is_plain_json
from services.common.observability import DUPLICATES_SKIPPED, EVENTS_PUBLISHED, OUTBOX_SET_ASIDE
from services.common.partitioner import KeyPartitioner
from services.common.sealed_bodies import SealedBodies
from services.common.tracing import trace_headers

log = logging.getLogger(__name__)


def make_engine(url: str) -> AsyncEngine:
    """An async engine for PostgreSQL (asyncpg) or SQLite (aiosqlite)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://") and "+aiosqlite" not in url:
        url = url.replace("sqlite://", "sqlite+aiosqlite://", 1)
    # SQLAlchemy's error text leaves out the statement's values (a name, an id): it may reach a log. The
    # database's own words can still quote one, so dead letters keep none of it (services/common/failures.py).
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # WAL lets the relay read while a handler writes.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            # Deleted rows and cleared values are overwritten with zeros, not left readable in free space.
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        return engine
    return create_async_engine(url, pool_pre_ping=True, hide_parameters=True)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class OutboxMixin:
    """Events waiting to be published. `event_id` is fixed here, never at send time."""

    if TYPE_CHECKING:  # made by SQLAlchemy for each table class built on this mixin
        __table__: ClassVar[Any]

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    topic: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200))
    # None before publishing is a tombstone (it erases the key from a compacted topic);
    # after publishing the body is cleared, and the row remains as a record.
    # Encrypted with the store's cipher while it waits (it may hold contact details and access needs).
    value: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    headers: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)


class InboxMixin:
    """Events a consumer has already handled, remembered with their effects."""

    if TYPE_CHECKING:  # made by SQLAlchemy for each table class built on this mixin
        __table__: ClassVar[Any]

    __tablename__ = "inbox"

    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    handled_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class DatabaseUnavailable(Exception):
    """The database is not answering. Nothing is wrong with the work: wait and try again."""


def is_database_outage(exc: BaseException) -> bool:
    """A lost or refused connection, not a problem with the data."""
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or isinstance(exc, (OperationalError, InterfaceError))
    # The drivers raise these themselves when the server cannot be reached at all.
    return isinstance(exc, (ConnectionError, TimeoutError))


class Store:
    """One service's database: its engine, session factory and outbox/inbox models.

    With a cipher, outbox bodies are encrypted while they wait and decrypted by the relay just
    before sending; every service passes its own. Without one (tests of the plumbing) they are plain."""

    def __init__(
        self,
        engine: AsyncEngine,
        outbox: type[OutboxMixin],
        inbox: type[InboxMixin],
        metadata: Any,
        cipher: Cipher | None = None,
    ):
        self.engine = engine
        self.cipher = cipher
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.outbox = outbox
        self.inbox = inbox
        self.metadata = metadata
        # Set after each commit that wrote to the outbox, so the relay wakes at once.
        self.outbox_written = asyncio.Event()
        # While this process's relay runs: set when it has sent every row committed so far, or cannot
        # send now (the broker or database down). Bulk work waits for it between its parts (relay_turn).
        self.outbox_sent: asyncio.Event | None = None
        self.relay_failing = False  # the relay's last pass could not send: bulk work does not wait for it
        self.sealed_bodies = SealedBodies()  # for the relay in this process (sealed_bodies.py)

    async def prepare(self, service: str) -> None:
        """Bring the database to the service's newest migration."""
        from services.common.migrations import upgrade

        await upgrade(self.engine, service)

    async def check(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("select 1"))

    async def relay_turn(self, most_seconds: float = 1.0) -> None:
        """Wait, at most `most_seconds`, until this process's relay has handed what was committed to the
        producer. Bulk work (an import) calls it between its parts: the relay then sends each part while the
        other services apply it, instead of getting the event loop only when the work waits and sending most
        of it at the end. The broker's answer is awaited while the work goes on with its next part. Returns
        at once when no relay runs in this process."""
        sent = self.outbox_sent
        if sent is None or sent.is_set() or self.relay_failing:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(sent.wait(), most_seconds)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"


class UnitOfWork:
    """One transaction: domain changes, outbox rows and the inbox mark commit together."""

    def __init__(self, store: Store):
        self.store = store
        self.session: AsyncSession
        # Outbox rows wait here and go in with one statement at commit: the ORM would insert them
        # one at a time on SQLite, to read back ids that nothing here needs.
        self._outbox_rows: list[dict[str, Any]] = []
        # Each sealed body with its plain text, handed to the relay's cache when the commit succeeds.
        self._sealed: list[tuple[str, bytes, bytes]] = []
        # Work a handler leaves for the commit, such as a batch's rows written with one statement.
        self._before_commit: list[Callable[[], Awaitable[None]]] = []

    async def __aenter__(self) -> UnitOfWork:
        self.session = self.store.sessions()
        return self

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, _tb: Any) -> None:
        try:
            if exc_type is not None:
                await self.session.rollback()
        except Exception:  # a dead connection cannot roll back; the work was not committed
            if exc is None or not is_database_outage(exc):
                raise
        finally:
            try:
                await self.session.close()
            except Exception:  # likewise: nothing is left open on a lost connection
                if exc is None or not is_database_outage(exc):
                    raise
        # Only database work runs inside a unit of work, so a lost connection here is the database's.
        if exc is not None and is_database_outage(exc):
            raise DatabaseUnavailable(f"the database is not answering ({exc.__class__.__name__})") from exc

    def before_commit(self, work: Callable[[], Awaitable[None]]) -> None:
        """Run `work` in this transaction, just before it commits (once, at the next commit)."""
        self._before_commit.append(work)

    async def commit(self) -> None:
        work, self._before_commit = self._before_commit, []
        for step in work:
            await step()
        rows, self._outbox_rows = self._outbox_rows, []
        sealed, self._sealed = self._sealed, []
        if rows:
            await self.session.execute(insert(self.store.outbox.__table__), rows)
        await self.session.commit()
        if rows:
            self.store.sealed_bodies.remember(sealed)
            if self.store.outbox_sent is not None:
                self.store.outbox_sent.clear()
            self.store.outbox_written.set()

    async def commit_part(self) -> None:
        """Commit one part of bulk work, then let this process's relay send it (Store.relay_turn)."""
        await self.commit()
        await self.store.relay_turn()

    def publish(self, topic: Topic, key: str, event: Envelope) -> None:
        # By alias: the field names the contract (schemas/asyncapi.yaml) gives, such as a date range's "from".
        body = event.model_dump_json(by_alias=True).encode()
        self._add_event(topic, key, str(event.event_id), body, event.event_type, event.correlation_id)

    def _add_event(self, topic: Topic, key: str, event_id: str, body: bytes, event_type: str, correlation: str) -> None:
        """An event's body into the outbox, sealed with the store's cipher while it waits."""
        if self.store.cipher is not None:
            plain, body = body, self.store.cipher.seal_bytes(body)
            self._sealed.append((event_id, body, plain))
        self._add_outbox(topic, key, event_id, body, event_type, correlation)

    def tombstone(self, topic: Topic, key: str, event_id: str) -> None:
        # A tombstone is about the leader (or round) it erases.
        self._add_outbox(topic, key, event_id, None, "Tombstone", key)

    def _add_outbox(self, topic: Topic, key: str, event_id: str, value: bytes | None, event_type: str, correlation: str) -> None:
        # The trace context travels with the event, so the consumer's work joins this trace; the
        # correlation id is the header the contract names (schemas/asyncapi.yaml).
        headers = {"event_type": event_type, "correlation_id": correlation, **trace_headers()}
        self._outbox_rows.append(
            {"event_id": event_id, "topic": topic.name, "key": key, "value": value, "headers": headers, "created_at": utc_now()}
        )

    async def first_time(self, consumer: str, event_id: str) -> bool:
        """Mark the event as handled by `consumer`; False if it already was (a redelivery)."""
        return event_id in await self.first_times(consumer, [event_id])

    async def first_times(self, consumer: str, event_ids: list[str]) -> set[str]:
        """Mark many events as handled, in one statement; returns the ids not handled before.

        If another instance marks one at the same moment, PostgreSQL waits for that
        transaction and then skips it, so only one of them goes on."""
        if not event_ids:
            return set()
        insert_or_skip = postgresql_insert if self.store.is_postgres else sqlite_insert
        inbox = self.store.inbox.__table__
        now = utc_now()
        # The rows as parameters of one statement (not in its text), so it is compiled once and kept: a
        # statement of 500 rows' values cost more to compile than the database took to run it.
        marked = await self.session.scalars(
            insert_or_skip(inbox).on_conflict_do_nothing().returning(inbox.c.event_id),
            [{"consumer": consumer, "event_id": event_id, "handled_at": now} for event_id in dict.fromkeys(event_ids)],
        )
        return set(marked)


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


class OutboxRelay:
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

    async def run_forever(self) -> None:
        sent_all = self.store.outbox_sent = asyncio.Event()
        try:
            while True:
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
                    await asyncio.sleep(1.0)
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
    outbox = store.outbox
    async with store.sessions() as session:
        headers = await session.scalars(select(outbox.headers).where(outbox.published_at.is_not(None), outbox.value.is_not(None)))
        return sum(1 for h in headers if SET_ASIDE in (h or {}))


async def handle_once(store: Store, consumer: str, event: Envelope, handler: Any, *args: Any) -> bool:
    """Run `handler(uow, event, *args)` once per event and consumer; False for a redelivery."""
    async with store.unit_of_work() as uow:
        if not await uow.first_time(consumer, str(event.event_id)):
            skipped_duplicate(consumer)
            return False
        await handler(uow, event, *args)
        await uow.commit()
        return True


async def was_handled(store: Store, consumer: str, event_id: str) -> bool:
    """Cheap check before slow work; the inbox row itself is still written with the result."""
    async with store.unit_of_work() as uow:  # which turns a lost connection into DatabaseUnavailable
        return await handled_in(uow.session, store, consumer, event_id)


async def handled_in(session: AsyncSession, store: Store, consumer: str, event_id: str) -> bool:
    """`was_handled`, in a session the caller goes on to use."""
    inbox = store.inbox
    count = await session.scalar(
        select(func.count()).select_from(inbox).where(inbox.consumer == consumer, inbox.event_id == event_id)
    )
    if count:
        skipped_duplicate(consumer)
    return bool(count)


def skipped_duplicate(consumer: str) -> None:
    DUPLICATES_SKIPPED.labels(consumer).inc()
    log.info("%s: skipped a redelivered event that was already handled", consumer)
