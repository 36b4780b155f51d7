"""The managers' work queue: tasks for a person (braille, audio, a phone call, an interpreter, missing
contact details, a reply to a text to read) from the notifier's delivery reports, and answers by text
the registry could not record. Each is marked done by a named person, and that is audited.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from schemas.events import Delivery, NotificationStatusChanged
from services.common.store import UnitOfWork, utc_now
from services.registry.adapters.orm import AuditRow, TaskRow

KIND_WORDS = {
    "braille": "Braille message to make and post",
    "audio": "Audio message to record and send",
    "phone": "Phone call to make",
    "interpreter": "Message to share with a communication professional",
    "support": "Message to share with communication support",
    "contact": "Message to pass on",
    "text_reply": "Reply to a text message to read",
    "no_answer": "Person to contact: no answer by their answer date",
    "not_yet": "Person to contact: not met their partner yet",
    "need_help": "Person to contact: asked for help with their pair",
}
DONE_SHOWN = 20  # the most recent tasks done, under the open ones


async def add_task(
    uow: UnitOfWork, key: str, round_id: str, leader_id: str, kind: str, detail: str, due_by: dt.date | None
) -> None:
    """One task for each key: the same report twice (a redelivery) makes one task."""
    if await uow.session.scalar(select(TaskRow.id).where(TaskRow.key == key)) is not None:
        return
    uow.session.add(TaskRow(key=key, round_id=round_id, leader_id=leader_id, kind=kind, detail=detail, due_by=due_by))


async def task_from_report(uow: UnitOfWork, changed: NotificationStatusChanged) -> None:
    """A report that a person must deliver a message (or read a reply) becomes a task in the queue."""
    d: Delivery = changed.data
    if d.status != "needs_a_person":
        return
    kind = d.task if d.task in KIND_WORDS else "contact"
    key = f"{d.outcome_event_id}:{d.leader_id}:{d.about}"
    await add_task(uow, key, d.round_id, d.leader_id, kind, d.detail, d.due_by)


async def open_and_done(uow: UnitOfWork) -> tuple[list[TaskRow], list[TaskRow]]:
    """Open tasks, soonest due first (those without a date last), and the most recent done."""
    rows = (await uow.session.scalars(select(TaskRow).where(TaskRow.done_at.is_(None)).order_by(TaskRow.created_at))).all()
    open_ = sorted(rows, key=lambda t: (t.due_by is None, t.due_by or dt.date.max, t.created_at))
    done = (
        await uow.session.scalars(
            select(TaskRow).where(TaskRow.done_at.is_not(None)).order_by(TaskRow.done_at.desc()).limit(DONE_SHOWN)
        )
    ).all()
    return open_, list(done)


class TaskNotFound(Exception):
    pass


async def mark_done(uow: UnitOfWork, task_id: int, done_by: str, actor: str) -> TaskRow:
    """Record who did the task and when, in the audit log too; a task done already stays as it was."""
    task = await uow.session.get(TaskRow, task_id)
    if task is None:
        raise TaskNotFound(f"There is no task {task_id}.")
    if task.done_at is None:
        task.done_at, task.done_by = utc_now(), done_by
        purpose = f"{KIND_WORDS.get(task.kind, task.kind)} for round {task.round_id}, marked done by {done_by}"
        uow.session.add(AuditRow(actor=actor, action="marked a task done", leader_id=task.leader_id, purpose=purpose))
    return task
