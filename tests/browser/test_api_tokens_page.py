"""API tokens in Chromium, with the keyboard only, against the running product: an admin makes a token
for a program (a missing name is named as the field to fix), copies it from the page (the only time it
is shown), the program reads the API with it, and the admin revokes it, which stops it at once.
Every page is checked with axe-core."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.browser.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, activate, choose_radio, type_into
from tests.browser.signing_in import sign_in

pytestmark = pytest.mark.e2e

RUN = uuid.uuid4().hex[:5]


def test_an_admin_makes_a_token_for_a_program_and_revokes_it(stack, browser, visit):
    base = stack.base_url
    context = browser.new_context()
    page = context.new_page()
    visit.watch(page)
    sign_in(page, base, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto(f"{base}/manage/tokens")  # in the menu, behind "More" on a narrow screen
    visit.check(page, "tokens")

    activate(page, page.get_by_role("button", name="Make the token"))
    assert "Enter a name for the token" in page.locator(".nhsuk-error-summary").inner_text()
    visit.check(page, "tokens-error")
    name = f"monthly report {RUN}"
    type_into(page, page.locator("#name"), name)
    choose_radio(page, "role", "viewer")
    activate(page, page.get_by_role("button", name="Make the token"))
    token = page.locator("#new-token").inner_text()
    visit.check(page, "tokens-made")

    program = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert program.get("/leaders").status_code == 200
    page.goto(f"{base}/manage/tokens")
    assert name in page.locator("main").inner_text() and token not in page.content(), "listed, never shown again"
    activate(page, page.get_by_role("button", name=f"Revoke the token {name}"))
    assert "has been revoked" in page.locator(".nhsuk-notification-banner").inner_text()
    visit.check(page, "tokens-revoked")
    assert program.get("/leaders").status_code == 401
    context.close()
