"""A round's name, the review table, the follow-up page and the exports, through the real registry
on a real database: filters with plain GET forms, roles, the audit log and safe spreadsheet cells."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import uuid
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import select

from schemas.cohort import CohortResult, PairResult, SolveStats
from schemas.events import RoundSolved
from services.common.store import handle_once
from services.registry.adapters.orm import AuditRow, PairRow, RoundRow
from services.registry.domain.arrangements import arrangements_words
from services.registry.handlers import rounds as round_handlers
from services.registry.sample import sample_leaders
from services.registry.web.leader_form import miles
from tests.integration.conftest import ADMIN, unique
from tests.integration.helpers import pages_as, publish_two_pairs, someone

pytestmark = pytest.mark.integration

MONTH = dt.datetime.now(ZoneInfo("Europe/London")).strftime("%B %Y")


async def test_a_round_has_the_name_it_was_given_or_one_made_from_who_is_in_it_and_the_month(registry):
    leader = unique(sample_leaders()[0])
    assert (await registry.post("/leaders", json=leader)).status_code in (200, 201)
    named = await registry.post("/rounds", json={"name": "Tyneside spring 2027", "leader_ids": [leader["id"]]})
    assert named.status_code == 202, named.text
    assert (await registry.get(f"/rounds/{named.json()['id']}")).json()["name"] == "Tyneside spring 2027"
    in_one_area = (await registry.post("/rounds", json={"leader_ids": [leader["id"]]})).json()["id"]
    assert (await registry.get(f"/rounds/{in_one_area}")).json()["name"] == f"Area {leader['system']}, {MONTH}"
    everyone = (await registry.post("/rounds", json={})).json()["id"]
    listed = {r["id"]: r["name"] for r in (await registry.get("/rounds")).json()["items"]}
    assert listed[everyone] == f"Everyone, {MONTH}"
    bad = await registry.post("/rounds", json={"name": "", "leader_ids": [leader["id"]]})
    assert bad.status_code == 422 and "name" in bad.text

    async with pages_as(registry, *ADMIN) as browser:
        page = (await browser.get(f"/manage/rounds/{named.json()['id']}")).text
        assert "<h1>Tyneside spring 2027</h1>" in page and f"Reference: {named.json()['id']}" in page
        assert "Tyneside spring 2027" in (await browser.get("/manage/rounds")).text


async def test_the_review_table_filters_with_plain_forms_and_the_follow_up_shows_each_answer(registry):
    left_out = unique({**sample_leaders()[5], "name": "=Left Out"})
    would = "Would be paired if a partner were free on Monday mornings."
    round_id, professional, signs, carer = await publish_two_pairs(registry, not_paired=left_out, suggestion=would)
    # The carer's answer came by phone, recorded by a manager; the other person has not answered.
    view = (await registry.get(f"/rounds/{round_id}")).json()
    assert view["pairs"][0]["first_meeting"]["date"], "the first meeting planned at publishing is kept"
    assert view["unmatched"][0]["suggestion"] == would
    # The person who signs and the professional (a hearing loop) meet first on this date: book ahead of it.
    meeting = dt.date.fromisoformat(
        next(p for p in view["pairs"] if p["lived_experience_id"] == signs["id"])["first_meeting"]["date"]
    )
    to_book = arrangements_words(["bsl_interpreter", "hearing_loop"], meeting, dt.datetime.now(ZoneInfo("Europe/London")).date())
    assert to_book[0].startswith("British Sign Language interpreter: book ") and to_book[1].startswith("A hearing loop: book")
    async with registry.store.unit_of_work() as uow:
        from services.registry.adapters.orm import AnswerCodeRow

        reference = (
            await uow.session.scalars(
                select(AnswerCodeRow.reference).where(AnswerCodeRow.round_id == round_id, AnswerCodeRow.leader_id == carer["id"])
            )
        ).first()
    recorded = await registry.post(
        f"/rounds/{round_id}/answers",
        json={
            "reference": reference,
            "answer": "accept",
            "given_by": "leader",
            "via": "phone",
            "received_on": dt.date.today().isoformat(),
        },
    )
    assert recorded.status_code == 201, recorded.text

    async with pages_as(registry, *ADMIN) as browser:
        table = (await browser.get(f"/manage/rounds/{round_id}/pairs")).text
        assert "Showing 2 of 2 pairs." in table and signs["name"] in table and carer["name"] in table
        assert all(f"<li>{item}</li>" in table for item in to_book), "a manager sees the arrangements and when to book each"
        assert "Both are free on Tuesday 10:00 to 12:00." in table, "reasons written for the manager"
        assert "=Left Out" in table and "Nobody is free when you are." in table and would in table
        assert "What would let them be paired" in table
        assert would in (await browser.get(f"/manage/rounds/{round_id}")).text, "the round's own page says it too"
        travels = next(p for p in (professional, signs, carer, left_out) if p.get("max_travel_km"))
        leader_page = (await browser.get(f"/manage/leaders/{travels['id']}")).text
        shown = f"{miles(travels['max_travel_km'])} miles"  # the distance they gave, exactly as the form shows it
        assert shown in leader_page and " km<" not in leader_page, "distances in miles"
        only_carer = (await browser.get(f"/manage/rounds/{round_id}/pairs", params={"q": carer["name"].split()[0].lower()})).text
        assert "Showing 1 of 2 pairs." in only_carer and signs["name"] not in only_carer.split("People not paired")[0]
        assert "Showing 0 of 2 pairs." in (await browser.get(f"/manage/rounds/{round_id}/pairs", params={"mode": "phone"})).text
        assert "Showing 0 of 2 pairs." in (await browser.get(f"/manage/rounds/{round_id}/pairs", params={"below": "50"})).text
        assert "Showing 2 of 2 pairs." in (await browser.get(f"/manage/rounds/{round_id}/pairs", params={"below": "51"})).text

        follow = (await browser.get(f"/manage/rounds/{round_id}/follow-up")).text
        assert "Given on the phone by the leader, recorded by" in follow
        not_answered = (await browser.get(f"/manage/rounds/{round_id}/follow-up", params={"show": "not_answered"})).text
        assert "3 rows match." in not_answered, "the professional twice and the person who signs; not the carer"
        assert "Given on the phone" not in not_answered

        # ---- exports: the page's columns, audited, with safe cells ----
        xlsx = await browser.get(f"/manage/rounds/{round_id}/export/pairs.xlsx")
        assert xlsx.status_code == 200 and "attachment" in xlsx.headers["content-disposition"]
        rows = list(openpyxl.load_workbook(io.BytesIO(xlsx.content)).active.values)
        assert rows[0][:2] == ("Pair", "Patient or carer leader") and "Arrangements to book" in rows[0]
        assert len(rows) == 3
        booked = {r[1]: r[rows[0].index("Arrangements to book")] for r in rows[1:]}
        assert booked[signs["name"]] == "; ".join(to_book), "the export gives the same dates to book by as the page"
        missed = list(
            csv.reader(io.StringIO((await browser.get(f"/manage/rounds/{round_id}/export/not-paired.csv")).text.lstrip("\ufeff")))
        )
        assert missed[0] == ["Person", "Role", "Why they were not paired", "What would let them be paired"]
        assert missed[1][0] == "'=Left Out" and missed[1][3] == would
        follow_rows = list(
            openpyxl.load_workbook(
                io.BytesIO(
                    (
                        await browser.get(f"/manage/rounds/{round_id}/export/follow-up.xlsx", params={"show": "not_answered"})
                    ).content
                )
            ).active.values
        )
        assert len(follow_rows) == 4 and follow_rows[0][4] == "Their answer"
        assert (await browser.get(f"/manage/rounds/{round_id}/export/secrets.xlsx")).status_code == 404
    async with registry.store.unit_of_work() as uow:
        exported = (
            await uow.session.scalars(
                select(AuditRow).where(AuditRow.action == "exported a round", AuditRow.purpose.like(f"%round {round_id}%"))
            )
        ).all()
    assert sorted(e.purpose.split(" of ")[0] for e in exported) == ["follow-up", "not paired", "pairs"]
    assert all(e.actor == ADMIN[0] for e in exported)

    # A viewer's table and export have no access needs, and their reads are not of special-category data.
    async with pages_as(registry, *(await someone(registry, "viewer"))) as viewer:
        table = (await viewer.get(f"/manage/rounds/{round_id}/pairs")).text
        assert "Arrangements to book" not in table and "Sign Language" not in table and "book by" not in table
        rows = list(
            openpyxl.load_workbook(
                io.BytesIO((await viewer.get(f"/manage/rounds/{round_id}/export/pairs.xlsx")).content)
            ).active.values
        )
        assert "Arrangements to book" not in rows[0] and not any("Sign Language" in str(c) for r in rows for c in r)
        assert not any("hearing loop" in str(c).lower() or "book by" in str(c) for r in rows for c in r)
        missed = (await viewer.get(f"/manage/rounds/{round_id}/export/not-paired.csv")).text
        assert would in missed, "what would let someone be paired names no access need, so a viewer sees it"
        assert "Keep" not in table, "a viewer cannot change the pairs"


async def a_round_of(registry, size: int) -> str:
    """A proposed round of `size` pairs (one professional with each patient leader), its solution
    recorded as the matcher's: fits from 40 upward, every third pair by phone, the first in QOQ."""
    base = {leader["role"]: leader for leader in reversed(sample_leaders())}
    professional = unique({**base["clinical_leader"], "capacity": size, "access_needs": [], "system": "QHM"})
    lived = [
        unique(
            {
                **base["patient_leader"],
                "name": f"Page Person {n:02d}",
                "system": "QOQ" if n == 1 else "QHM",
                "access_needs": ["step_free_access"] if n == 2 else [],
            }
        )
        for n in range(1, size + 1)
    ]
    for leader in (professional, *lived):
        assert (await registry.post("/leaders", json=leader)).status_code in (200, 201)
    round_id = f"r-{uuid.uuid4().hex[:6]}"
    ids = [p["id"] for p in lived] + [professional["id"]]
    assert (await registry.post("/rounds", json={"id": round_id, "leader_ids": ids})).status_code == 202
    async with registry.store.unit_of_work() as uow:
        request_id = (await uow.session.get(RoundRow, round_id)).request_event_id
    pairs = [
        PairResult(
            lived_experience_id=p["id"],
            professional_id=professional["id"],
            score=40 + n,
            meeting_modes=["phone"] if n % 3 == 0 else ["video"],
            shared_windows=[],
            reasons=["You both care about discharge."],
        )
        for n, p in enumerate(lived)
    ]
    solved = RoundSolved(
        producer="test",
        correlation_id=round_id,
        causation_id=request_id,
        data=CohortResult(round_id=round_id, pairs=pairs, unmatched=[], stats=SolveStats(status="optimal")),
    )
    await handle_once(registry.store, "test.matches", solved, round_handlers.record_solution)
    return round_id


def shown_names(html: str) -> list[str]:
    return re.findall(r">(Page Person \d\d)</a>", html.split('id="pairs-table"')[1].split("</table>")[0])


async def approved_pairs(registry, round_id: str) -> list[PairRow]:
    async with registry.store.unit_of_work() as uow:
        return [
            p for p in (await uow.session.scalars(select(PairRow).where(PairRow.round_id == round_id))).all() if p.approved_by
        ]


async def test_a_big_round_is_sorted_filtered_paged_and_approved_page_by_page(registry):
    round_id = await a_round_of(registry, 53)
    pairs = f"/manage/rounds/{round_id}/pairs"
    async with pages_as(registry, *ADMIN) as browser:
        first = (await browser.get(pairs)).text
        assert "Showing 53 of 53 pairs: page 1 of 2, pairs 1 to 50 of those." in first
        async with registry.store.unit_of_work() as uow:
            reads = (
                await uow.session.scalars(
                    select(AuditRow).where(
                        AuditRow.action == "read access needs", AuditRow.purpose == f"review the pairs of round {round_id}"
                    )
                )
            ).all()
        assert len(reads) == 51 and all(r.at and r.actor == ADMIN[0] for r in reads), "the 50 people shown and their partner"
        assert len(shown_names(first)) == 50 and 'aria-current="page"' in first
        assert shown_names((await browser.get(pairs, params={"page": "2"})).text) == [
            "Page Person 51",
            "Page Person 52",
            "Page Person 53",
        ]

        by_fit = (await browser.get(pairs, params={"sort": "fit", "order": "descending"})).text
        assert shown_names(by_fit)[:2] == ["Page Person 53", "Page Person 52"]
        assert 'aria-sort="descending"><a href="/manage/rounds/' in by_fit and "sort=fit&amp;order=ascending" in by_fit
        by_name = (await browser.get(pairs, params={"sort": "name", "order": "descending", "page": "2"})).text
        assert shown_names(by_name) == ["Page Person 03", "Page Person 02", "Page Person 01"]

        assert "Showing 3 of 53 pairs." in (await browser.get(pairs, params={"below": "43"})).text
        assert "Showing 18 of 53 pairs." in (await browser.get(pairs, params={"mode": "phone"})).text
        assert shown_names((await browser.get(pairs, params={"area": "qoq"})).text) == ["Page Person 01"]
        assert shown_names((await browser.get(pairs, params={"needs": "yes"})).text) == ["Page Person 02"]
        searched = (await browser.get(pairs, params={"q": "person 07", "sort": "fit"})).text
        assert shown_names(searched) == ["Page Person 07"] and "Clear filters" in searched
        assert 'name="sort" value="fit"' in searched, "filtering again keeps the sort"

        # ---- approve page 1 of 2: each pair records who and when, and the round waits for the rest ----
        token = re.search(r'name="csrf_token" value="([^"]+)"', first).group(1)
        page_ids = re.findall(r'name="pair_id" value="(\d+)"', first)
        assert len(page_ids) == 50 and "Approve these 50 pairs" in first
        unticked = await browser.post(f"/manage/rounds/{round_id}/approve-pairs", data={"csrf_token": token, "pair_id": page_ids})
        assert unticked.status_code == 400 and "Tick the box" in unticked.text
        assert await approved_pairs(registry, round_id) == []
        stale = await browser.post(
            f"/manage/rounds/{round_id}/approve-pairs",
            data={"csrf_token": token, "checked": "yes", "pair_id": [*page_ids, "999999999"]},
        )
        assert stale.status_code == 409 and "changed since this page was shown" in stale.text
        assert await approved_pairs(registry, round_id) == []
        done = await browser.post(
            f"/manage/rounds/{round_id}/approve-pairs",
            data={"csrf_token": token, "checked": "yes", "pair_id": page_ids, "back": f"{pairs}?page=1"},
        )
        assert done.status_code == 303 and done.headers["location"].startswith(f"{pairs}?page=1&done=")
        approved = await approved_pairs(registry, round_id)
        assert len(approved) == 50 and all(ADMIN[0] in p.approved_by and p.approved_at for p in approved)
        shown = (await browser.get(done.headers["location"])).text
        assert "You approved 50 pairs. 3 pairs are still to approve." in shown
        assert "Showing 3 of 53 pairs." in (await browser.get(pairs, params={"approved": "no"})).text
        assert "50 of 53 pairs approved." in (await browser.get(f"/manage/rounds/{round_id}")).text
        listed = (await registry.get(f"/rounds/{round_id}")).json()["pairs"]
        assert sum(1 for p in listed if p["approved_by"] and p["approved_at"]) == 50
        refused = await registry.post(f"/rounds/{round_id}/publish")
        assert refused.status_code == 409, "a round is published only when every pair is approved"

        second = (await browser.get(pairs, params={"page": "2"})).text
        assert "Approve these 3 pairs" in second
        last = await browser.post(
            f"/manage/rounds/{round_id}/approve-pairs",
            data={"csrf_token": token, "checked": "yes", "pair_id": re.findall(r'name="pair_id" value="(\d+)"', second)},
        )
        assert "Every pair is approved" in (await browser.get(last.headers["location"])).text
    assert (await registry.get(f"/rounds/{round_id}")).json()["status"] == "approved"
    async with registry.store.unit_of_work() as uow:
        audited = (
            await uow.session.scalars(
                select(AuditRow.purpose).where(AuditRow.action == "approved pairs", AuditRow.purpose.like(f"%round {round_id}%"))
            )
        ).all()
    assert sorted(audited) == sorted(
        [f"50 pairs of round {round_id}, after checking them", f"3 pairs of round {round_id}, after checking them"]
    )
    assert (await registry.post(f"/rounds/{round_id}/publish")).status_code == 200

    # A viewer cannot filter by access needs, nor approve.
    async with pages_as(registry, *(await someone(registry, "viewer"))) as viewer:
        table = (await viewer.get(pairs, params={"needs": "yes"})).text
        assert 'id="needs"' not in table and "Showing 53 of 53 pairs" in table and "approve-pairs" not in table
