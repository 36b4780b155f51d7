"""Closing a round with what difference the pairs made, in Chromium with the keyboard only (issue 18): words
that are not plain English are refused with an error summary naming the field, plain words are shown in every
format before anything is sent, and then everyone in the round is told. axe-core checks the page, its error
state and its preview."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from services.common.embedded import read_maildir
from services.registry.sample import sample_leaders
from tests.browser.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, activate, type_into, wait_for_status
from tests.browser.signing_in import sign_in

pytestmark = pytest.mark.e2e

RUN = uuid.uuid4().hex[:5]
HARD = "The ICB will leverage the learning going forward."
SUBJECTS = ("What difference your pairing made", "Thank you from the programme")  # standard and easy read
PLAIN = "Because of your work, the hospital now books interpreters before the first visit. Carers now get a named contact."


@pytest.fixture(scope="module")
def stack(own_stack):
    """A registry of its own: the round closed here must not change the journeys' counts."""
    return own_stack


def published_round(api: httpx.Client) -> tuple[str, list[str]]:
    """A round of six people who read email, approved and published: its id and the people's addresses."""
    people = [{**p, "id": f"{p['id']}-fb{RUN}"} for p in sample_leaders()[:12] if p.get("contact_method", "email") == "email"][:6]
    for person in people:
        person["email"] = f"{person['id']}@example.org"
        assert api.post("/leaders", json=person).status_code in (200, 201)
    launched = api.post("/rounds", json={"name": f"Feedback cohort {RUN}", "leader_ids": [p["id"] for p in people]})
    assert launched.status_code == 202, launched.text
    round_id = launched.json()["id"]
    wait_for_status(api, round_id, "proposed")
    assert api.post(f"/rounds/{round_id}/approve", json={"approved_by": "Test manager"}).status_code == 200
    assert api.post(f"/rounds/{round_id}/publish").status_code == 200
    return round_id, [p["email"] for p in people]


def test_a_manager_closes_a_round_with_feedback_using_the_keyboard(stack, browser, mail_sink, visit):
    base = stack.base_url
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {stack.api_token}"}, timeout=30)
    round_id, addresses = published_round(api)

    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    visit.watch(page)
    sign_in(page, base, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto(f"{base}/manage/rounds/{round_id}")
    activate(page, page.get_by_role("link", name="Close this round"))
    assert "Tell everyone what difference the pairs made" in page.locator("main").inner_text()
    visit.check(page, "round-close-feedback")

    # ---- words that are not plain English: the summary has the focus and names the field ----
    type_into(page, page.locator("#feedback"), HARD)
    activate(page, page.get_by_role("button", name="Check the words and see how everyone will get them"))
    summary = page.locator(".nhsuk-error-summary")
    assert page.evaluate("() => document.activeElement.closest('.nhsuk-error-summary') !== null"), "the summary has the focus"
    problems = summary.locator("li").all_inner_texts()
    assert any('"ICB" is a short form' in p for p in problems) and any('Say "use" instead' in p for p in problems)
    assert any('Say "from now on" instead' in p for p in problems)
    assert {a.get_attribute("href") for a in summary.locator("a").all()} == {"#feedback"}
    assert page.title().startswith("Error"), page.title()
    assert page.locator("#feedback").input_value() == HARD, "the words are kept to change"
    visit.check(page, "round-close-feedback-errors")

    # ---- plain words: a preview in every format, nothing sent yet ----
    type_into(page, page.locator("#feedback"), PLAIN)
    activate(page, page.get_by_role("button", name="Check the words and see how everyone will get them"))
    preview = page.locator("section[aria-labelledby='preview-heading']")
    assert preview.locator("h3").all_inner_texts() == ["Email", "Large print", "Easy read", "Text message", "Letter"]
    assert "Carers now get a named contact." in preview.inner_text()
    assert api.get(f"/rounds/{round_id}").json()["status"] == "published", "nothing is sent before the preview"
    visit.check(page, "round-close-feedback-preview")

    # ---- sent: the round is closed and everyone in it is told ----
    activate(page, page.get_by_role("button", name="Close the round and send the message"))
    banner = page.locator(".nhsuk-notification-banner").inner_text()
    assert "The round is closed" in banner and "what difference the pairs made" in banner
    visit.check(page, "round-closed-with-feedback")
    context.close()

    deadline = time.monotonic() + 60
    told: set[str] = set()
    while time.monotonic() < deadline and told != set(addresses):
        told = {m["To"] for m in read_maildir(mail_sink[1]) if m["Subject"].startswith(SUBJECTS)}
        told &= set(addresses)
        time.sleep(0.5)
    assert told == set(addresses), "everyone in the round, paired or not, hears once"
