"""Runs beside the scheduler when messages go through GOV.UK Notify: reads replies to text messages.

A person offered one partner by text can answer by replying YES or NO. This asks Notify's
received-text API for new texts every NOTIFIER_NOTIFY_INBOUND_SECONDS (newest first, until a text
handled before), and handles them oldest first, each once (`received_texts` keeps their ids):

- a clear yes or no (domain/replies.py) from the number of exactly one person with exactly one
  open question (text_questions, opened when their text was sent): a `TextReplyReceived` event on
  responses.v1, which the registry records as an answer given by text, by the same rules as a link;
- anything else (a number that matches nobody, words that are not a clear yes or no, a person with
  no question or several open): a task for the programme team in the for_a_person folder, with the
  words of the reply for them to read, reported "needs_a_person" when we know who sent it.

Nothing is guessed. The words of a reply and the number are only ever in the task: never in an
event, a report or a log.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from notifications_python_client.notifications import NotificationsAPIClient
from sqlalchemy import and_, or_, select, update

from schemas.events import (
    FollowUpAnswered,
    LeaderContact,
    PairAccepted,
    PairDeclined,
    PairEnded,
    TextReply,
    TextReplyReceived,
)
from schemas.topics import DELIVERIES, RESPONSES
from services.common.background import Background
from services.common.store import UnitOfWork
from services.notifier.adapters.channels import file_name, write_once
from services.notifier.adapters.orm import ContactRow, DeliveryRow, ReceivedTextRow, TextQuestionRow
from services.notifier.compose import london_date
from services.notifier.contacts import contact_of
from services.notifier.context import PRODUCER, Notifier, delivery_report
from services.notifier.domain.messages import one_line
from services.notifier.domain.replies import read_follow_up_reply, read_reply, uk_number
from services.notifier.domain.tasks import DEFAULT_TASK_DAYS, task_deadline
from services.notifier.domain.wording import full_date

log = logging.getLogger("pairing.notifier.inbound")

# Notify keeps received texts for 7 days; a page holds up to 250, newest first.
KEPT_FOR = dt.timedelta(days=7)
# One page of received texts, older than the text with this id (None: the newest).
Fetch = Callable[[str | None], Awaitable[dict]]


@dataclass(frozen=True)
class ReceivedText:
    id: str
    number: str
    words: str
    received_at: dt.datetime


@dataclass(frozen=True)
class Task:
    """Why a reply needs a person, and whom it is from when we know."""

    why: str
    who: LeaderContact | None = None
    question: TextQuestionRow | None = None


def notify_fetch(api_key: str, base_url: str, timeout: float) -> Fetch:
    """Notify's received texts, one page at a time (its client is synchronous and not thread-safe)."""

    async def fetch(older_than: str | None) -> dict:
        client = NotificationsAPIClient(api_key, base_url=base_url, timeout=timeout)
        return await asyncio.to_thread(client.get_received_texts, older_than)

    return fetch


def read_text(item: Mapping) -> ReceivedText:
    at = dt.datetime.fromisoformat(str(item.get("created_at", "")).replace("Z", "+00:00"))
    at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
    return ReceivedText(str(item["id"]), str(item.get("user_number", "")), str(item.get("content", "")), at)


async def new_texts(n: Notifier, fetch: Fetch) -> list[ReceivedText]:
    """Texts not handled yet, oldest first: pages newest first until one handled before (or 7 days)."""
    found: list[ReceivedText] = []
    older_than: str | None = None
    while True:
        page = [read_text(item) for item in (await fetch(older_than)).get("received_text_messages") or []]
        if not page:
            break
        async with n.store.sessions() as session:
            seen = set(await session.scalars(select(ReceivedTextRow.id).where(ReceivedTextRow.id.in_([t.id for t in page]))))
        fresh = [t for t in page if t.id not in seen and n.now() - t.received_at < KEPT_FOR]
        found += fresh
        if len(fresh) < len(page):
            break
        older_than = page[-1].id
    return list(reversed(found))


async def open_questions(
    uow: UnitOfWork, n: Notifier, number: str | None
) -> tuple[list[TextQuestionRow], dict[str, LeaderContact]]:
    """The open questions asked of whoever has this number now, and the contacts of everyone asked."""
    rows = (await uow.session.scalars(select(TextQuestionRow).where(TextQuestionRow.closed_at.is_(None)))).all()
    contacts = {}
    for leader in {r.leader_id for r in rows}:
        if (contact := await contact_of(uow.session, n.cipher, leader)) is not None:
            contacts[leader] = contact
    mine = [r for r in rows if number and r.leader_id in contacts and uk_number(contacts[r.leader_id].phone) == number]
    return mine, contacts


async def people_with(uow: UnitOfWork, n: Notifier, number: str | None) -> list[LeaderContact]:
    """Everyone whose phone number is this one (their own, not a named person's)."""
    if number is None:
        return []
    people = []
    for row in (await uow.session.scalars(select(ContactRow))).all():
        contact = LeaderContact.model_validate(n.cipher.open(row.sealed))
        if uk_number(contact.phone) == number:
            people.append(contact)
    return people


async def task_for(uow: UnitOfWork, n: Notifier, number: str | None, mine: list[TextQuestionRow], contacts: dict) -> Task:
    """Why no answer can be taken from this reply, and whom it is from when exactly one person has the number."""
    if mine and len({q.leader_id for q in mine}) == 1:
        who = contacts[mine[0].leader_id]
        if len(mine) > 1:
            return Task(f"has {len(mine)} questions waiting for an answer, so a reply cannot say which it is about", who)
        return Task("replied with something we cannot read as a clear yes or no", who, mine[0])
    people = await people_with(uow, n, number)
    if len(people) > 1:
        return Task(f"the reply came from a phone number {len(people)} people on record share, so we cannot tell whose it is")
    if not people:
        return Task("the reply came from a phone number that is not on anyone's record")
    return Task("has no question waiting for an answer by text (they may have answered already)", people[0])


def reply_task_text(task: Task, text: ReceivedText, number: str, today: dt.date, days: int) -> str:
    """The task for the programme team: what to do, by when, from whom, why, and the words of the reply."""
    due = task_deadline(None, today, days).date
    if task.who is not None:
        name = one_line(task.who.name)
        who = (
            f"Who it is from: {name}. Their details are on their page in the managers' pages: open Leaders and search for {name}."
        )
        why = f"Why a person is needed: {name} {task.why}."
    else:
        who = f"Who it is from: we do not know. It came from the phone number {number}."
        why = f"Why a person is needed: {task.why}."
    received = text.received_at.astimezone(dt.UTC)
    lines = [
        "Reply to a text message",
        "",
        "What to do: please read the reply below and contact the person who sent it to find out what they want. "
        "If they are answering yes or no to a partner, record their answer on the round's page.",
        f"Do it by: {full_date(due)} ({days} working days from today).",
        who,
        why,
        f"When it came: {full_date(london_date(received))}.",
    ]
    return "\n".join(lines) + f"\n\n---- the reply ----\n\n{text.words}\n"


async def report_round(uow: UnitOfWork, task: Task) -> tuple[str, str] | None:
    """The round to report a task under: the question's, or the person's newest message. None for nobody known."""
    if task.who is None:
        return None
    if task.question is not None:
        return task.question.round_id, task.question.leader_id
    leader = task.who.leader_id
    asked = await uow.session.scalar(
        select(TextQuestionRow.round_id)
        .where(TextQuestionRow.leader_id == leader)
        .order_by(TextQuestionRow.asked_at.desc())
        .limit(1)
    )
    sent = asked or await uow.session.scalar(
        select(DeliveryRow.round_id).where(DeliveryRow.leader_id == leader).order_by(DeliveryRow.updated_at.desc()).limit(1)
    )
    return (sent, leader) if sent else None


def reply_id(text: ReceivedText) -> uuid.UUID:
    """Notify's id for the text (a UUID), standing in the report for the message it is about."""
    try:
        return uuid.UUID(text.id)
    except ValueError:
        return uuid.uuid5(uuid.NAMESPACE_URL, f"notify-received-text:{text.id}")


class InboundTexts(Background):
    task_name = "notifier-inbound-texts"

    def __init__(
        self,
        notifier: Notifier,
        fetch: Fetch,
        tasks_dir: Path,
        working_days: Mapping[str, int] | None = None,
        every_seconds: float = 60,
    ):
        self.notifier, self.fetch, self.tasks_dir, self.every_seconds = notifier, fetch, tasks_dir, every_seconds
        self.days = {**DEFAULT_TASK_DAYS, **(working_days or {})}["contact"]

    async def run_due(self) -> int:
        """One pass over the new texts; returns how many were handled. Tests call this."""
        handled = 0
        for text in await new_texts(self.notifier, self.fetch):
            if self.stopping.is_set():
                break  # the rest are new again at the next pass (new_texts), here or in another instance
            await self.handle(text)
            handled += 1
        return handled

    async def handle(self, text: ReceivedText) -> None:
        n = self.notifier
        number = uk_number(text.number)
        async with n.store.unit_of_work() as uow:
            if await uow.session.get(ReceivedTextRow, text.id) is not None:
                return
            mine, contacts = await open_questions(uow, n, number)
            uow.session.add(ReceivedTextRow(id=text.id))
            answer = read_answer(mine[0], text.words) if len(mine) == 1 else None
            if answer is not None and len(mine) == 1:
                pass_on(uow, n, mine[0], answer, text)
                await uow.commit()
                log.info("text reply %s: passed to the registry to record", text.id)
                return
            task = await task_for(uow, n, number, mine, contacts)
            await self.leave_task(uow, task, text, number or text.number)
            await uow.commit()
        log.info("text reply %s: left for a person to read", text.id)

    async def leave_task(self, uow: UnitOfWork, task: Task, text: ReceivedText, number: str) -> None:
        """Write the task (named by the text's id, so a second try replaces it) and report it when we know who."""
        today = london_date(self.notifier.now())
        body = reply_task_text(task, text, number, today, self.days)
        path = await asyncio.to_thread(write_once, self.tasks_dir, file_name(f"text-reply-{text.id}", ".txt"), body.encode())
        found = await report_round(uow, task)
        if found is None:
            return
        round_id, leader_id = found
        detail = f"replied to a text message, and a person must read it: {task.why}; task written to {path.name}"
        due = task_deadline(None, today, self.days).date
        report = delivery_report(
            round_id, leader_id, reply_id(text), "text_reply", "person", "needs_a_person", detail, "text_reply", due
        )
        uow.publish(DELIVERIES, leader_id, report)

    async def run_forever(self) -> None:
        while not self.stopping.is_set():
            try:
                await self.run_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reading replies to text messages failed; trying again shortly")
            await self.rest(self.every_seconds)


def read_answer(question: TextQuestionRow, words: str) -> str | None:
    """A clear answer to this question: yes or no to a partner, or an answer to "Did you meet?" or a check-in."""
    return read_reply(words) if question.kind == "pair" else read_follow_up_reply(words, question.kind)


def pass_on(uow: UnitOfWork, n: Notifier, question: TextQuestionRow, answer: str, text: ReceivedText) -> None:
    """Close the question and ask the registry to record the answer, in the transaction that marks the text handled."""
    question.closed_at = n.now()
    data = TextReply.model_validate(
        {
            "round_id": question.round_id,
            "leader_id": question.leader_id,
            "partner_id": question.partner_id,
            "answer": answer,
            "received_on": london_date(text.received_at),
            "question": question.kind,
            # A "Did you meet?" asked again after the date they set is numbered by that date in the schedule;
            # to the registry every "Did you meet?" is question 0.
            "number": 0 if question.kind == "met" else question.number,
        }
    )
    event = TextReplyReceived(
        producer=PRODUCER, correlation_id=question.round_id, causation_id=question.key.split(":", 1)[0], data=data
    )
    uow.publish(RESPONSES, question.round_id, event)


async def answered(n: Notifier, event: PairAccepted | PairDeclined | PairEnded) -> None:
    """An answer recorded by any route closes its question; a no, or the pair ending, also closes the partner's."""
    a = event.data
    pairs = [
        and_(TextQuestionRow.leader_id == a.leader_id, TextQuestionRow.partner_id == a.partner_id, TextQuestionRow.kind == "pair")
    ]
    if isinstance(event, (PairDeclined, PairEnded)):
        pairs.append(and_(TextQuestionRow.leader_id == a.partner_id, TextQuestionRow.partner_id == a.leader_id))
    if isinstance(event, PairEnded):  # nothing more is asked about a pair that ended, of either person
        people = [a.leader_id, a.partner_id]
        pairs.append(and_(TextQuestionRow.leader_id.in_(people), TextQuestionRow.partner_id.in_(people)))
    async with n.store.unit_of_work() as uow:
        await uow.session.execute(
            update(TextQuestionRow)
            .where(TextQuestionRow.round_id == a.round_id, TextQuestionRow.closed_at.is_(None), or_(*pairs))
            .values(closed_at=n.now())
        )
        await uow.commit()


async def follow_up_answered(n: Notifier, event: FollowUpAnswered) -> None:
    """An answer to "Did you meet?" or a check-in, by any route, closes that question asked by text."""
    a = event.data
    asked = TextQuestionRow.kind == a.question
    if a.question == "check_in":
        asked = and_(asked, TextQuestionRow.number == a.number)
    async with n.store.unit_of_work() as uow:
        await uow.session.execute(
            update(TextQuestionRow)
            .where(
                TextQuestionRow.round_id == a.round_id,
                TextQuestionRow.leader_id == a.leader_id,
                TextQuestionRow.partner_id == a.partner_id,
                TextQuestionRow.closed_at.is_(None),
                asked,
            )
            .values(closed_at=n.now())
        )
        await uow.commit()
