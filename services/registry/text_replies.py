"""Answers given by replying YES or NO to a text message, read by the notifier (services/notifier/inbound.py).

They follow the same rules as an answer from a link (only while the round is published, once for each
person and partner, the partner told at once about a no), recorded as given by the leader by text and
audited. One that cannot be recorded (the round closed, an answer already given) is never dropped: it
becomes a task in the work queue for the programme team to follow up.
"""

from __future__ import annotations

from schemas.events import TextReplyReceived
from services.common.crypto import Cipher
from services.common.store import UnitOfWork
from services.registry.adapters.orm import LeaderRow
from services.registry.domain.check_ins import TEAM_WORDS
from services.registry.handlers import answers as answering
from services.registry.handlers import check_ins, common
from services.registry.work_queue import add_task

ACTOR = "a reply to a text message"


async def record_text_reply(uow: UnitOfWork, received: TextReplyReceived, cipher: Cipher) -> None:
    reply = received.data
    if await uow.session.get(LeaderRow, reply.leader_id) is None:
        return  # a reply that came after the person was erased: nothing about them is kept
    if reply.question != "pair":
        await record_follow_up_reply(uow, received, cipher)
        return
    question = answering.ResponseLink(reply.round_id, reply.leader_id, reply.partner_id)
    how = answering.Answered(given_by="leader", via="text", received_on=reply.received_on)
    words = "yes" if reply.answer == "accept" else "no"
    try:
        # Every refusal comes before anything is written.
        await answering.record_response(uow, cipher, question, reply.answer, None, how)
    except (common.Conflict, common.NotFound, answering.LinkProblem) as refused:
        detail = (
            f"replied {words.upper()} by text message on {reply.received_on.isoformat()} about working with "
            f"{reply.partner_id}, but it could not be recorded: {refused} Please contact them."
        )
        await add_task(
            uow, f"{received.event_id}:{reply.leader_id}:text_answer", reply.round_id, reply.leader_id, "text_reply", detail, None
        )
        return
    common.audit(
        uow,
        ACTOR,
        "recorded an answer",
        reply.leader_id,
        f"{words} to {reply.partner_id} in round {reply.round_id}, "
        f"given by the leader by text message on {reply.received_on.isoformat()}",
    )


async def record_follow_up_reply(uow: UnitOfWork, received: TextReplyReceived, cipher: Cipher) -> None:
    """A reply to "Did you meet?" or a check-in: recorded as given by the leader by text, like one from the link;
    one that cannot be (the pair ended, the round closed) becomes a task for the team."""
    reply = received.data
    given = check_ins.FollowUpGiven(question=reply.question, answer=reply.answer, number=reply.number, via="text")
    try:
        await check_ins.record(uow, cipher, reply.round_id, reply.leader_id, reply.partner_id, given, ACTOR)
    except (common.Conflict, common.NotFound) as refused:
        detail = (
            f"replied by text message on {reply.received_on.isoformat()} to a question after pairing "
            f"({TEAM_WORDS.get(reply.answer, reply.answer).lower()}), but it could not be recorded: {refused} "
            "Please contact them."
        )
        key = f"{received.event_id}:{reply.leader_id}:text_follow_up"
        await add_task(uow, key, reply.round_id, reply.leader_id, "text_reply", detail, None)
