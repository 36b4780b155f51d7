"""A manager names a round, reviews it in the table with filters, keeps one pair and rules out another
from the table, approves it page by page, publishes it, records an answer given on the phone, follows
it up, downloads the pairs as a spreadsheet and prints the table: in Chromium, with the keyboard only,
against the running product. Every page is checked with axe-core."""

from __future__ import annotations

import uuid

import httpx
import openpyxl
import pytest

from services.registry.sample import sample_leaders
from tests.browser.conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    activate,
    choose_radio,
    choose_value,
    tick,
    type_into,
    wait_for_status,
)
from tests.browser.signing_in import readme_shot, sign_in

pytestmark = pytest.mark.e2e

RUN = uuid.uuid4().hex[:5]


def test_a_manager_reviews_a_named_round_in_a_table_follows_it_up_and_exports_it(stack, browser, visit, tmp_path):
    base = stack.base_url
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {stack.api_token}"}, timeout=30)
    people = [{**p, "id": f"{p['id']}-rv{RUN}"} for p in sample_leaders()[:12] if p.get("contact_method", "email") == "email"][:8]
    for person in people:
        assert api.post("/leaders", json=person).status_code in (200, 201)
    name = f"Review cohort {RUN}, January 2027"
    launched = api.post("/rounds", json={"name": name, "leader_ids": [p["id"] for p in people]})
    assert launched.status_code == 202, launched.text
    round_id = launched.json()["id"]
    wait_for_status(api, round_id, "proposed")

    context = browser.new_context(viewport={"width": 1100, "height": 900}, accept_downloads=True)
    page = context.new_page()
    visit.watch(page)
    sign_in(page, base, ADMIN_EMAIL, ADMIN_PASSWORD)

    # ---- the named round, and its pairs at a glance ----
    activate(page, page.get_by_role("link", name="Rounds", exact=True))
    activate(page, page.get_by_role("link", name=name))
    assert page.locator("h1").inner_text() == name
    activate(page, page.get_by_role("link", name="Review the pairs at a glance, in a table"))
    assert page.locator("h1").inner_text() == name
    rows = page.locator("#pairs-table tbody tr")
    total = rows.count()
    assert total >= 2 and f"Showing {total} of {total} pairs." in page.locator("#pairs-count").inner_text()
    assert page.get_by_role("heading", name="People not paired").is_visible()
    assert "You both" not in page.locator("#pairs-table").inner_text(), "reasons are written for the manager"
    # Arrangements to book say how much notice each needs until a first meeting is planned; someone not
    # paired has the change that would let them be paired beside them, when the matcher found one.
    step_free = next(p for p in people if "step_free_access" in (p.get("access_needs") or []))
    step_free_row = page.locator("#pairs-table tbody tr", has_text=step_free["name"])
    if step_free_row.count():
        assert "A room with step-free access: book 2 weeks before the first meeting" in step_free_row.inner_text()
    else:
        assert step_free["name"] in page.locator("#not-paired-table").inner_text()
    if page.locator("#not-paired-table").count():
        assert "What would let them be paired" in page.locator("#not-paired-table thead").inner_text()
    visit.check(page, "review-table")
    readme_shot(page, "review-table")

    # ---- search by a name with the keyboard: the form is a plain GET ----
    first_name = rows.first.locator("td").nth(1).locator("a").inner_text()
    type_into(page, page.locator("#q"), first_name)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "q=" in page.url and f"Showing 1 of {total} pairs." in page.locator("#pairs-count").inner_text()
    visit.check(page, "review-table-filtered")
    activate(page, page.get_by_role("link", name="Clear filters"))
    type_into(page, page.locator("#below"), "1")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert f"Showing 0 of {total} pairs." in page.locator("#pairs-count").inner_text()
    activate(page, page.get_by_role("link", name="Clear filters"))

    # ---- sort by fit with the keyboard: the heading says how the table is sorted ----
    fit_heading = page.locator("#pairs-table th", has_text="Fit out of 100")
    activate(page, fit_heading.get_by_role("link"))
    assert fit_heading.get_attribute("aria-sort") == "ascending"
    activate(page, page.locator("#pairs-table th", has_text="Fit out of 100").get_by_role("link"))
    fits = [int(t) for t in page.locator("#pairs-table tbody tr td:nth-child(4)").all_inner_texts()]
    assert fits == sorted(fits, reverse=True) and "order=descending" in page.url
    assert page.locator("#pairs-table th", has_text="Fit out of 100").get_attribute("aria-sort") == "descending"
    visit.check(page, "review-table-sorted")
    page.goto(f"{base}/manage/rounds/{round_id}/pairs")

    # ---- keep one pair and rule out another from the table, and solve again ----
    kept_name = rows.first.locator("td").nth(1).locator("a").inner_text()
    activate(page, page.get_by_role("button", name="Keep").first)
    assert "will be kept" in page.locator(".nhsuk-notification-banner").inner_text()
    last = page.locator("#pairs-table tbody tr").last
    ruled_out = (last.locator("td").nth(1).locator("a").inner_text(), last.locator("td").nth(2).locator("a").inner_text())
    activate(page, last.get_by_role("button", name="Rule out"))
    assert "will not be paired" in page.locator(".nhsuk-notification-banner").inner_text()
    activate(page, page.get_by_role("button", name="Solve again"))
    wait_for_status(api, round_id, "proposed")
    page.goto(f"{base}/manage/rounds/{round_id}/pairs")
    assert kept_name in page.locator("#pairs-table tbody").inner_text(), "the kept pair is proposed again"
    for row_text in page.locator("#pairs-table tbody tr").all_inner_texts():
        assert not all(name in row_text for name in ruled_out), "the ruled-out pair is not proposed again"
    visit.check(page, "review-table-solved-again")

    # ---- approve page by page: the page of pairs in view, then the rest (a person decides on every pair) ----
    count = page.locator("#pairs-table tbody tr").count()
    type_into(page, page.locator("#q"), kept_name)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("#pairs-table tbody tr").count() == 1
    tick(page, page.get_by_label("I have checked this pair and its reasons"))
    activate(page, page.get_by_role("button", name="Approve this pair"))
    assert f"You approved 1 pair. {count - 1} " in page.locator(".nhsuk-notification-banner").inner_text()
    assert api.get(f"/rounds/{round_id}").json()["status"] == "proposed", "not approved until every pair is"
    visit.check(page, "review-table-one-approved")
    activate(page, page.get_by_role("link", name="Clear filters"))
    choose_value(page, page.locator("#approved"), "no")
    activate(page, page.get_by_role("button", name="Show pairs"))
    rest = page.locator("#pairs-table tbody tr").count()
    assert rest == count - 1
    tick(page, page.get_by_label(f"I have checked each of these {rest} pairs and their reasons"))
    activate(page, page.get_by_role("button", name=f"Approve these {rest} pairs"))
    assert "Every pair is approved" in page.locator(".nhsuk-notification-banner").inner_text()
    page.goto(f"{base}/manage/rounds/{round_id}/pairs")
    assert page.locator("#pairs-table tbody .nhsuk-tag--green").count() == count
    visit.check(page, "review-table-approved")
    assert api.get(f"/rounds/{round_id}").json()["status"] == "approved"

    # ---- publish, from the round's page ----
    activate(page, page.get_by_role("link", name="Back to the round"))
    activate(page, page.get_by_role("button", name="Publish and tell everyone"))
    activate(page, page.get_by_role("button", name="Publish and tell everyone"))
    assert "The round is published" in page.locator(".nhsuk-notification-banner").inner_text()

    # ---- an answer given on the phone, recorded by the manager ----
    pair = api.get(f"/rounds/{round_id}").json()["pairs"][0]
    activate(page, page.get_by_role("link", name="Record an answer given by phone, letter, text or in person"))
    choose_value(page, page.locator("#question"), f"{pair['lived_experience_id']} {pair['professional_id']}")
    choose_radio(page, "answer", "accept")
    choose_radio(page, "via", "phone")
    activate(page, page.get_by_role("button", name="Record the answer"))
    assert "Recorded: " in page.locator(".nhsuk-notification-banner").inner_text()

    # ---- follow it up: who has been told, and who has answered, and how ----
    activate(page, page.get_by_role("link", name="Follow up: whose message was sent, and who has said yes or no"))
    assert page.locator("h1").inner_text() == name
    table_text = page.locator("#follow-up-table").inner_text()
    assert "Nothing yet" in table_text
    answered = page.locator("#follow-up-table tbody tr", has_text="Given on the phone by the leader")
    assert answered.count() == 1 and "Yes" in answered.inner_text() and "recorded by" in answered.inner_text()
    visit.check(page, "follow-up")
    readme_shot(page, "follow-up")
    choose_radio(page, "show", "not_answered")
    activate(page, page.get_by_role("button", name="Show people"))
    assert "show=not_answered" in page.url and "match." in page.locator("#follow-up-count").inner_text()
    assert "Given on the phone" not in page.locator("#follow-up-table").inner_text(), "who has answered is not listed"
    visit.check(page, "follow-up-not-answered")

    # ---- download the pairs as a spreadsheet, and open it ----
    page.goto(f"{base}/manage/rounds/{round_id}/pairs")
    step_free_row = page.locator("#pairs-table tbody tr", has_text=step_free["name"])
    if step_free_row.count():  # published: the first meeting is planned, so there is a date to book by
        booking = step_free_row.inner_text()
        assert "A room with step-free access: book by " in booking or "A room with step-free access: book now" in booking
    visit.check(page, "review-table-published")
    link = page.get_by_role("link", name="spreadsheet (XLSX)").first
    with page.expect_download() as download:
        activate(page, link, navigates=False)
    saved = tmp_path / "pairs.xlsx"
    download.value.save_as(saved)
    sheet = list(openpyxl.load_workbook(saved).active.values)
    assert sheet[0][:3] == ("Pair", "Patient or carer leader", "Their role")
    assert len(sheet) == count + 1 and "Arrangements to book" in sheet[0], "one row per pair proposed after solving again"

    # ---- printed: one table, no navigation ----
    page.emulate_media(media="print")
    assert page.locator("#pairs-table").is_visible()
    assert not page.locator("header.nhsuk-header").is_visible() and not page.locator("form").first.is_visible()
    visit.check(page, "review-table-print")
    page.emulate_media(media="screen")
    context.close()
