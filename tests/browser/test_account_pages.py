"""Accounts in Chromium, with the keyboard only, against the running product: an admin adds a
manager, makes them a link to choose a password, cannot demote the last admin, deactivates and
reactivates them; the manager chooses a password from the link with JavaScript turned off, sets up
their second factor from the key shown on the page, changes their password, and signs in again with
a code. Every page is checked with axe-core."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.browser.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, activate, choose_radio, type_into
from tests.browser.signing_in import SECOND_FACTORS, account, next_code, sign_in

pytestmark = pytest.mark.e2e

RUN = uuid.uuid4().hex[:5]


def test_an_admin_manages_a_manager_who_sets_up_a_second_factor(stack, browser, visit):
    base = stack.base_url
    email, name = f"mo.manager-{RUN}@example.org", f"Mo Manager {RUN}"
    admin_context = browser.new_context()
    admin = admin_context.new_page()
    visit.watch(admin)
    sign_in(admin, base, ADMIN_EMAIL, ADMIN_PASSWORD)

    # ---- the admin adds them, and opens their page ----
    activate(admin, admin.get_by_role("link", name="People who sign in"))
    type_into(admin, admin.locator("#name"), name)
    type_into(admin, admin.locator("#email"), email)
    choose_radio(admin, "role", "manager")
    type_into(admin, admin.locator("#password"), "a first password for mo")
    activate(admin, admin.get_by_role("button", name="Add this person"))
    visit.check(admin, "people")
    activate(admin, admin.locator("main").get_by_role("link", name=re.compile(f"^{name}")))
    assert admin.locator("h1").inner_text() == name
    visit.check(admin, "person")

    # ---- the last admin cannot demote themselves ----
    activate(admin, admin.get_by_role("link", name="People who sign in"))
    activate(admin, admin.locator("main").get_by_role("link", name=re.compile("^Alex Admin")))
    choose_radio(admin, "role", "manager")
    activate(admin, admin.get_by_role("button", name="Change their role"))
    assert "is the only active admin" in admin.locator(".nhsuk-error-summary").inner_text()
    visit.check(admin, "person-last-admin")

    # ---- deactivate, reactivate, then a link to choose a password ----
    activate(admin, admin.get_by_role("link", name="Back to people who can sign in"))
    activate(admin, admin.locator("main").get_by_role("link", name=re.compile(f"^{name}")))
    activate(admin, admin.get_by_role("button", name=f"Deactivate {name}"))
    assert "can no longer sign in" in admin.locator(".nhsuk-notification-banner").inner_text()
    visit.check(admin, "person-deactivated")
    activate(admin, admin.get_by_role("button", name=f"Reactivate {name}"))
    assert "can sign in again" in admin.locator(".nhsuk-notification-banner").inner_text()
    activate(admin, admin.get_by_role("button", name="Make a link to choose a new password"))
    link = admin.locator("#reset-link").inner_text()
    visit.check(admin, "person-reset-link")
    admin_context.close()

    # ---- they choose a password from the link, with JavaScript turned off ----
    context = browser.new_context(java_script_enabled=False)
    scripted = browser.new_context()  # only to run axe-core on the same HTML
    page = context.new_page()
    page.goto(link)
    visit.check(page, "reset-password", scripted)
    type_into(page, page.locator("#new_password"), "mo chose this password")
    type_into(page, page.locator("#new_password_again"), "mo chose this passwork")
    activate(page, page.get_by_role("button", name="Save your new password"))
    assert "are not the same" in page.locator(".nhsuk-error-summary").inner_text()
    visit.check(page, "reset-password-error", scripted)
    type_into(page, page.locator("#new_password"), "mo chose this password")
    type_into(page, page.locator("#new_password_again"), "mo chose this password")
    activate(page, page.get_by_role("button", name="Save your new password"))
    assert "Your new password is saved" in page.locator("main").inner_text()

    # ---- first sign-in: set up the second factor from the key on the page ----
    type_into(page, page.locator("#email"), email)
    type_into(page, page.locator("#password"), "mo chose this password")
    activate(page, page.get_by_role("button", name="Sign in"))
    assert "/sign-in/set-up" in page.url
    visit.check(page, "second-factor-set-up", scripted)
    key = page.locator("#secret").inner_text()
    assert re.fullmatch(r"([A-Z2-7]{4} )+[A-Z2-7]{1,4}", key), key  # in groups of four, to read and type
    assert page.get_by_role("img", name="QR code holding the same key").count() == 1
    type_into(page, page.locator("#code"), "12345")
    activate(page, page.get_by_role("button", name="Finish setting up and sign in"))
    assert "must be 6 digits" in page.locator(".nhsuk-error-summary").inner_text()
    visit.check(page, "second-factor-set-up-error", scripted)
    SECOND_FACTORS[account(stack.base_url, email)] = key.replace(" ", "")
    type_into(page, page.locator("#code"), next_code(account(stack.base_url, email)))
    activate(page, page.get_by_role("button", name="Finish setting up and sign in"))
    assert page.url.endswith("/manage"), page.url

    # ---- their account: a new password ----
    activate(page, page.locator("header").get_by_role("link", name=re.compile(f"^{name}")))
    assert "Set up: you sign in with a code" in page.locator("main").inner_text()
    visit.check(page, "account", scripted)
    type_into(page, page.locator("#current_password"), "mo chose this password")
    type_into(page, page.locator("#new_password"), email)
    type_into(page, page.locator("#new_password_again"), email)
    activate(page, page.get_by_role("button", name="Change your password"))
    assert "must not be your email address" in page.locator(".nhsuk-error-summary").inner_text()
    visit.check(page, "account-errors", scripted)
    type_into(page, page.locator("#current_password"), "mo chose this password")
    type_into(page, page.locator("#new_password"), "mo's second password")
    type_into(page, page.locator("#new_password_again"), "mo's second password")
    activate(page, page.get_by_role("button", name="Change your password"))
    assert "Your password has been changed" in page.locator(".nhsuk-notification-banner").inner_text()

    # ---- signing in again asks for a code ----
    activate(page, page.get_by_role("button", name="Sign out"))
    type_into(page, page.locator("#email"), email)
    type_into(page, page.locator("#password"), "mo's second password")
    activate(page, page.get_by_role("button", name="Sign in"))
    assert "/sign-in/code" in page.url
    visit.check(page, "second-factor-code", scripted)
    type_into(page, page.locator("#code"), next_code(account(stack.base_url, email)))
    activate(page, page.get_by_role("button", name="Sign in"))
    assert page.url.endswith("/manage"), page.url
    scripted.close()
    context.close()


def test_the_sign_in_page_says_when_someone_was_signed_out_for_not_using_the_pages(stack, browser, visit):
    # The timing itself is tested on the real registry in tests/integration/test_accounts.py.
    context = browser.new_context()
    page = context.new_page()
    visit.watch(page)
    page.goto(f"{stack.base_url}/sign-in?idle=1&next=/manage/rounds")
    assert "You were signed out because you had not used these pages for 30 minutes" in page.locator("main").inner_text()
    visit.check(page, "sign-in-after-idle")
    context.close()
