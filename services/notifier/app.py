"""The notifier process: contact projection, one message per person and outcome or decline, and the scheduler."""

from __future__ import annotations

import functools
import logging
import math
from typing import Annotated, Any, Literal

from faststream.asgi import AsgiFastStream
from faststream.kafka import KafkaBroker
from pydantic import BaseModel, Field, GetJsonSchemaHandler, ValidationError
from pydantic.json_schema import JsonSchemaValue

from schemas.events import (
    FollowUpAnswered,
    LeaderContactChanged,
    LeaderKeyShared,
    NotificationStatusChanged,
    OutcomePublished,
    PairAccepted,
    PairDeclined,
    PairEnded,
    ResponseEvent,
    RoundEvent,
    RoundFeedbackShared,
    RoundStatusChanged,
    TextReplyReceived,
)
from schemas.topics import DELIVERIES, LEADER_CONTACTS, LEADER_KEYS, OUTCOMES, RESPONSES, ROUNDS
from services.common.background import Background
from services.common.collector import freeze_what_is_loaded
from services.common.crypto import Cipher
from services.common.demo_clock import ShiftedClock
from services.common.kafka import (
    PROMPT,
    DeadLettersUnavailable,
    batch_options,
    create_broker,
    dead_letter_event,
    dead_letter_record,
    event_id_of,
    on_last_try,
    subscriber_options,
)
from services.common.projection import project, record_schema
from services.common.retention import PurgeJob
from services.common.runtime import service_app, stop_together
from services.common.store import Store, make_engine
from services.notifier import batch, batch_groups, check_ins, delivery, handlers, person_keys, reminders, retention
from services.notifier.adapters.channels import (
    Channel,
    FileSmsChannel,
    PersonTaskChannel,
    PrintQueueChannel,
    SmtpChannel,
)
from services.notifier.adapters.notify import ByFormat, NotifyChannel
from services.notifier.adapters.orm import Base, Inbox, Outbox
from services.notifier.clock import Clock, SystemClock
from services.notifier.config import NotifierSettings
from services.notifier.context import MessageRules, Notifier
from services.notifier.domain.pair_endings import messages_for
from services.notifier.domain.quiet_hours import QuietHours
from services.notifier.domain.round_feedback import feedback_messages
from services.notifier.inbound import InboundTexts, answered, follow_up_answered, notify_fetch
from services.notifier.receipts import ReceiptChecker
from services.notifier.scheduler import Scheduler


class AsEvent:
    """A batch handler's parameter described as the one event each record carries, by reference to that
    event's own schema (the AsyncAPI document then names OutcomePublished, as its publishers do), where
    record_schema would write out a copy of it."""

    def __init__(self, model: type[BaseModel]):
        self.model = model

    def __get_pydantic_json_schema__(self, _core_schema: Any, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return handler(self.model.__pydantic_core_schema__)

    def __hash__(self) -> int:
        return hash(self.model)


# A projection's handler takes a batch of records (services/common/projection.py).
ContactBatch = Annotated[list[Any], record_schema(LeaderContactChanged, tombstones=True)]
KeyBatch = Annotated[list[Any], record_schema(LeaderKeyShared, tombstones=True)]
OutcomeBatch = Annotated[list[Any], AsEvent(OutcomePublished), Field(title=OutcomePublished.__name__)]
# Outcomes taken at a time: large enough to keep the email server busy, small enough that little waits
# on one slow batch (each outcome's time in a batch is bounded in `longest_batch_seconds`). Whole fews
# (batch_groups.FEW): between batches the email server waits, and a last few of two would keep it half idle.
# With 64, the steps each batch takes before its first few is sent and after its last is recorded kept the
# email server idle for about a fifth of a 10,000-person round; 256 sent 277, 283 and 265 a second against
# 263, 255 and 245 (three pairs of runs, alternated: docs/benchmarks.md).
OUTCOME_BATCH = 256

SERVICE = "notifier"
log = logging.getLogger("pairing.notifier")


def build_broker(settings: NotifierSettings, store: Store, cipher: Cipher, notifier: Notifier | None = None) -> KafkaBroker:
    notifier = notifier or make_notifier(settings, store, cipher)
    broker = create_broker(settings.kafka, SERVICE, settings.reliability)

    @broker.subscriber(
        LEADER_CONTACTS.name, **batch_options(SERVICE, LEADER_CONTACTS, settings.kafka), title="notifier: contact details"
    )
    async def on_contacts(records: ContactBatch) -> None:
        contacts = f"{SERVICE}.contacts"
        applied = await project(
            broker,
            SERVICE,
            store,
            contacts,
            records,
            LeaderContactChanged,
            handlers.apply_contact,
            functools.partial(person_keys.forget_contact, notifier),
            cipher,
            preload=handlers.load_contacts,
        )
        if applied:
            notifier.wake.set()  # a message may be waiting for exactly these details

    # Each leader's key for their sealed contact records; a tombstone when they are erased (person_keys.py).
    sharing = Cipher(settings.event_keys)

    @broker.subscriber(LEADER_KEYS.name, **batch_options(SERVICE, LEADER_KEYS, settings.kafka), title="notifier: contact keys")
    async def on_keys(records: KeyBatch) -> None:
        keys = f"{SERVICE}.keys"
        applied = await project(
            broker,
            SERVICE,
            store,
            keys,
            records,
            LeaderKeyShared,
            person_keys.apply_key,
            person_keys.forget_key,
            cipher,
            sharing,
            preload=handlers.load_contacts,
        )
        if applied:
            notifier.wake.set()  # a contact record may have been waiting for exactly this key

    # A round's outcomes come all at once: a batch at a time, with a few transactions and one
    # offset commit for the whole batch, its emails sent over `workers` connections (batch.py).
    @broker.subscriber(OUTCOMES.name, **outcome_batches(settings), title="notifier: published outcomes")
    async def on_outcomes(records: OutcomeBatch) -> None:
        await tell_outcomes(broker, notifier, records)

    @broker.subscriber(
        RESPONSES.name, **subscriber_options(SERVICE, RESPONSES, settings.kafka), title="notifier: answers to pairs"
    )
    async def on_response(event: ResponseEvent) -> None:
        # Always Event 4: when someone says no, their partner is told and offered someone else.
        await tell_the_partner(notifier, event)
        if isinstance(event, (PairAccepted, PairDeclined, PairEnded)):
            await answered(notifier, event)  # a question asked by text is answered: a reply no longer counts
        if isinstance(event, FollowUpAnswered):  # "Did you meet?" or a check-in: a task for the team, if it needs one
            await follow_up_answered(notifier, event)  # asked by text too: a reply no longer counts
            await check_ins.answered(notifier, event)
            return
        await reminders.answered(notifier, event)  # answered by any route: no reminder, no task to chase them
        if isinstance(event, (PairEnded, PairDeclined)):
            await check_ins.pair_ended(notifier, event)  # nobody is asked about a pair that ended or was turned down

    @broker.subscriber(ROUNDS.name, **subscriber_options(SERVICE, ROUNDS, settings.kafka), title="notifier: rounds")
    async def on_round(event: RoundEvent) -> None:
        await round_news(notifier, event)

    broker.publisher(RESPONSES.name, schema=TextReplyReceived, title="notifier: responses.v1", description=RESPONSES.description)

    broker.publisher(
        DELIVERIES.name, schema=NotificationStatusChanged, title="notifier: deliveries.v1", description=DELIVERIES.description
    )
    return broker


async def tell_outcomes(broker: KafkaBroker, notifier: Notifier, records: list[Any]) -> None:
    """A batch of outcome records: one that can never be read, or whose message was given up on, is
    dead-lettered on its own, from its place on the topic; the rest of the batch still goes."""
    events, records_of, places = [], {}, {}
    for record in records:
        try:
            event = OutcomePublished.model_validate_json(record.value)
        except (ValidationError, ValueError, TypeError) as exc:
            await set_aside(broker, notifier, record, exc)
            continue
        events.append(event)
        records_of[str(event.event_id)] = record
        places[str(event.event_id)] = batch.place(record.topic, record.partition, record.offset, str(event.event_id))

    async def dead_letter(event: OutcomePublished, why: BaseException | str, attempts: int) -> None:
        await dead_letter_record(broker, SERVICE, records_of[str(event.event_id)], why, attempts)

    await handlers.on_outcomes(notifier, events, dead_letter, places, last_try=on_last_try())


async def set_aside(broker: KafkaBroker, notifier: Notifier, record: Any, exc: Exception) -> None:
    """A record that can never be read: dead-lettered once, however often its batch is tried again (its
    place marked given up in the same transaction; if the broker is away, neither happens)."""
    where = batch.place(record.topic, record.partition, record.offset, event_id_of(record) or "")
    async with notifier.store.unit_of_work() as uow:
        if await uow.first_time(batch.GIVEN_UP, where):
            try:
                await dead_letter_record(broker, SERVICE, record, exc, 1)
            except Exception as away:  # not set aside: the consumer waits for the broker
                raise DeadLettersUnavailable(f"a dead letter could not be written ({away.__class__.__name__})") from away
            await uow.commit()


async def round_news(notifier: Notifier, event: RoundEvent) -> None:
    """A round closed or was cancelled, or its manager wrote what difference the pairs made."""
    if isinstance(event, RoundStatusChanged):
        await reminders.round_ended(notifier, event)  # closed or cancelled: its reminders are taken off
        await check_ins.round_ended(notifier, event)  # and its questions and check-ins
    if isinstance(event, RoundFeedbackShared):
        for message in feedback_messages(event):  # everyone in the round, each once, in their own format
            await handlers.on_event(notifier, message)  # type: ignore[arg-type]  # any Cause with a notice


async def tell_the_partner(notifier: Notifier, event: ResponseEvent) -> None:
    """Someone said no, or a pair ended: the partner is told kindly (and whoever asked to end it, that it is done)."""
    if isinstance(event, PairDeclined):
        await handlers.on_event(notifier, event)
    if isinstance(event, PairEnded):
        for message in messages_for(event):
            await handlers.on_event(notifier, message)  # type: ignore[arg-type]  # any Cause with a notice


def outcome_batches(settings: NotifierSettings) -> dict[str, Any]:
    """A batch of outcomes at a time, with a poll interval longer than the longest such a batch can take:
    a consumer that outlasts it is taken out of its group, and another instance then sends the same batch."""
    longest_ms = int(longest_batch_seconds(settings) * 1000)
    return {
        **batch_options(SERVICE, OUTCOMES, settings.kafka),
        "max_records": OUTCOME_BATCH,
        "max_poll_interval_ms": max(settings.kafka.max_poll_interval_ms, longest_ms),
        **PROMPT,
    }


def longest_batch_seconds(settings: NotifierSettings) -> float:
    """The longest a batch of outcomes takes with an email server that stops answering: each send gives
    up after the channel's timeout, and is tried once more on a new connection (two timeouts); a few
    (batch_groups.FEW) at a time, each few over `workers` connections (Notify takes a few at once); then
    STILL_SENDING for messages a stopped handler left "sending", and a minute for the database.
    With the defaults: 8 fews x 11 rounds x 2 x 10 s + 15 s + 60 s = 1,835 s."""
    fews = math.ceil(OUTCOME_BATCH / batch_groups.FEW)
    if settings.channel == "notify":
        rounds, timeout = 1, settings.notify_timeout_seconds
    else:
        rounds, timeout = math.ceil(batch_groups.FEW / min(settings.workers, batch_groups.FEW)), settings.smtp_timeout_seconds
    return fews * rounds * 2 * timeout + delivery.STILL_SENDING.total_seconds() + 60


def make_notifier(settings: NotifierSettings, store: Store, cipher: Cipher, clock: Clock | None = None) -> Notifier:
    rules = MessageRules(
        programme=settings.programme,
        max_attempts=settings.reliability.max_attempts,
        contact_wait_seconds=settings.contact_wait_seconds,
        repair_contact_days=settings.partner_declined_contact_days,
        quiet_hours=QuietHours(settings.quiet_hours_start, settings.quiet_hours_end),
        receipt_seconds=settings.notify_receipt_seconds,
        reminder_working_days=settings.reminder_working_days,
        not_yet_days=settings.not_yet_days,
    )
    folders = (settings.letters_dir, settings.sms_dir, settings.tasks_dir)
    return Notifier(store, cipher, make_channels(settings), rules, clock or SystemClock(), folders=folders)


def create_app(settings: NotifierSettings, clock: Clock | None = None) -> AsgiFastStream:
    cipher = Cipher(settings.encryption_keys)
    store = Store(make_engine(settings.database_url), Outbox, Inbox, Base.metadata, cipher)
    if clock is None and settings.demo_clock_file is not None:
        clock = ShiftedClock(settings.demo_clock_file)  # `make demo-journey` only: simulated months
    notifier = make_notifier(settings, store, cipher, clock)
    broker = build_broker(settings, store, cipher, notifier)
    # A scheduled message given up on goes to the dead-letter topic, as a consumer's event does.
    notifier.dead_letter = functools.partial(dead_letter_event, broker, SERVICE, source="schedule")
    app = service_app(broker, store, settings.kafka, SERVICE, log)
    scheduler = Scheduler(notifier, settings.scheduler_poll_seconds)
    purging = PurgeJob(
        SERVICE, functools.partial(retention.purge, notifier, settings.retention_days, settings.file_retention_days)
    )
    receipts = receipt_checker(settings, notifier)
    replies = inbound_texts(settings, notifier)

    # After start-up the database is migrated; on shutdown the engine is still open.
    @app.after_startup
    async def start_scheduler() -> None:
        scheduler.start()
        purging.start()
        if receipts is not None:
            receipts.start()
        if replies is not None:
            replies.start()
        freeze_what_is_loaded()  # full collections were about 4% of its CPU while sending (collector.py)

    @app.on_shutdown
    async def stop_scheduler() -> None:
        jobs: dict[str, Background] = {"the notifier's scheduler": scheduler, "the notifier's purge job": purging}
        if receipts is not None:
            jobs["the notifier's receipt checker"] = receipts
        if replies is not None:
            jobs["the notifier's text reader"] = replies
        await stop_together(jobs)
        for channel in notifier.channels.values():
            if isinstance(channel, SmtpChannel):
                await channel.close()  # say goodbye to the email server on the connection kept open

    return app


def receipt_checker(settings: NotifierSettings, notifier: Notifier) -> ReceiptChecker | None:
    """With GOV.UK Notify, something asks it later what became of each message; an SMTP server tells us nothing more."""
    email = notifier.channels.get("email")
    if settings.channel != "notify" or not isinstance(email, NotifyChannel):
        return None
    return ReceiptChecker(notifier, email.receipt, settings.notify_receipt_seconds)


def inbound_texts(settings: NotifierSettings, notifier: Notifier) -> InboundTexts | None:
    """With GOV.UK Notify, replies to text messages are read from its received-text API (inbound.py)."""
    if settings.channel != "notify":
        return None
    key = settings.notify_api_key.get_secret_value() if settings.notify_api_key else ""
    fetch = notify_fetch(key, settings.notify_base_url, settings.notify_timeout_seconds)
    return InboundTexts(notifier, fetch, settings.tasks_dir, settings.task_days, settings.notify_inbound_seconds)


def make_channels(settings: NotifierSettings) -> dict[str, Channel]:
    """One channel per way of reaching people; swap any of them for a real gateway behind the same port."""
    print_queue = PrintQueueChannel(settings.letters_dir)
    channels: dict[str, Channel] = {
        "email": SmtpChannel(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_timeout_seconds,
            settings.from_address,
            connections=settings.workers,
        ),
        "sms": FileSmsChannel(settings.sms_dir),
        "letter": print_queue,
        "person": PersonTaskChannel(settings.tasks_dir, settings.task_days),
    }
    if settings.channel == "notify":

        def notify(kind: Literal["email", "sms", "letter"], template_id: str | None) -> NotifyChannel:
            key = settings.notify_api_key.get_secret_value() if settings.notify_api_key else ""
            return NotifyChannel(kind, template_id or "", key, settings.notify_base_url, settings.notify_timeout_seconds)

        channels["email"] = notify("email", settings.notify_email_template_id)
        channels["sms"] = notify("sms", settings.notify_sms_template_id)
        # Notify prints letters in standard print only: large print and easy read stay in our print queue.
        channels["letter"] = ByFormat(notify("letter", settings.notify_letter_template_id), print_queue)
    return channels
