"""Ending a pair in Chromium, with the keyboard only: a manager ends one from the round's follow-up
page (first sending the form empty, to see its errors), and a leader ends theirs from the link in
their message. axe-core checks every page and every error state."""

from __future__ import annotations

import datetime as dt
import time

import httpx
import pytest

from tests.browser.conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    activate,
    choose_radio,
    choose_value,
    links_in,
    published_round,
    type_into,
)
from tests.browser.signing_in import sign_in

pytestmark = pytest.mark.e2e


def end_link(maildir, email: str, seconds: float = 60) -> str:
    """The page for ending the pair: the person's answer link, with /end after it."""
    deadline = dt.datetime.now() + dt.timedelta(seconds=seconds)
    while True:
        try:
            return links_in(maildir, email)[0] + "/end"
        except AssertionError:
            if dt.datetime.now() > deadline:
                raise
            time.sleep(0.5)


@pytest.fixture(scope="module")
def stack(own_stack):
    """A registry of its own: the leaders and round made here must not join the journeys', which
    count every active leader."""
    return own_stack


def test_a_manager_and_a_leader_end_pairs_with_the_keyboard(stack, browser, mail_sink, visit):
    base = stack.base_url
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {stack.api_token}"}, timeout=30)
    round_id, pairs = published_round(api)
    by_team, by_leader = pairs[0], pairs[1]

    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    visit.watch(page)
    sign_in(page, base, ADMIN_EMAIL, ADMIN_PASSWORD)

    # ---- a manager reaches "End a pair" from the follow-up page ----
    page.goto(f"{base}/manage/rounds/{round_id}")
    activate(page, page.get_by_role("link", name="Follow up: whose message was sent, and who has said yes or no"))
    visit.check(page, "follow-up")
    activate(page, page.get_by_role("link", name="End a pair"))
    assert page.locator("h1").inner_text() == "End a pair"
    visit.check(page, "end-a-pair")

    # ---- sent empty: the summary has the focus and names each field ----
    activate(page, page.get_by_role("button", name="End the pair"))
    summary = page.locator(".nhsuk-error-summary")
    assert page.evaluate("() => document.activeElement.closest('.nhsuk-error-summary') !== null"), "the summary has the focus"
    problems = summary.locator("li").all_inner_texts()
    assert problems == [
        "Choose the pair, and who asked to end it",
        "Choose why the pair is ending",
        "Choose how their request reached you",
    ]
    assert [a.get_attribute("href") for a in summary.locator("a").all()] == ["#choice", "#reason", "#via"]
    assert page.title().startswith("Error"), page.title()
    visit.check(page, "end-a-pair-errors")

    # ---- filled with the keyboard: the programme team ends the first pair ----
    team_choice = f"team|{by_team['lived_experience_id']}|{by_team['professional_id']}"
    choose_value(page, page.locator("#choice"), team_choice)
    choose_radio(page, "reason", "circumstances_changed")
    type_into(page, page.locator("#words"), "The team decided after a call")
    activate(page, page.get_by_role("button", name="End the pair"))
    assert "/follow-up" in page.url
    assert "Ended: the pair of" in page.locator(".nhsuk-notification-banner").inner_text()
    assert page.locator("#follow-up-table").inner_text().count("Pair ended") == 2, "both people's rows say so"
    visit.check(page, "follow-up-ended")
    context.close()

    # ---- a leader ends theirs from the link in their message ----
    phone = browser.new_context(viewport={"width": 320, "height": 640}, device_scale_factor=2, is_mobile=True, has_touch=True)
    leader_page = phone.new_page()
    visit.watch(leader_page)
    leader_page.goto(end_link(mail_sink[1], f"{by_leader['lived_experience_id']}@example.org"))
    assert leader_page.locator("h1").inner_text().startswith("End your pair with")
    visit.check(leader_page, "leader-end")
    # Sent without a reason: the summary has the focus and names the question to answer.
    activate(leader_page, leader_page.get_by_role("button", name="End the pair"))
    summary = leader_page.locator(".nhsuk-error-summary")
    assert leader_page.evaluate("() => document.activeElement.closest('.nhsuk-error-summary') !== null")
    assert summary.locator("li").all_inner_texts() == ["Choose why you want to end the pair"]
    assert summary.locator("a").get_attribute("href") == "#reason"
    assert leader_page.locator("#reason-error").is_visible() and leader_page.title().startswith("Error")
    visit.check(leader_page, "leader-end-errors")
    choose_radio(leader_page, "reason", "not_working")
    type_into(leader_page, leader_page.locator("#words"), "We could not find a time to meet")
    activate(leader_page, leader_page.get_by_role("button", name="End the pair"))
    assert leader_page.locator("h1").inner_text() == "Your pair has ended"
    visit.check(leader_page, "leader-ended")
    phone.close()
