"""Delivery: each person hears once.

Sending a message and recording it cannot share one transaction, so each
message has a delivery row keyed by (event, person, channel):

1. claim: the row is written as "sending" before anything is sent;
2. send through the channel;
3. finish: in one transaction, the row becomes "sent" (or "needs_a_person"),
   the message is marked done (its event handled, or its scheduled entry
   removed: see schedule.py for where a message came from) and the delivery
   report goes to the outbox.

A redelivered event whose row is finished is not sent again; it only gets its
report. The window that remains: a crash after the channel has taken the
message but before step 3 commits. The next attempt finds the row still
"sending" and sends again. For letters, text messages and tasks that
rewrites the same file (named by the key), so nobody gets two; for email it
can mean a second copy, with the same Message-ID so mail programs can spot it.
We choose that over the risk of someone never hearing back. A row claimed
moments ago may instead be another handler still sending (two consumers hold
one event during a rebalance): the next attempt waits for it first.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable, Mapping

from sqlalchemy import select, update

from schemas.events import LeaderContact
from schemas.topics import DELIVERIES
from services.common.logs import without_person
from services.common.store import Store, UnitOfWork, utc_now
from services.notifier.adapters.channels import CannotUseChannel, Channel
from services.notifier.adapters.notify import SentByNotify
from services.notifier.adapters.orm import DeliveryRow, TextQuestionRow
from services.notifier.compose import PlannedMessage
from services.notifier.context import Notifier, as_utc
from services.notifier.domain.messages import TO_PROXY, Route, recipient
from services.notifier.notices import Notice, report
from services.notifier.schedule import Origin

FINISHED = {"sent", "delivered", "needs_a_person"}
# A message claimed this recently may still be on its way (see while_sent_elsewhere). However long a send
# or a batch takes, a handler at work keeps its claim fresher than this (kept_claimed, every third of
# it), so only a claim whose handler stopped grows older: an instance stopping gets as long to finish its
# handlers (FastStream's graceful timeout).
STILL_SENDING = dt.timedelta(seconds=15)
# How long we ask GOV.UK Notify what became of a message: it keeps a message's status for 7 days.
ASK_FOR = dt.timedelta(days=7)
log = logging.getLogger("pairing.notifier")


async def send_and_record(
    n: Notifier,
    notice: Notice,
    origin: Origin,
    planned: PlannedMessage,
    me: LeaderContact,
    replan: Callable[[Route], PlannedMessage],
) -> None:
    await while_sent_elsewhere(n.store, notice.key(planned.channel))
    row, before, replaces = await claim(n.store, notice, planned.channel)
    if before in FINISHED:
        await finish(n, notice, origin, row, None)  # sent before; only the report may be missing
        return
    if before == "sending":
        log.warning(
            "delivery %s: the last attempt stopped part way and may have sent already; sending again", without_person(row.key)
        )
    async with kept_claimed(n.store, [row.key]):
        try:
            result = await send(n.channels, planned, me, row.key, replan)
        except Exception as exc:  # noqa: BLE001 - any failure to send is recorded, then retried or given up
            await not_sent(n, notice, origin, row, exc)
            return
        await finish(n, notice, origin, row, result, replaces, asked_by_text=not planned.route.to_proxy)


async def not_sent(n: Notifier, notice: Notice, origin: Origin, row: DeliveryRow, exc: Exception) -> None:
    """Not sent: say so on the row, so the next attempt knows it is not a possible duplicate; then
    retried later, or given up after the last try (its origin decides how: `failed`)."""
    failure = f"{exc.__class__.__name__} on try {row.attempts}"
    # First, on its own: should giving it up fail (the dead-letter topic away), the next try still knows it was not sent.
    await set_status(n.store, row.key, "retrying", failure)
    if origin.out_of_tries(n, row.attempts):
        await give_up(n, notice, origin, row, failure)
    else:
        await origin.retry_later(n, notice, row.key, row.attempts, failure)
    origin.failed(exc)


async def while_sent_elsewhere(store: Store, key: str) -> None:
    """Wait while another handler may be sending this very message: claimed less than STILL_SENDING ago.

    Two handlers can hold one event at once: in a rebalance the partition's new consumer (maybe in the
    same process) reads it again while the old one is still sending it. The second then finds it sent."""
    while True:
        async with store.sessions() as session:
            row = await session.get(DeliveryRow, key)
        if row is None or row.status != "sending" or utc_now() - as_utc(row.updated_at) > STILL_SENDING:
            return
        await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def kept_claimed(store: Store, keys: list[str]) -> AsyncIterator[None]:
    """While these messages are sent and recorded, their rows' claim is kept fresh: their `updated_at`
    is set again every third of STILL_SENDING while they are still "sending". However slow the email
    server, no other handler then takes them for messages whose handler stopped, and sends them again."""
    stop = asyncio.Event()
    keeping = asyncio.create_task(keep_fresh(store, keys, stop)) if keys else None
    try:
        yield
    finally:
        stop.set()
        if keeping is not None:
            await keeping  # lets an update under way finish, rather than cancel it part way


async def keep_fresh(store: Store, keys: list[str], stop: asyncio.Event) -> None:
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), STILL_SENDING.total_seconds() / 3)
        if stop.is_set():
            return
        try:
            async with store.unit_of_work() as uow:
                await uow.session.execute(
                    update(DeliveryRow)
                    .where(DeliveryRow.key.in_(keys), DeliveryRow.status == "sending")
                    .values(updated_at=utc_now())
                )
                await uow.commit()
        except Exception as exc:  # noqa: BLE001 - tried again next time; the send goes on meanwhile
            log.warning("delivery claim not kept fresh (%s); trying again", exc.__class__.__name__)


async def claim(store: Store, notice: Notice, channel: str) -> tuple[DeliveryRow, str | None, bool]:
    """The delivery row for this message, its status before this attempt (None if new), and
    whether it replaces a row scheduled for another channel.

    A finished row for the same event and person under another channel counts
    too: if their contact details changed between two attempts, they still
    hear once.
    """
    key = notice.key(channel)
    async with store.unit_of_work() as uow:
        rows = (
            await uow.session.scalars(
                select(DeliveryRow).where(
                    DeliveryRow.leader_id == notice.leader_id, DeliveryRow.key.startswith(f"{notice.event.event_id}:")
                )
            )
        ).all()
        done = next((r for r in rows if r.status in FINISHED), None)
        if done is not None:
            return done, done.status, False
        replaces = any(r.status == "scheduled" and r.key != key for r in rows)
        row = next((r for r in rows if r.key == key), None)
        before = row.status if row else None
        if row is None:
            row = DeliveryRow(
                key=key, round_id=notice.round_id, leader_id=notice.leader_id, channel=channel, attempts=0, detail=""
            )
            uow.session.add(row)
        row.status = "sending"
        row.attempts += 1
        await uow.commit()
        return row, before, replaces


async def set_status(store: Store, key: str, status: str, detail: str) -> None:
    async with store.unit_of_work() as uow:
        row = await uow.session.get_one(DeliveryRow, key)
        row.status, row.detail = status, detail
        await uow.commit()


async def finish(
    n: Notifier,
    notice: Notice,
    origin: Origin,
    row: DeliveryRow,
    result: tuple[str, str, str] | None,
    replaces: bool = False,
    asked_by_text: bool = False,
) -> None:
    """Record the result (status, channel, detail), mark it done and report, all in one transaction.

    With no result the row was finished before, and only its report may be missing. A text message
    to the person themselves may open a question they can answer by replying (text_question)."""
    status, channel, detail = result or (row.status, row.channel, row.detail)
    async with n.store.unit_of_work() as uow:
        if not await origin.mark_done(uow, notice):
            return
        await notice.after_done(uow, n)
        if result is not None:
            await uow.session.execute(
                update(DeliveryRow)
                .where(DeliveryRow.key == row.key)
                .values(status=status, channel=channel, detail=str(detail), **receipt_to_ask(n, notice, detail))
            )
        if replaces:
            # Scheduled for one channel and sent by another (their details changed overnight): close the old row.
            await uow.session.execute(
                update(DeliveryRow)
                .where(
                    DeliveryRow.key.startswith(f"{notice.event.event_id}:"),
                    DeliveryRow.leader_id == notice.leader_id,
                    DeliveryRow.key != row.key,
                    DeliveryRow.status == "scheduled",
                )
                .values(status="replaced", detail=f"sent by {channel} instead")
            )
        if asked_by_text and status == "sent" and channel == "sms":
            await ask_by_text(uow, n, notice)
        uow.publish(DELIVERIES, notice.leader_id, report(notice, channel, status, detail))
        await uow.commit()


async def ask_by_text(uow: UnitOfWork, n: Notifier, notice: Notice) -> None:
    """A text message to the person themselves may open a question they can answer by replying."""
    if (question := notice.text_question()) is None:
        return
    if question.kind != "pair":  # a reply can only be to the latest question after pairing, never an earlier one
        await uow.session.execute(
            update(TextQuestionRow)
            .where(TextQuestionRow.round_id == question.round_id, TextQuestionRow.leader_id == question.leader_id)
            .where(TextQuestionRow.partner_id == question.partner_id, TextQuestionRow.kind != "pair")
            .where(TextQuestionRow.closed_at.is_(None), TextQuestionRow.key != question.key)
            .values(closed_at=n.now())
        )
    await uow.session.merge(question)


def receipt_to_ask(n: Notifier, notice: Notice, detail: str) -> dict:
    """For a message GOV.UK Notify took: its id and when to ask what became of it (receipts.py)."""
    if not isinstance(detail, SentByNotify) or not detail.notification_id:
        return {}
    now = n.now()
    return {
        "notify_id": detail.notification_id,
        "about": notice.about,
        "receipt_check_at": now + dt.timedelta(seconds=n.rules.receipt_seconds),
        "receipt_until": now + ASK_FOR,
    }


async def give_up(n: Notifier, notice: Notice, origin: Origin, row: DeliveryRow, failure: str) -> None:
    """Tell the registry a message could not be sent, so a person can follow it up (its origin
    decides what becomes of the event: `let_go`)."""
    detail = f"could not be sent ({failure}, the last); a person should follow it up"
    async with n.store.unit_of_work() as uow:
        failed = await uow.session.get_one(DeliveryRow, row.key)
        failed.status, failed.detail = "failed", detail
        if not await origin.let_go(uow, n, notice, failure, row.attempts):
            return
        await notice.after_done(uow, n)
        uow.publish(DELIVERIES, notice.leader_id, report(notice, row.channel, "failed", detail))
        await uow.commit()


async def send(
    channels: Mapping[str, Channel],
    planned: PlannedMessage,
    me: LeaderContact,
    key: str,
    replan: Callable[[Route], PlannedMessage],
) -> tuple[str, str, str]:
    """Send through the planned channel; if that channel cannot take this message, give it to a person.

    Returns (status, channel, detail) for the delivery row and report.
    """
    try:
        detail = await channels[planned.channel].send(planned, recipient(me, planned.route), key)
        if planned.route.to_proxy:
            # Who, in words; never their name or address. Notify's id for the message stays with the note.
            proxy_note = f"{detail}, {TO_PROXY}"
            detail = SentByNotify(proxy_note, detail.notification_id) if isinstance(detail, SentByNotify) else proxy_note
        return ("needs_a_person" if planned.channel == "person" else "sent"), planned.channel, detail
    except CannotUseChannel as exc:
        why = f"could not be reached by {planned.channel}: {exc}"
        if planned.route.to_proxy:
            why = f"could not be reached through the person they named, by {planned.channel}: {exc}"
    # A person passes it on, and the task is about the leader: the message without the words for the proxy.
    for_a_person = replan(dataclasses.replace(planned.route, channel="person", why_a_person=why, to_proxy=False))
    return "needs_a_person", "person", await channels["person"].send(for_a_person, me, key)
