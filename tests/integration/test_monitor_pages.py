"""The queue monitor for managers and the operations page for admins, through the real registry on a
real database and broker: what needs a person comes first, in plain English with a link to act; the
technical view (topics, lag, dead letters, the commands) is for admins only; the part the page's
script fetches every 15 seconds answers on its own, to the same roles."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import httpx
import pytest
from sqlalchemy import select, text

from schemas.cohort import CohortResult, SolveStats, UnmatchedResult
from schemas.events import RoundSolved
from services.common.store import handle_once
from services.registry import work_queue
from services.registry.adapters.orm import AnswerCodeRow
from services.registry.handlers import rounds as round_handlers
from services.registry.sample import sample_leaders
from tests.integration.conftest import ADMIN, unique
from tests.integration.helpers import pages_as, publish_two_pairs, someone

pytestmark = pytest.mark.integration

TECHNICAL = (".v1", "dead letter", "dlq", "pairing ", "Changes it has still to send", "consumer", "topic")


async def a_round_to_review(registry) -> tuple[str, str]:
    """A round the matcher has solved (one person, nobody to pair them with), waiting for a person to review it."""
    leader = unique(sample_leaders()[2])
    assert (await registry.post("/leaders", json=leader)).status_code in (200, 201)
    name = f"Review me {uuid.uuid4().hex[:4]}"
    round_id = (await registry.post("/rounds", json={"name": name, "leader_ids": [leader["id"]]})).json()["id"]
    async with registry.store.engine.connect() as conn:
        request_id = (await conn.execute(text("select request_event_id from rounds where id = :id"), {"id": round_id})).scalar()
    solved = RoundSolved(
        producer="test",
        correlation_id=round_id,
        causation_id=request_id,
        data=CohortResult(
            round_id=round_id,
            pairs=[],
            stats=SolveStats(status="optimal"),
            unmatched=[UnmatchedResult(id=leader["id"], reason="Nobody else was in the round.", rule="availability")],
        ),
    )
    await handle_once(registry.store, "test.matches", solved, round_handlers.record_solution)
    assert (await registry.get(f"/rounds/{round_id}")).json()["status"] == "proposed"
    return round_id, name


async def work_for_a_person(registry) -> tuple[str, dict, str]:
    """A published round with a braille message to make, and two people past their answer date, one
    of whom has answered on the phone since: one answer is still to chase."""
    left_out = unique({**sample_leaders()[5], "name": "Lee Leftout"})
    round_id, professional, signs, carer = await publish_two_pairs(registry, not_paired=left_out)
    due = dt.date.today()
    async with registry.store.unit_of_work() as uow:
        await work_queue.add_task(uow, "t1", round_id, signs["id"], "braille", "Make it in braille", due)
        await work_queue.add_task(uow, "t2", round_id, professional["id"], "no_answer", "Call them", due)
        await work_queue.add_task(uow, "t3", round_id, carer["id"], "no_answer", "Call them", due)
        reference = (
            await uow.session.scalars(
                select(AnswerCodeRow.reference).where(AnswerCodeRow.round_id == round_id, AnswerCodeRow.leader_id == carer["id"])
            )
        ).first()
        await uow.commit()
    recorded = await registry.post(
        f"/rounds/{round_id}/answers",
        json={"reference": reference, "answer": "accept", "given_by": "leader", "via": "phone", "received_on": due.isoformat()},
    )
    assert recorded.status_code == 201, recorded.text
    name = (await registry.get(f"/rounds/{round_id}")).json()["name"]
    return round_id, left_out, name


def main_of(page: str) -> str:
    return page.split('id="maincontent"', 1)[1].split("</main>", 1)[0]


async def test_a_manager_sees_what_needs_a_person_first_in_plain_english_with_links_to_act(registry):
    round_id, left_out, round_name = await work_for_a_person(registry)
    to_review, review_name = await a_round_to_review(registry)
    async with pages_as(registry, *await someone(registry, "manager")) as manager:
        answer = await manager.get("/manage")
        assert answer.status_code == 200
        main = main_of(answer.text)
        order = [main.index(h) for h in ("What needs a person", "<h2>Rounds</h2>", "Messages to people", "Who is not paired")]
        assert order == sorted(order), "what needs a person comes first"
        needs = main.split("<h2>Rounds</h2>")[0]
        assert re.search(r"Messages to deliver by hand</dt>\s*<dd[^>]*>1</dd>", needs), needs
        assert 'href="/manage/tasks"' in needs
        assert f"1 person in {round_name}" in needs, "the carer answered on the phone: only the professional is left"
        assert f'href="/manage/rounds/{round_id}/follow-up?show=not_answered"' in needs
        assert review_name in needs and f'href="/manage/rounds/{to_review}"' in needs
        assert left_out["name"] in main and "Nobody is free when you are." in main
        assert re.search(r"Waiting for review</dt>\s*<dd[^>]*>1</dd>", main) and re.search(
            r"Published</dt>\s*<dd[^>]*>1</dd>", main
        )
        for word in TECHNICAL:
            assert word not in main, f"a manager is shown {word!r}"
        assert 'href="/manage/operations"' not in answer.text, "the operations page is not in a manager's navigation"
        assert '<a href="/manage" id="monitor-refresh">Refresh' in main, "a plain link refreshes without JavaScript"
        assert 'aria-live="polite"' in main and '<script type="module" src="/static/monitor.js"></script>' in main

        now = await manager.get("/manage/now")
        assert now.status_code == 200 and "<html" not in now.text and "What needs a person" in now.text
        assert (
            'data-summary="1 message to deliver by hand, 1 answer to chase, '
            '1 round waiting for review, 0 rounds with the matcher."' in now.text
        )

        refused = await manager.get("/manage/operations")
        assert refused.status_code == 403 and "This page needs the admin role" in refused.text
        assert (await manager.get("/manage/operations/now")).status_code == 403


async def test_an_admin_has_the_operations_page_with_topics_lag_and_dead_letters(registry):
    async with pages_as(registry, *ADMIN) as admin:
        monitor = await admin.get("/manage")
        assert '<a class="nhsuk-header__navigation-link" href="/manage/operations">Operations</a>' in monitor.text
        answer = await admin.get("/manage/operations")
        assert answer.status_code == 200
        main = main_of(answer.text)
        assert "<h1>Operations</h1>" in main and "Registry" in main
        assert "<code>deliveries.v1</code>" in main, "the registry's own consumer lag, by topic"
        assert "<h2>Dead letters</h2>" in main and "<code>.venv/bin/pairing dlq list</code>" in main
        assert "<code>.venv/bin/pairing dlq replay</code>" in main
        assert 'data-monitor-refresh="/manage/operations/now"' in main
        now = await admin.get("/manage/operations/now")
        assert now.status_code == 200 and "<html" not in now.text and "<h2>Services</h2>" in now.text
        assert re.search(r'data-summary="Services not working: [^"]*\. Dead letters: [^"]+\."', now.text)


async def test_a_viewer_sees_the_monitor_without_the_work_queue_and_is_refused_the_operations_page(registry):
    await work_for_a_person(registry)
    async with pages_as(registry, *await someone(registry, "viewer")) as viewer:
        main = main_of((await viewer.get("/manage")).text)
        assert re.search(r"Messages to deliver by hand</dt>\s*<dd[^>]*>1</dd>", main)
        assert 'href="/manage/tasks"' not in main, "the work queue is for managers"
        assert (await viewer.get("/manage/now")).status_code == 200
        for path in ("/manage/operations", "/manage/operations/now"):
            refused = await viewer.get(path)
            assert refused.status_code == 403, path
            assert "Your role is viewer. This page needs the admin role or above." in refused.text, path


async def test_the_monitor_script_comes_from_the_site_and_the_fragment_needs_a_sign_in(registry):
    anonymous = httpx.AsyncClient(transport=registry._transport, base_url="http://registry")
    async with anonymous:
        for path in ("/manage/now", "/manage/operations/now"):
            answer = await anonymous.get(path)
            assert answer.status_code == 303 and answer.headers["location"].startswith("/sign-in"), path
        script = await anonymous.get("/static/monitor.js")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        assert "script-src 'self'" in script.headers["content-security-policy"]
