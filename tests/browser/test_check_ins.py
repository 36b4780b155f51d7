"""'Did you meet?' and check-ins in Chromium, with the keyboard only: a leader answers from the link in
their message on a small phone screen (first sending it with words but no answer, to see its error and
the words still there), lands on a thank-you page that a refresh does not send again, and a manager
records an answer given by phone, then sees both on the round's follow-up page. axe-core checks every
page and every error state."""

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


def answer_link(maildir, email: str, seconds: float = 60) -> str:
    """The person's short answer link, from their message."""
    deadline = dt.datetime.now() + dt.timedelta(seconds=seconds)
    while True:
        try:
            return links_in(maildir, email)[0]
        except AssertionError:
            if dt.datetime.now() > deadline:
                raise
            time.sleep(0.5)


@pytest.fixture(scope="module")
def stack(own_stack):
    """A registry of its own: the leaders and round made here must not join the journeys'."""
    return own_stack


def test_a_leader_and_a_manager_answer_after_the_first_meeting_with_the_keyboard(stack, browser, mail_sink, visit):
    base = stack.base_url
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {stack.api_token}"}, timeout=30)
    round_id, pairs = published_round(api)
    by_link, by_phone = pairs[0], pairs[1]

    # ---- a leader answers "Did you meet?" from their link, on a phone ----
    phone = browser.new_context(viewport={"width": 320, "height": 640}, device_scale_factor=2, is_mobile=True, has_touch=True)
    leader_page = phone.new_page()
    visit.watch(leader_page)
    link = answer_link(mail_sink[1], f"{by_link['lived_experience_id']}@example.org")
    leader_page.goto(link + "/met")
    assert leader_page.locator("h1").inner_text().startswith("Did you meet")
    visit.check(leader_page, "did-you-meet")
    type_into(leader_page, leader_page.locator("#words"), "We have a date in the diary")
    activate(leader_page, leader_page.get_by_role("button", name="Send my answer"))
    summary = leader_page.locator(".nhsuk-error-summary")
    assert summary.locator("li").all_inner_texts() == ["Choose one answer"]
    assert summary.locator("a").get_attribute("href") == "#answer"
    assert leader_page.title().startswith("Error")
    assert leader_page.locator("#words").input_value() == "We have a date in the diary", "what they typed is kept"
    visit.check(leader_page, "did-you-meet-errors")
    # "Not yet", with a date to meet in day, month and year boxes: a box left empty is named, and what was typed stays.
    choose_radio(leader_page, "answer", "not_yet")
    type_into(leader_page, leader_page.locator("#meeting_on_day"), "4")
    type_into(leader_page, leader_page.locator("#meeting_on_year"), str(dt.date.today().year + 1))
    activate(leader_page, leader_page.get_by_role("button", name="Send my answer"))
    assert summary.locator("li").all_inner_texts() == ["The date you will meet must include a month"]
    assert summary.locator("a").get_attribute("href") == "#meeting_on_month"
    assert leader_page.locator("#meeting_on_day").input_value() == "4", "the day typed is kept"
    assert leader_page.locator("#meeting_on_month").get_attribute("class").endswith("nhsuk-input--error"), "the box to fix"
    assert "nhsuk-input--error" not in leader_page.locator("#meeting_on_day").get_attribute("class")
    visit.check(leader_page, "did-you-meet-date-error")
    choose_radio(leader_page, "answer", "met")
    activate(leader_page, leader_page.get_by_role("button", name="Send my answer"))
    assert leader_page.locator("h1").inner_text() == "Thank you for telling us"
    assert leader_page.url.endswith("/met/thank-you"), "after a redirect, so a refresh sends nothing"
    visit.check(leader_page, "did-you-meet-answered")
    leader_page.reload()
    assert leader_page.locator("h1").inner_text() == "Thank you for telling us"

    # ---- and the first check-in ----
    leader_page.goto(link + "/check-in/1")
    assert leader_page.locator("h1").inner_text().startswith("How is it going with")
    visit.check(leader_page, "check-in")
    choose_radio(leader_page, "answer", "going_well")
    type_into(leader_page, leader_page.locator("#words"), "We meet every fortnight")
    activate(leader_page, leader_page.get_by_role("button", name="Send my answer"))
    assert "good to hear" in leader_page.locator("main").inner_text()
    assert leader_page.url.endswith("/check-in/1/thank-you")
    visit.check(leader_page, "check-in-answered")
    phone.close()

    # ---- another leader says "not yet" with the date they plan to meet, with no JavaScript ----
    plain = browser.new_context(java_script_enabled=False)
    plain_page = plain.new_page()
    visit.watch(plain_page)
    assert len(pairs) >= 3, "a third pair answers without JavaScript"
    plain_page.goto(answer_link(mail_sink[1], f"{pairs[2]['lived_experience_id']}@example.org") + "/met")
    choose_radio(plain_page, "answer", "not_yet")
    planned = dt.date.today() + dt.timedelta(days=20)
    for part, value in (("day", planned.day), ("month", planned.month), ("year", planned.year)):
        type_into(plain_page, plain_page.locator(f"#meeting_on_{part}"), str(value))
    activate(plain_page, plain_page.get_by_role("button", name="Send my answer"))
    assert plain_page.url.endswith("/met/thank-you") and "Plans change" in plain_page.locator("main").inner_text()
    plain.close()

    # ---- a manager records "we need help", given on the phone ----
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    visit.watch(page)
    sign_in(page, base, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto(f"{base}/manage/rounds/{round_id}/follow-up")
    activate(page, page.get_by_role("link", name="Record a follow-up answer"))
    assert page.locator("h1").inner_text() == "Record a follow-up answer"
    visit.check(page, "record-follow-up-answer")
    activate(page, page.get_by_role("button", name="Record the answer"))
    problems = page.locator(".nhsuk-error-summary li").all_inner_texts()
    assert problems[:2] == ["Choose whose answer it is, and about which partner", "Choose which question they answered"]
    visit.check(page, "record-follow-up-answer-errors")
    choose_value(page, page.locator("#person"), f"{by_phone['lived_experience_id']} {by_phone['professional_id']}")
    choose_radio(page, "question", "met")
    choose_radio(page, "answer", "need_help")
    choose_radio(page, "via", "phone")
    activate(page, page.get_by_role("button", name="Record the answer"))
    assert "/follow-up" in page.url
    table = page.locator("#check-in-table").inner_text()
    assert "Met" in table and "Going well (check-in 1)" in table and "Asked for help" in table
    assert "We meet every fortnight" in table, "an admin reads the words"
    assert f"plan to meet on {planned:%-d %B %Y}" in table, "the date typed in boxes, as the team reads it"
    visit.check(page, "follow-up-after-meeting")
    context.close()
