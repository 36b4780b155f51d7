"""Database plumbing every service shares: engine, outbox, inbox, unit of work.

The outbox and the inbox are what make the services reliable: an event that a
database change causes is written in the same transaction as the change (and
published later by the relay), and an event a service has handled is
remembered in the same transaction as its effects, so a redelivery is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar

import pydantic_core
from sqlalchemy import JSON, DateTime, Index, Integer, LargeBinary, String, event, func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from schemas.events import Envelope
from schemas.topics import Topic
from services.common.crypto import Cipher
from services.common.observability import DUPLICATES_SKIPPED
from services.common.sealed_bodies import SealedBodies
from services.common.tracing import trace_headers

log = logging.getLogger(__name__)


async def run_to_completion(work: Awaitable[Any]) -> Any:
    """Await `work` in a task of its own that a cancel cannot cut short; the cancel is raised after."""
    task = asyncio.ensure_future(work)
    cancelled: asyncio.CancelledError | None = None
    while True:
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError as error:
            if task.done():
                raise
            cancelled = error
        except BaseException as failure:
            if cancelled is not None:  # the work failed as well, but the task was told to stop: it stops
                raise cancelled from failure
            raise
        else:
            break
    if cancelled is not None:
        raise cancelled
    return result


def make_engine(url: str) -> AsyncEngine:
    """An async engine for PostgreSQL (asyncpg) or SQLite (aiosqlite)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://") and "+aiosqlite" not in url:
        url = url.replace("sqlite://", "sqlite+aiosqlite://", 1)
    # SQLAlchemy's error text leaves out the statement's values (a name, an id): it may reach a log. The
    # database's own words can still quote one, so dead letters keep none of it (services/common/failures.py).
    if url.startswith("sqlite"):
        # Python keeps 128 prepared statements a connection unless told, and in the notifier they came to
        # about 9 MiB over the first rounds. With 16, no more CPU a message or an update was measured.
        connect_args = {"timeout": 30, "cached_statements": 16}
        engine = create_async_engine(
            url, connect_args=connect_args, hide_parameters=True, json_serializer=json_text, json_deserializer=json_value
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # WAL lets the relay read while a handler writes.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            # Deleted rows and cleared values are overwritten with zeros, not left readable in free space.
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            cursor.close()

        return engine
    return create_async_engine(
        url, pool_pre_ping=True, hide_parameters=True, json_serializer=json_text, json_deserializer=json_value
    )


# Database pages each SQLite connection keeps, in KiB (SQLite's own default is about 2,000). Under WAL a
# write by another connection empties the others' caches anyway, so a big one mostly holds memory: each
# connection's filled slowly over a hundred rounds, and the services' memory with it (registry +47, matcher
# +35 KiB a round; with 100 KiB, +18 and +5). An import of 10,000 changed leaders was no slower with 256 KiB.
SQLITE_CACHE_KIB = 512


def json_text(value: Any) -> str:
    """A JSON column's text: compact and UTF-8, in a third of json.dumps's time (an import writes
    thousands of rows). json.loads reads it as before; an id, being ASCII, is quoted as before."""
    return pydantic_core.to_json(value).decode()


def json_value(text: str | bytes) -> Any:
    """A JSON column's value, read in about half json.loads's time (an import reads thousands of rows,
    the relay thousands of headers). Only field names are cached, never values. Text it refuses and
    json.loads takes (a lone surrogate, escaped as json.dumps could write it, or not) is read by json.loads."""
    try:
        return pydantic_core.from_json(text, cache_strings="keys")
    except (ValueError, TypeError):  # TypeError: a string holding a lone surrogate itself
        return json.loads(text)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# Published, and a body still kept: only a row the relay set aside (relay.py) is both. The count's query
# uses this very text (relay.set_aside_headers): SQLite reads a partial index only for a matching condition.
SET_ASIDE_ROWS = text("published_at IS NOT NULL AND value IS NOT NULL")


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

    @declared_attr.directive
    def __table_args__(cls) -> tuple:  # noqa: N805 - SQLAlchemy calls it with the class
        # The rows the relay set aside, the only published ones that keep a body: counted every few seconds
        # for the metrics (runtime.MetricsSampler) and on the registry's operations page. Without this index
        # the count read every row ever sent, so it took longer and held more memory as rounds went by.
        return (Index("ix_outbox_set_aside", "published_at", sqlite_where=SET_ASIDE_ROWS, postgresql_where=SET_ASIDE_ROWS),)


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
        # A stop that cancels the task mid-rollback would leave the connection half returned (and
        # the pool logging an error), so the ending runs to completion before the cancel goes on.
        await run_to_completion(self._end(exc))
        # Only database work runs inside a unit of work, so a lost connection here is the database's.
        if exc is not None and is_database_outage(exc):
            raise DatabaseUnavailable(f"the database is not answering ({exc.__class__.__name__})") from exc

    async def _end(self, exc: BaseException | None) -> None:
        try:
            if exc is not None:
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

    def publish_body(self, topic: Topic, key: str, body: dict[str, Any]) -> None:
        """`publish` for an event already in the form its model dumps to (as JSON, by alias): bulk work
        builds thousands without building and dumping models for each."""
        self._add_event(topic, key, body["event_id"], pydantic_core.to_json(body), body["event_type"], body["correlation_id"])

    def _add_event(
        self, topic: Topic, key: str, event_id: str, body: bytes, event_type: str, correlation: str, trace: dict | None = None
    ) -> None:
        """An event's body into the outbox, sealed with the store's cipher while it waits."""
        if self.store.cipher is not None:
            plain, body = body, self.store.cipher.seal_bytes(body)
            self._sealed.append((event_id, body, plain))
        self._add_outbox(topic, key, event_id, body, event_type, correlation, trace)

    def tombstone(self, topic: Topic, key: str, event_id: str) -> None:
        # A tombstone is about the leader (or round) it erases.
        self._add_outbox(topic, key, event_id, None, "Tombstone", key)

    def _add_outbox(
        self,
        topic: Topic,
        key: str,
        event_id: str,
        value: bytes | None,
        event_type: str,
        correlation: str,
        trace: dict | None = None,
    ) -> None:
        # The trace context travels with the event, so the consumer's work joins this trace; the
        # correlation id is the header the contract names (schemas/asyncapi.yaml). `trace`: the
        # context the caller read once for many rows written at the same moment.
        headers = {"event_type": event_type, "correlation_id": correlation, **(trace_headers() if trace is None else trace)}
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
