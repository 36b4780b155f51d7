"""A manager adds a leader using only the plain fields (issue 16): the area by name, where they
live by the first half of a postcode, free times from lists, a date in day, month and year boxes,
miles, and someone never to pair them with found by name. In Chromium with JavaScript turned off
and the keyboard only; axe-core checks the form, its error states and the result."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.browser.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, activate, choose_option, choose_radio, tick, type_into
from tests.browser.signing_in import readme_shot, sign_in

pytestmark = pytest.mark.e2e

RUN = uuid.uuid4().hex[:5]


@pytest.fixture(scope="module")
def stack(own_stack):
    """Its own registry: the journeys count every active leader, and these two would join them."""
    return own_stack


def test_a_manager_adds_a_leader_with_only_the_plain_fields_and_no_javascript(stack, browser, visit):
    base = stack.base_url
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {stack.api_token}"}, timeout=30)
    other = {
        "id": f"pf-other-{RUN}",
        "name": f"Quentin Zebedee {RUN}",
        "role": "clinical_leader",
        "email": f"pf-other-{RUN}@example.org",
        "system": "QWO",
        "meeting_modes": ["video"],
    }
    assert api.post("/leaders", json=other).status_code == 201

    context = browser.new_context(java_script_enabled=False, viewport={"width": 1100, "height": 900})
    scripted = browser.new_context()  # only to run axe-core on the same HTML
    page = context.new_page()
    visit.watch(page)
    sign_in(page, base, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto(f"{base}/manage/leaders/new")
    visit.check(page, "plain-leader-form", scripted)

    # ---- everything filled in the way people say it, with mistakes first ----
    ident = f"pf-{RUN}"
    type_into(page, page.locator("#id"), ident)
    type_into(page, page.locator("#name"), f"Pat Plainform {RUN}")
    choose_radio(page, "role", "patient_leader")
    choose_option(page, page.locator("#system"), "West Yorkshire")
    type_into(page, page.locator("#email"), f"{ident}@example.org")
    type_into(page, page.locator("#town"), "Nowhere-on-the-Map")
    type_into(page, page.locator("#max_travel_miles"), "ten")
    tick(page, page.locator("#meeting_modes"))  # in person
    choose_option(page, page.locator("#time_0_day"), "Tuesday")
    choose_option(page, page.locator("#time_0_from"), "10:00")
    choose_option(page, page.locator("#time_0_to"), "09:00")
    type_into(page, page.locator("#date_0_day"), "31")
    type_into(page, page.locator("#date_0_month"), "2")
    type_into(page, page.locator("#date_0_year"), "2027")
    with page.expect_navigation():
        page.keyboard.press("Enter")  # Enter in a field saves, rather than adding a row of free times
    assert page.locator("#time_3_day").count() == 0
    summary = page.locator(".nhsuk-error-summary").inner_text()
    assert "Enter a town in England, like Leeds, or the first half of a postcode, like LS6" in summary
    assert "should be a number of miles" in summary
    assert "Free time 1: the end time must be later than the start time" in summary
    assert "Date they cannot do 1 must be a real date" in summary
    assert page.locator("#system").input_value() == "QWO", "what was chosen is kept"
    visit.check(page, "plain-leader-form-errors", scripted)

    type_into(page, page.locator("#town"), "LS6")
    type_into(page, page.locator("#max_travel_miles"), "10")
    choose_option(page, page.locator("#time_0_to"), "12:30")
    type_into(page, page.locator("#date_0_day"), "26")
    type_into(page, page.locator("#date_0_month"), "1")

    # ---- another time, by posting the form back ----
    activate(page, page.get_by_role("button", name="Add another time"))
    assert page.locator("#time_3_day").count() == 1 and page.locator("#town").input_value() == "LS6"
    choose_option(page, page.locator("#time_3_day"), "Thursday")
    choose_option(page, page.locator("#time_3_from"), "14:00")
    choose_option(page, page.locator("#time_3_to"), "16:00")

    # ---- never pair them with someone found by name ----
    activate(page, page.get_by_role("button", name="Search"))
    assert "Enter part of the name" in page.locator(".nhsuk-error-summary").inner_text()
    visit.check(page, "plain-leader-form-search-error", scripted)
    type_into(page, page.locator("#never_q"), f"zebedee {RUN}")
    activate(page, page.get_by_role("button", name="Search"))
    assert f"Quentin Zebedee {RUN}" in page.locator("label[for=do_not_pair_with]").inner_text()
    tick(page, page.locator("#do_not_pair_with"))
    visit.check(page, "plain-leader-form-search", scripted)
    page.locator("h2", has_text="Where and when").evaluate("heading => heading.scrollIntoView()")
    readme_shot(page, "leader-form")

    activate(page, page.get_by_role("button", name="Add leader"))
    assert f"Pat Plainform {RUN}'s details are added" in page.locator(".nhsuk-notification-banner").inner_text()
    text = page.locator("main").inner_text()
    for said in ("West Yorkshire", "LS6", "10 miles", "Tuesday 10:00 to 12:30", "Thursday 14:00 to 16:00", "26 January 2027"):
        assert said in text, said
    visit.check(page, "plain-leader", scripted)

    stored = api.get(f"/leaders/{ident}").json()
    assert stored["system"] == "QWO" and stored["do_not_pair_with"] == [other["id"]]
    assert stored["location"] == {"lat": 53.8201, "lon": -1.5708} and abs(stored["max_travel_km"] - 16.093) < 0.001
    context.close()
    scripted.close()
