"""Runs beside the scheduler when messages go through GOV.UK Notify: asks Notify what became of each one.

Notify takes a message at once (the report says "sent") and learns later
whether it arrived. For each delivery row with Notify's id for the message,
this asks Notify for its status, first after NOTIFIER_NOTIFY_RECEIPT_SECONDS,
then less often as the message gets older (never more than an hour apart).
When the status is final the row changes and a report goes to the outbox in
one transaction: "delivered", or "failed" with why in plain words, for a
person to follow up. It stops asking then, or after 7 days (ASK_FOR),
when Notify forgets a message. Letters only ever reach "printed and posted":
the row says so, and the report stays "sent".

Several notifier instances may each run one: a row is taken by moving its
next check on first (`take`), so only one of them asks about it each time.
Messages sent by SMTP or written to files have no Notify id and are never asked about.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy import select, update

from schemas.topics import DELIVERIES
from services.common.background import Background
from services.common.logs import without_person
from services.notifier.adapters.notify import Receipt
from services.notifier.adapters.orm import DeliveryRow
from services.notifier.context import Notifier, as_utc, delivery_report, rows_changed
from services.notifier.delivery import ASK_FOR

log = logging.getLogger("pairing.notifier.receipts")

# What Notify says became of a message, by its id (NotifyChannel.receipt).
Ask = Callable[[str], Awaitable[Receipt]]
MOST_BETWEEN = dt.timedelta(hours=1)
BATCH = 100  # asked one at a time, so a large round stays well inside Notify's 3,000 requests a minute


async def due_keys(n: Notifier, limit: int = BATCH) -> list[str]:
    query = (
        select(DeliveryRow.key).where(DeliveryRow.receipt_check_at <= n.now()).order_by(DeliveryRow.receipt_check_at).limit(limit)
    )
    async with n.store.sessions() as session:
        return list((await session.scalars(query)).all())


async def take(n: Notifier, key: str) -> DeliveryRow | None:
    """Move the row's next check on, so no other instance asks about it now; None if another did first."""
    now = n.now()
    async with n.store.unit_of_work() as uow:
        row = await uow.session.get(DeliveryRow, key)
        if row is None or row.receipt_check_at is None or as_utc(row.receipt_check_at) > now:
            return None
        until = as_utc(row.receipt_until) or now
        age = now - (until - ASK_FOR)  # how long ago it was sent
        wait = max(dt.timedelta(seconds=n.rules.receipt_seconds), min(age, MOST_BETWEEN))
        taken = await uow.session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.key == key, DeliveryRow.receipt_check_at == row.receipt_check_at)
            .values(receipt_check_at=now + wait)
        )
        if rows_changed(taken) != 1:
            return None
        await uow.commit()
        return row


async def check(n: Notifier, ask: Ask, key: str) -> None:
    row = await take(n, key)
    if row is None or not row.notify_id:
        return
    try:
        receipt = await ask(row.notify_id)
    except Exception as exc:  # noqa: BLE001 - Notify may be away or busy: ask again at the next check
        log.warning(
            "delivery %s: could not ask GOV.UK Notify what became of it (%s)", without_person(key), exc.__class__.__name__
        )
        receipt = Receipt(final=False)
    if not receipt.final:
        if n.now() >= (as_utc(row.receipt_until) or n.now()):
            log.info("delivery %s: GOV.UK Notify had no final status after %s; no longer asking", without_person(key), ASK_FOR)
            await record(n, row, Receipt(final=True))
        return
    await record(n, row, receipt)


async def record(n: Notifier, row: DeliveryRow, receipt: Receipt) -> None:
    """Stop asking; with a final status, change the row and report it, in one transaction."""
    values: dict = {"receipt_check_at": None}
    if receipt.status is not None:
        values |= {"status": receipt.status, "detail": receipt.detail}
    elif receipt.detail:
        values["detail"] = f"{row.detail}; {receipt.detail}"
    async with n.store.unit_of_work() as uow:
        # Only a row still sent and still being asked about: another change since then wins.
        changed = await uow.session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.key == row.key, DeliveryRow.status == "sent", DeliveryRow.receipt_check_at.is_not(None))
            .values(**values)
        )
        if rows_changed(changed) == 1 and receipt.status is not None:
            event_id = uuid.UUID(row.key.split(":", 1)[0])  # the key is "{event id}:{leader id}:{channel}"
            report = delivery_report(
                row.round_id, row.leader_id, event_id, row.about or "outcome", row.channel, receipt.status, receipt.detail
            )
            uow.publish(DELIVERIES, row.leader_id, report)
        await uow.commit()


async def run_due(n: Notifier, ask: Ask, stopping: asyncio.Event | None = None) -> int:
    """Ask about every message due a check, until `stopping` is set (the rest stay due for the next
    pass); returns how many were due."""
    keys = await due_keys(n)
    for key in keys:
        if stopping is not None and stopping.is_set():
            break
        await check(n, ask, key)
    return len(keys)


class ReceiptChecker(Background):
    task_name = "notifier-receipts"

    def __init__(self, notifier: Notifier, ask: Ask, every_seconds: float = 60):
        self.notifier, self.ask, self.every_seconds = notifier, ask, every_seconds

    async def run_due(self) -> int:
        """One pass. Tests call this with a frozen clock."""
        return await run_due(self.notifier, self.ask, self.stopping)

    async def run_forever(self) -> None:
        while not self.stopping.is_set():
            try:
                asked = await self.run_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("receipt check failed; trying again shortly")
                asked = 0
            # A full batch means more are due: go on at once.
            await self.rest(0 if asked >= BATCH else self.every_seconds)
