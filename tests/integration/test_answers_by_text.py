"""Answering by replying YES or NO to a text message, from end to end on real components: the registry
publishes a round, the notifier texts each person through a local server that speaks GOV.UK Notify's
API, reads their replies from its received-text API, and the registry records them from the broker
on PostgreSQL. A reply a person must read joins the managers' work queue, where it is marked done."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from html import escape

import httpx
import pytest

from schemas.events import LeaderContact, PairDeclined
from services.common.crypto import Cipher
from services.common.runtime import outbox_relay
from services.common.store import Store, make_engine
from services.notifier import handlers
from services.notifier.adapters.orm import Base, Inbox, Outbox
from services.notifier.app import inbound_texts, make_channels
from services.notifier.clock import FrozenClock
from tests.integration.conftest import ADMIN, event_refs_of, running_registry, with_references
from tests.integration.helpers import answers_on_broker, paired_outcomes
from tests.integration.notifier_world import KEY, RULES, know

pytestmark = [pytest.mark.integration, pytest.mark.notify]  # messages go through the local Notify

# Late morning in London today: no quiet hours in the way.
MORNING = dt.datetime.now(dt.UTC).replace(hour=11, minute=0, second=0, microsecond=0)


@pytest.fixture
def databases(postgres_database) -> dict[str, str]:
    """A PostgreSQL database for each service (made outside the event loop)."""
    return {service: postgres_database(service) for service in ("registry", "notifier")}


@pytest.fixture
async def registry(databases, kafka_settings):
    async with running_registry(databases["registry"], kafka_settings) as client:
        yield client


@pytest.fixture
async def notifier_store(databases):
    store = Store(make_engine(databases["notifier"]), Outbox, Inbox, Base.metadata)
    await store.prepare("notifier")
    yield store
    await store.engine.dispose()


def contact(leader: dict, phone: str | None, ref: str) -> LeaderContact:
    """Their contact record as the notifier holds it: under their event reference, as events name them."""
    how = {"contact_method": "sms", "phone": phone} if phone else {"email": "someone@example.org"}
    return LeaderContact(leader_id=ref, version=1, name=leader["name"], role=leader["role"], **how)


async def until(check, what: str, seconds: float = 30):
    for _ in range(int(seconds * 4)):
        if found := await check():
            return found
        await asyncio.sleep(0.25)
    raise AssertionError(f"waited {seconds} seconds for {what}")


async def answers(registry, round_id: str, expected: int) -> list[dict]:
    async def recorded():
        found = (await registry.get(f"/rounds/{round_id}")).json()["responses"]
        return found if len(found) >= expected else None

    return await until(recorded, f"{expected} answers in round {round_id}")


async def test_yes_and_no_by_text_are_recorded_and_an_unclear_reply_joins_the_work_queue(
    registry, notifier_store, kafka_settings, notify, settings
):
    round_id, professional, signs, carer, outcomes = await paired_outcomes(registry, kafka_settings)
    refs = await event_refs_of(registry.store)
    people = (signs, "07700 900111"), (carer, "07700 900222"), (professional, None)
    await know(notifier_store, *(contact(who, phone, refs[who["id"]]) for who, phone in people))
    n = handlers.Notifier(notifier_store, Cipher(KEY), make_channels(settings), RULES, FrozenClock(MORNING))
    for who in (signs, carer, professional):
        # As the notifier reads them from the broker: people named by their event references.
        await handlers.on_event(n, with_references(outcomes[who["id"]], refs))
    assert [kind for kind, _ in notify.received] == ["sms", "sms", "email"]
    replies = inbound_texts(settings, n)
    later = MORNING + dt.timedelta(minutes=30)

    async with outbox_relay(notifier_store, kafka_settings, "notifier"):
        notify.receive("07700 900111", "maybe, what does it involve?", at=later)
        notify.receive("07700 900999", "YES", at=later)  # nobody we know
        assert await replies.run_due() == 2
        assert len(list(settings.tasks_dir.glob("text-reply-*.txt"))) == 2
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=registry._transport.app), base_url="http://registry"
        ) as browser:
            token = re.search(r'name="csrf_token" value="([^"]+)"', (await browser.get("/sign-in")).text).group(1)
            await browser.post("/sign-in", data={"csrf_token": token, "email": ADMIN[0], "password": ADMIN[1]})

            async def queued():
                page = (await browser.get("/manage/tasks")).text
                return page if escape(signs["name"]) in page else None

            queue = await until(queued, "the unclear reply in the work queue")
            assert "Reply to a text message to read" in queue and f'href="/manage/leaders/{signs["id"]}"' in queue
            assert "maybe" not in queue, "the words of the reply are only in the task file"
            assert (await registry.get(f"/rounds/{round_id}")).json()["responses"] == [], "nothing recorded from it"

            notify.receive("+44 7700 900111", "Yes", at=later + dt.timedelta(minutes=5))
            notify.receive("447700900222", "NO.", at=later + dt.timedelta(minutes=6))
            assert await replies.run_due() == 2
            recorded = {r["leader_id"]: r for r in await answers(registry, round_id, 2)}

            # Marked done, with who and when, in the audit log.
            token = re.search(r'name="csrf_token" value="([^"]+)"', queue).group(1)
            task_id = re.search(r'action="/manage/tasks/(\d+)/done"', queue).group(1)
            done = await browser.post(f"/manage/tasks/{task_id}/done", data={"csrf_token": token}, follow_redirects=True)
            assert (
                done.status_code == 200
                and f"Marked done: reply to a text message to read for {escape(signs['name'])}" in done.text
            )
            assert "Nothing to do" in done.text and "Done recently" in done.text
            refused = await browser.post(f"/manage/tasks/{task_id}/done", data={"csrf_token": "not the token"})
            assert refused.status_code in (400, 403)

    assert (recorded[signs["id"]]["answer"], recorded[signs["id"]]["via"], recorded[signs["id"]]["given_by"]) == (
        "accept",
        "text",
        "leader",
    )
    assert (recorded[carer["id"]]["answer"], recorded[carer["id"]]["via"]) == ("decline", "text")
    assert recorded[carer["id"]]["partner_id"] == professional["id"]
    # The no goes to the broker at once, so the notifier tells the partner.
    # Four records: the two replies the notifier read, then the yes and the no the registry recorded.
    declined = [e for e in await answers_on_broker(registry, kafka_settings, round_id, 4) if isinstance(e, PairDeclined)]
    assert [(e.data.leader_id, e.data.via) for e in declined] == [(carer["id"], "text")]
    audit = (await registry.get("/audit", params={"leader_id": signs["id"]})).json()["items"]
    actions = {e["action"]: e for e in audit}
    assert "marked a task done" in actions and actions["marked a task done"]["actor"] == ADMIN[0]
    assert actions["recorded an answer"]["actor"] == "a reply to a text message"
