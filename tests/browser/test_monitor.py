"""The queue monitor and the operations page in Chromium against the running product: axe-core finds
nothing on either, an admin reaches the operations page with the keyboard alone, the monitor brings
itself up to date without a full reload and says so in its polite live region, someone who asked for
reduced motion starts with the updates stopped, and without JavaScript the Refresh link does it."""

from __future__ import annotations

import uuid

import httpx
import pytest

from services.registry.sample import sample_leaders
from tests.browser.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, activate, focused, tab_to
from tests.browser.signing_in import readme_shot, sign_in

pytestmark = pytest.mark.e2e

RUN = uuid.uuid4().hex[:5]


def test_the_monitor_updates_itself_and_an_admin_reaches_the_operations_page_by_keyboard(stack, browser, visit):
    base = stack.base_url
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    visit.watch(page)
    sign_in(page, base, ADMIN_EMAIL, ADMIN_PASSWORD)
    main = page.locator("main").inner_text()
    assert main.index("What needs a person") < main.index("Who is not paired, and why")
    assert "dlq" not in main and ".v1" not in main, "the technical view is on the operations page"
    assert page.locator("#monitor-pause").inner_text() == "Stop updating this page"
    visit.check(page, "queue-monitor")

    # ---- the keyboard alone, from the monitor to the operations page ----
    # At this width the last items of the menu are under "More", a button that opens them.
    activate(page, page.get_by_role("button", name="Browse More"), navigates=False)
    activate(page, page.get_by_role("link", name="Operations"))
    assert page.url.endswith("/manage/operations") and page.locator("h1").inner_text() == "Operations"
    operations = page.locator("main").inner_text()
    assert "pairing dlq list" in operations and "Registry" in page.locator("#services-table").inner_text()
    visit.check(page, "operations")
    readme_shot(page, "operations")

    # ---- a round launched elsewhere: the monitor says so, without loading the page again ----
    activate(page, page.get_by_role("link", name="Queue monitor", exact=True))
    page.evaluate("window.notReloaded = true")
    assert page.locator("#monitor-live").inner_text() == ""
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {stack.api_token}"}, timeout=30)
    people = [{**p, "id": f"{p['id']}-mo{RUN}", "email": f"{p['id']}-mo{RUN}@example.org"} for p in sample_leaders()[24:28]]
    for person in people:
        assert api.post("/leaders", json=person).status_code in (200, 201)
    name = f"Monitor cohort {RUN}"
    assert api.post("/rounds", json={"name": name, "leader_ids": [p["id"] for p in people]}).status_code == 202
    rounds_link = page.locator("#monitor-now").get_by_role("link", name="See all rounds")
    tab_to(page, rounds_link)  # a keyboard user is reading the part that is replaced
    page.locator("#needs-a-person-list").get_by_text(f"{name} (4 people)").wait_for(timeout=120_000)
    assert page.evaluate("window.notReloaded === true"), "the content was replaced, not the page"
    assert focused(page, rounds_link), "the keyboard focus stays on the same link when the content is replaced"
    summary = page.locator("#monitor-now [data-summary]").get_attribute("data-summary")
    assert page.locator("#monitor-live").inner_text().endswith(f": {summary}")
    assert page.locator("#monitor-live").inner_text().startswith("Updated at ")
    visit.check(page, "queue-monitor-updated")
    readme_shot(page, "queue-monitor")

    # ---- the updates can be stopped, and start stopped for someone who asked for reduced motion ----
    activate(page, page.locator("#monitor-pause"), key="Space", navigates=False)
    assert page.locator("#monitor-live").inner_text() == "This page will not update itself."
    still = browser.new_context(reduced_motion="reduce")
    calm = still.new_page()
    sign_in(calm, base, ADMIN_EMAIL, ADMIN_PASSWORD)
    assert calm.locator("#monitor-pause").inner_text() == "Update this page every 15 seconds"
    assert not calm.locator("#monitor-auto").is_visible()
    still.close()
    context.close()


def test_without_javascript_the_refresh_link_brings_the_monitor_up_to_date(stack, browser, visit):
    base = stack.base_url
    context = browser.new_context(java_script_enabled=False)
    scripted = browser.new_context()  # only to run axe-core on the same HTML
    page = context.new_page()
    sign_in(page, base, ADMIN_EMAIL, ADMIN_PASSWORD)
    assert not page.locator("#monitor-pause").is_visible(), "the button to stop updates needs the script"
    activate(page, page.get_by_role("link", name="Refresh this page"))
    assert page.url.endswith("/manage") and page.locator("h1").inner_text() == "Queue monitor"
    visit.check(page, "no-script-queue-monitor", scripted)
    page.goto(f"{base}/manage/operations")
    activate(page, page.get_by_role("link", name="Refresh this page"))
    assert page.url.endswith("/manage/operations")
    visit.check(page, "no-script-operations", scripted)
    scripted.close()
    context.close()
