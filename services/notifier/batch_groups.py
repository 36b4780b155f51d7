"""The ordinary messages of a batch of outcomes (batch.py), a few at a time: written, claimed, sent
and recorded, with never more than two fews sent and not yet recorded. Each few is claimed while the
few before is sent, so the email server's connections do not wait for a claim (only for a quick look for
erasures when the few's turn comes)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import cast

from sqlalchemy import Insert, Table, Update, bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from schemas.events import LeaderContact
from schemas.topics import DELIVERIES
from services.common.store import UnitOfWork, utc_now
from services.notifier import check_ins, reminders
from services.notifier.adapters.orm import DeliveryRow, ErasedRow
from services.notifier.batch_run import NOT_THE_MESSAGE, Ready, Run, in_quiet_hours, through_outages
from services.notifier.compose import PlannedMessage
from services.notifier.contacts import digest, erased_among
from services.notifier.context import Notifier
from services.notifier.delivery import ask_by_text, kept_claimed, not_sent, receipt_to_ask, send
from services.notifier.domain.messages import Route
from services.notifier.notices import CONSUMER, Contacts, OutcomeNotice, report

TABLE = cast(Table, DeliveryRow.__table__)
# Claimed, sent and recorded together: enough to keep the email server busy, few enough that little
# is in flight at any moment (a crash can leave two fews sent and unrecorded, to go again with the same
# Message-ID). 32, not 16: each few's claim, turn and record cost as much for 32 as for 16, and 3,000
# messages in one process went with 10% less notifier CPU each and 10% faster (docs/benchmarks.md).
FEW = 32


def in_few(notices: list[OutcomeNotice]) -> list[list[OutcomeNotice]]:
    """A few at a time, in the batch's order, with at most one message to a person in each few and a
    person's later message two fews later or more: the fews are sent one after another, so their
    messages keep order, and a few is claimed while the one before is sent, so never before its
    people's earlier messages are all sent (one that failed then holds the later one back)."""
    groups: list[list[OutcomeNotice]] = []
    last: dict[str, int] = {}
    for notice in notices:
        at = last.get(notice.leader_id, -2) + 2
        while at < len(groups) and len(groups[at]) >= FEW:
            at += 1
        while at >= len(groups):
            groups.append([])  # may leave a few empty between a person's two messages: it keeps them apart
        groups[at].append(notice)
        last[notice.leader_id] = at
    return groups


def write(n: Notifier, notices: list[OutcomeNotice], contacts: dict[str, LeaderContact]) -> list[Ready | Exception]:
    """Plan and render each message, and seal its reminders and questions for the schedule (in a worker
    thread: the event loop meanwhile keeps the email server busy). One that cannot be written is its error."""
    written: list[Ready | Exception] = []
    for notice in notices:
        try:
            theirs: Contacts = {leader: contacts[leader] for leader in notice.needed}
            follow_ups, questions = reminders.due_for(n, notice.event), check_ins.due_for(n, notice.event)
            jobs = {**reminders.sealed_jobs(n, notice.event, follow_ups), **check_ins.sealed_jobs(n, notice.event, questions)}
            written.append(Ready(notice, theirs, notice.plan(n.rules, theirs), jobs, follow_ups, questions))
        except Exception as exc:  # noqa: BLE001 - this message alone is dead-lettered (Run.reject)
            written.append(exc)
    return written


async def tell_ordinary(run: Run, ordinary: list[OutcomeNotice], contacts: dict[str, LeaderContact]) -> list[OutcomeNotice]:
    """Every ordinary message written, claimed, sent and recorded, a few at a time; returns those that go
    the one-message way after all (claimed meanwhile by someone else, two consumers in a rebalance; in
    quiet hours by the time their few is sent; about someone erased since the batch began; and that
    person's later messages).

    A few is claimed while the few before is sent, and sent once the few before is all sent (so each
    person's messages keep their order) and the few before that is recorded (so at most two fews are
    ever sent and not yet recorded: what a crash can leave to send again). Meanwhile the few before is
    recorded, and the next one written. A few is claimed only once every few two or more before it is
    all sent, and no person has a message in two fews next to each other (in_few): so a person with a
    message to be tried again has their later ones held back for the next try (Run.held), never
    claimed ahead of it. A cancel (the service stopping) waits for every few being sent to be sent and
    recorded, and lets go of a few claimed but not yet sent (its rows as if never claimed), so a replay
    finds only messages never sent."""
    groups = in_few(ordinary)
    others: list[OutcomeNotice] = []
    diverted: set[str] = set()

    def divert(notices: Iterable[OutcomeNotice]) -> None:
        for notice in notices:
            others.append(notice)
            diverted.add(notice.leader_id)

    fews: list[Few] = []
    flying: list[asyncio.Task[None]] = []
    writing = asyncio.create_task(asyncio.to_thread(write, run.n, groups[0], contacts)) if groups else None
    try:
        for at in range(len(groups)):
            assert writing is not None
            written = await writing
            nxt = at + 1
            writing = asyncio.create_task(asyncio.to_thread(write, run.n, groups[nxt], contacts)) if nxt < len(groups) else None
            if fews:
                # The few before has its turn (the one before it all sent): what it let go is known, and whose sends failed.
                divert(ready.notice for ready in await asyncio.shield(fews[-1].turned))
            ready = await to_claim(run, groups[at], written, diverted, divert)
            few = Few(ready, fews[-1] if fews else None, flying[at - 2] if at >= 2 else None)
            flying.append(asyncio.create_task(few.fly(run)))
            fews.append(few)
            divert(lost.notice for lost in await asyncio.shield(few.claimed))
        if fews:
            divert(ready.notice for ready in await asyncio.shield(fews[-1].turned))
        await landed(flying)
    except BaseException:
        for few in fews:
            few.stopping = True  # a few not sent yet is let go, not sent
        if flying:  # stopping, or a failure: every few being sent is still sent and recorded first
            await asyncio.wait(flying)
        raise
    finally:
        if writing is not None:
            writing.cancel()
    return others


async def to_claim(
    run: Run,
    notices: list[OutcomeNotice],
    written: list[Ready | Exception],
    diverted: set[str],
    divert: Callable[[Iterable[OutcomeNotice]], None],
) -> list[Ready]:
    """Those of a few to claim: not those that cannot be written (dead-lettered), held back behind their
    person's earlier message, or diverted to the one-message way (quiet hours, or their person's earlier one)."""
    now = run.n.now()  # quiet hours as they are now; looked at again when the few's turn comes
    ready: list[Ready] = []
    for notice, item in zip(notices, written, strict=True):
        if isinstance(item, Exception):
            await run.reject(notice, item)
        elif run.held_back(notice):
            continue
        elif notice.leader_id in diverted or in_quiet_hours(run.n, item.planned.route, item.me, now):
            divert([notice])
        else:
            ready.append(item)
    return ready


async def landed(flying: list[asyncio.Task[None]]) -> None:
    """Every few sent and recorded; the first failure that stopped one (the database away) raised."""
    if flying:
        await asyncio.wait(flying)  # never cancels them, whatever befalls the wait
    for task in flying:
        if (failure := task.exception()) is not None:
            raise failure


def future() -> asyncio.Future[list[Ready]]:
    return asyncio.get_running_loop().create_future()


@dataclass
class Few:
    """A few messages: claimed; sent once the few before is all sent (`before`) and the one before that
    recorded (`recorded`); then recorded. Their claim is kept fresh from the claim on."""

    written: list[Ready]
    before: Few | None = None
    recorded: asyncio.Task[None] | None = None
    claimed: asyncio.Future[list[Ready]] = field(default_factory=future)  # those someone else claimed first
    turned: asyncio.Future[list[Ready]] = field(default_factory=future)  # those let go at its turn (take_turn)
    sent: asyncio.Event = field(default_factory=asyncio.Event)
    stopping: bool = False  # the batch stops (a cancel, or a failure): if its turn has not come, nothing is sent

    async def fly(self, run: Run) -> None:
        try:
            mine, lost = await claim_all(run, self.written)
        except BaseException as exc:
            self.claimed.set_exception(exc)
            self.turned.set_result([])
            self.sent.set()
            raise
        self.claimed.set_result(lost)
        async with kept_claimed(run.n.store, [ready.key for ready in mine]):
            try:
                mine = await self.take_turn(run, mine)
                await asyncio.gather(*(send_one(run.n, ready) for ready in mine))
                for ready in mine:
                    if ready.error is not None:  # tried again, or given up on: its person's later ones wait
                        run.hold(ready.notice)
            except BaseException:
                # Its turn or its sending broke off (the database away, a cancel): none of these is known to
                # be sent, so their people's later messages wait behind them (the batch is tried again).
                for ready in mine:
                    run.hold(ready.notice)
                raise
            finally:
                if not self.turned.done():
                    self.turned.set_result([])
                self.sent.set()
            await record_all(run, [ready for ready in mine if ready.result is not None])
        for ready in mine:
            if ready.error is not None:
                row = DeliveryRow(key=ready.key, leader_id=ready.notice.leader_id, channel=ready.planned.channel, attempts=1)
                await run.alone(ready.notice, not_sent(run.n, ready.notice, run.origin(ready.notice), row, ready.error))
            else:
                run.sealed.update(ready.jobs)
                run.follow_ups[str(ready.notice.event.event_id)] = ready.follow_ups
                run.questions[str(ready.notice.event.event_id)] = ready.questions

    async def take_turn(self, run: Run, mine: list[Ready]) -> list[Ready]:
        """Once the few before is all sent and the one before that recorded: those claimed here that may be
        sent now. One in quiet hours by now, or about someone erased since the claim, is let go (its row as
        if never claimed) for the one-message way; if the batch is stopping, every one is."""
        if self.before is not None:
            await self.before.sent.wait()
        if self.recorded is not None:
            await asyncio.wait([self.recorded])
        if self.stopping:
            if mine:
                await through_outages(functools.partial(unclaim, run.n, [ready.key for ready in mine]))
            self.turned.set_result(mine)
            return []
        gone = await through_outages(functools.partial(erased_now, run.n, mine)) if mine else set()
        now = run.n.now()
        quiet = [
            ready
            for ready in mine
            if gone.intersection(ready.notice.needed) or in_quiet_hours(run.n, ready.planned.route, ready.me, now)
        ]
        if quiet:
            await through_outages(functools.partial(unclaim, run.n, [ready.key for ready in quiet]))
        self.turned.set_result(quiet)
        let_go = {id(ready) for ready in quiet}
        return [ready for ready in mine if id(ready) not in let_go]


async def erased_now(n: Notifier, written: list[Ready]) -> set[str]:
    """The people these messages need who have been erased (or withdrawn) by now."""
    async with n.store.unit_of_work() as uow:  # a lost connection is DatabaseUnavailable: through_outages waits it out
        return await erased_among(uow.session, sorted({leader for ready in written for leader in ready.notice.needed}))


async def unclaim(n: Notifier, keys: list[str]) -> None:
    """Rows claimed by this few and not sent after all: gone, so the one-message way finds none."""
    async with n.store.unit_of_work() as uow:
        await uow.session.execute(delete(DeliveryRow).where(DeliveryRow.key.in_(keys), DeliveryRow.status == "sending"))
        await uow.commit()


async def claim_all(run: Run, written: list[Ready]) -> tuple[list[Ready], list[Ready]]:
    """`claim` for the few; if that fails, for each on its own, so one that cannot be claimed (a value
    the database refuses: dead-lettered, with why) holds up no other."""
    if not written:
        return [], []
    try:
        return await claim(run.n, written)
    except NOT_THE_MESSAGE:
        raise
    except Exception:  # noqa: BLE001 - one of them is the trouble: each on its own finds which
        mine: list[Ready] = []
        lost: list[Ready] = []
        for ready in written:
            try:
                got = await claim(run.n, [ready])
            except NOT_THE_MESSAGE:
                raise
            except Exception as exc:  # noqa: BLE001 - this message alone is dead-lettered
                await run.reject(ready.notice, exc)
                continue
            mine += got[0]
            lost += got[1]
        return mine, lost


# A few's new delivery rows, as the parameters of one statement (not in its text), so it is compiled once
# and kept (as the inbox's marks, UnitOfWork.first_times): a row someone else made first is skipped.
# By dialect: PostgreSQL's, then SQLite's.
CLAIMED: dict[bool, Insert] = {
    True: postgresql_insert(TABLE).on_conflict_do_nothing().returning(TABLE.c.key),
    False: sqlite_insert(TABLE).on_conflict_do_nothing().returning(TABLE.c.key),
}


async def claim(n: Notifier, written: list[Ready]) -> tuple[list[Ready], list[Ready]]:
    """Delivery rows made "sending" before anything is sent, in one transaction (delivery.claim, for a few);
    returns those claimed here, and the others: with a row made meanwhile by someone else, or about
    someone erased meanwhile (the batch's first look at the database is old news by a later few)."""
    async with n.store.unit_of_work() as uow:
        # Erased (or withdrawn) since the batch first looked: left to the one-message way, which sends nothing.
        started, gone = await started_or_erased(uow, written, n.channels)
        fresh = [ready for ready in written if ready.notice.job_key not in started and not gone.intersection(ready.notice.needed)]
        made: set[str] = set()
        if fresh:
            now = utc_now()
            rows = [
                {
                    "key": ready.key,
                    "round_id": ready.notice.round_id,
                    "leader_id": ready.notice.leader_id,
                    "channel": ready.planned.channel,
                    "status": "sending",
                    "attempts": 1,
                    "detail": "",
                    "updated_at": now,
                }
                for ready in fresh
            ]
            made = set(await uow.session.scalars(CLAIMED[n.store.is_postgres], rows))
        await uow.commit()
    return [r for r in written if r.key in made], [r for r in written if r.key not in made]


async def started_or_erased(uow: UnitOfWork, written: list[Ready], channels: Iterable[str]) -> tuple[set[str], set[str]]:
    """The job keys among these with a delivery row already, under any channel (batch_run.started_among), and
    the people they need who were erased (contacts.erased_among): both in one statement, as a claim waits on it."""
    keys = {ready.notice.key(channel) for ready in written for channel in {*channels, "person"}}
    digests = {digest(leader): leader for ready in written for leader in ready.notice.needed}
    found = await uow.session.scalars(
        select(DeliveryRow.key)
        .where(DeliveryRow.key.in_(keys))
        .union_all(select(ErasedRow.digest).where(ErasedRow.digest.in_(list(digests))))
    )
    started: set[str] = set()
    gone: set[str] = set()
    for value in found:  # a delivery key has colons; a digest never does
        if value in keys:
            started.add(value.rsplit(":", 1)[0])
        elif value in digests:
            gone.add(digests[value])
    return started, gone


async def send_one(n: Notifier, ready: Ready) -> None:
    def replan(route: Route | None = None) -> PlannedMessage:
        return ready.notice.plan(n.rules, ready.contacts, route)

    try:
        ready.result = await send(n.channels, ready.planned, ready.me, ready.key, replan)
    except Exception as exc:  # noqa: BLE001 - recorded once the few is sent (delivery.not_sent)
        ready.error = exc


# Each sent message's row, by its key: every column given, so one statement serves them all.
RECORDED: Update = update(TABLE).where(TABLE.c.key == bindparam("sent_key"))
NO_RECEIPT = {"notify_id": None, "about": None, "receipt_check_at": None, "receipt_until": None}


async def record_all(run: Run, sent: list[Ready]) -> None:
    """The few's results in one transaction; if that fails, each on its own, so one that cannot be
    recorded (dead-lettered, with why, its row saying it was sent) leaves the others recorded. While the
    database is away each is written again and again: what was sent is never thrown away to be sent again."""
    if not sent:
        return
    try:
        await through_outages(lambda: record(run.n, sent))
    except Exception:  # noqa: BLE001 - one of them is the trouble: each on its own finds which
        for ready in sent:
            try:
                await through_outages(functools.partial(record, run.n, [ready]))
            except Exception as exc:  # noqa: BLE001 - this message alone is dead-lettered
                await run.reject(ready.notice, exc, sent=ready)


async def record(n: Notifier, sent: list[Ready]) -> None:
    """Results, inbox marks and delivery reports, in one transaction (delivery.finish, for a few)."""
    async with n.store.unit_of_work() as uow:
        new = await uow.first_times(CONSUMER, [str(ready.notice.event.event_id) for ready in sent])
        rows = []
        for ready in sent:
            if str(ready.notice.event.event_id) not in new:
                continue  # another consumer marked it meanwhile (a rebalance), or an earlier write of these: done
            status, channel, detail = ready.result  # type: ignore[misc]  # sent: it has a result
            receipt = {**NO_RECEIPT, **receipt_to_ask(n, ready.notice, detail)}
            rows.append({"sent_key": ready.key, "status": status, "channel": channel, "detail": str(detail), **receipt})
            if not ready.planned.route.to_proxy and status == "sent" and channel == "sms":
                await ask_by_text(uow, n, ready.notice)
            uow.publish(DELIVERIES, ready.notice.leader_id, report(ready.notice, channel, status, detail))
        if rows:
            await uow.session.execute(RECORDED, rows)
        await uow.commit()
