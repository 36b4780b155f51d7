"""Signing in to the pages as the browser tests do: by keyboard in Chromium or with httpx, the second
factor included (each account's authenticator secret and the last code it used are kept here, so every
test module shares them), and the README's screen-sized pictures."""

from __future__ import annotations

import datetime as dt
import re
import time
from urllib.parse import urlsplit

import httpx
import pyotp

from tests.browser.conftest import ARTIFACTS, type_into

# Managers and admins sign in with a code from an authenticator app too: the secret each set up, and the
# last time step each used (a code works once, so a second sign-in in the same 30 seconds uses the next code).
SECOND_FACTORS: dict[str, str] = {}
USED_STEPS: dict[str, int] = {}


def account(url: str, email: str) -> str:
    """Whose second factor: an email address on one registry (the cross-site test runs its own)."""
    parts = urlsplit(str(url))
    return f"{parts.scheme}://{parts.netloc} {email}"


def next_code(email: str) -> str:
    """`email` here is an account(...) key."""
    totp = pyotp.TOTP(SECOND_FACTORS[email])
    while True:
        now = totp.timecode(dt.datetime.now(dt.UTC))
        step = max(now, USED_STEPS.get(email, 0) + 1)
        if step <= now + 1:  # the registry takes the codes either side of now's
            USED_STEPS[email] = step
            return totp.generate_otp(step)
        time.sleep(1)


def second_factor(page, email: str, visit=None) -> None:
    """The second step of signing in, by keyboard: set up the first time (the key is read from the page), then a code."""
    email = account(page.url, email)
    if "/sign-in/set-up" in page.url:
        SECOND_FACTORS[email] = page.locator("#secret").inner_text().replace(" ", "")
        USED_STEPS.pop(email, None)
        if visit:
            visit.check(page, "second-factor-set-up")
    elif "/sign-in/code" in page.url:
        if visit:
            visit.check(page, "second-factor-code")
    else:
        return
    type_into(page, page.locator("#code"), next_code(email))
    with page.expect_navigation():
        page.keyboard.press("Enter")


def http_sign_in(client: httpx.Client, email: str, password: str) -> httpx.Response:
    """Sign in through the pages with httpx, second factor included."""
    key = account(client.base_url, email)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/sign-in").text).group(1)
    answer = client.post("/sign-in", data={"csrf_token": token, "email": email, "password": password, "next": "/manage"})
    step = answer.headers.get("location", "")
    if step.startswith(("/sign-in/set-up", "/sign-in/code")):
        html = client.get(step).text
        if step.startswith("/sign-in/set-up"):
            SECOND_FACTORS[key] = re.search(r'<code id="secret">([^<]+)</code>', html).group(1).replace(" ", "")
            USED_STEPS.pop(key, None)
        token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
        answer = client.post(step.split("?")[0], data={"csrf_token": token, "code": next_code(key), "next": "/manage"})
    return answer


def sign_in(page, base_url: str, email: str, password: str, visit=None) -> None:
    page.goto(f"{base_url}/manage")
    assert "/sign-in" in page.url
    if visit:
        visit.check(page, "sign-in")
    type_into(page, page.locator("#email"), email)
    type_into(page, page.locator("#password"), password)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    second_factor(page, email, visit)
    assert page.url.endswith("/manage"), page.url


def readme_shot(page, name: str) -> None:
    """A screen-sized picture for the README (copy it to docs/screenshots/ when the page changes)."""
    size = page.viewport_size
    page.set_viewport_size({"width": 1100, "height": 1300})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"readme-{name}.png"))
    page.set_viewport_size(size)
