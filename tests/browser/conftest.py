"""A real browser against the real product: the three services as processes
(services.launcher.Stack), the real broker, a real SMTP server, and Debian's
Chromium driven by Playwright. axe-core checks every page the journeys visit.

Helpers here drive pages with the keyboard only: Tab, Shift+Tab, Enter, Space
and the arrow keys, never a mouse click.
"""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from services.common.embedded import free_port, read_maildir
from services.launcher import Stack
from services.registry.sample import sample_leaders
from tests.browser import chromium

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
ADMIN_EMAIL = "admin@example.org"
ADMIN_PASSWORD = "a long test password"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@pytest.fixture(scope="package")
def mail_sink(tmp_path_factory) -> Iterator[tuple[int, Path]]:
    from services.common.smtp_sink import start_sink

    port = free_port()
    maildir = tmp_path_factory.mktemp("browser-mail") / "mail"
    controller = start_sink(maildir, port)
    try:
        yield port, maildir
    finally:
        controller.stop()


def browser_stack(broker: str, smtp_port: int, data_dir: Path) -> Stack:
    """The three services as processes, with the admin the browser tests sign in as."""
    return Stack(
        data_dir=data_dir,
        http_port=free_port(),
        kafka_bootstrap=broker,
        smtp_port=smtp_port,
        start_smtp_sink=False,
        extra_env={
            "KAFKA_SESSION_TIMEOUT_MS": "2000",
            "KAFKA_HEARTBEAT_INTERVAL_MS": "500",
            "REGISTRY_ADMIN_EMAIL": ADMIN_EMAIL,
            "REGISTRY_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "REGISTRY_ADMIN_NAME": "Alex Admin",
        },
        report=lambda _: None,
    )


@pytest.fixture(scope="module")
def own_stack(new_broker, mail_sink, tmp_path_factory) -> Iterator[Stack]:
    """A registry of its own, for a module whose leaders and rounds must not join the journeys'
    (they count every active leader and every round)."""
    with browser_stack(new_broker(), mail_sink[0], tmp_path_factory.mktemp("own-stack")) as running:
        yield running


@pytest.fixture(scope="package")
def stack(new_broker, mail_sink, tmp_path_factory) -> Iterator[Stack]:
    with browser_stack(new_broker(), mail_sink[0], tmp_path_factory.mktemp("browser-stack")) as running:
        yield running


@pytest.fixture(scope="package")
def browser():
    try:
        executable = chromium.ensure()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Visit:
    """Checks and records each page: no axe violations, no browser errors, a screenshot."""

    prefix: str
    shots: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def watch(self, page) -> None:
        # Pages that answer a form with a problem use 400-range statuses on purpose; anything else
        # (a script error, a blocked resource, a content security policy violation) fails the test.
        expected = re.compile(r"Failed to load resource: the server responded with a status of 40[0349]")
        page.on(
            "console",
            lambda m: m.type == "error" and not expected.search(m.text) and self.console_errors.append(f"{page.url}: {m.text}"),
        )
        page.on("pageerror", lambda e: self.console_errors.append(f"{page.url}: {e}"))

    def check(self, page, name: str, scripted_context=None) -> None:
        """For a page with JavaScript turned off, pass a context with it on: axe runs there on the same HTML."""
        from axe_playwright_python.sync_playwright import Axe

        page.wait_for_load_state("load")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.prefix}-{len(self.shots) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        options = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
        if scripted_context is None:
            results = Axe().run(page, options=options)
        else:
            html, url = page.content(), page.url
            twin = scripted_context.new_page()
            twin.route(url, lambda route: route.fulfill(body=html, content_type="text/html; charset=utf-8"))
            twin.goto(url)
            results = Axe().run(twin, options=options)
            twin.close()
        self.shots.append(str(path))
        assert results.violations_count == 0, f"{name} ({page.url}):\n{results.generate_report()}"
        assert not self.console_errors, self.console_errors


@pytest.fixture
def visit(request) -> Visit:
    return Visit(prefix=request.node.name.removeprefix("test_")[:40])


# ---- the keyboard ----


def focused(page, locator) -> bool:
    handle = locator.element_handle(timeout=5000)
    return bool(page.evaluate("el => document.activeElement === el", handle))


def tab_to(page, locator, presses: int = 200) -> None:
    """Press Tab until the element has the focus, as a keyboard user would. The element is found once,
    and again only when the page has replaced it (one call to the browser per press, not two)."""
    handle = locator.element_handle(timeout=5000)
    for press in range(presses + 1):
        if press:
            page.keyboard.press("Tab")
        has_focus = page.evaluate("el => el.isConnected ? document.activeElement === el : null", handle)
        if has_focus is None:
            handle = locator.element_handle(timeout=5000)
            has_focus = page.evaluate("el => document.activeElement === el", handle)
        if has_focus:
            return
    raise AssertionError(f"the Tab key never reached {locator}")


def activate(page, locator, key: str = "Enter", navigates: bool = True) -> None:
    """Tab to a link or button and press Enter (or Space)."""
    tab_to(page, locator)
    if navigates:
        with page.expect_navigation():
            page.keyboard.press(key)
    else:
        page.keyboard.press(key)


def type_into(page, locator, text: str) -> None:
    tab_to(page, locator)
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    if text:
        page.keyboard.type(text)


def choose_radio(page, name: str, value: str) -> None:
    """Tab into a radio group, then use the arrow keys until the right one is chosen."""
    group = page.locator(f'input[type="radio"][name="{name}"]')
    target = page.locator(f'input[type="radio"][name="{name}"][value="{value}"]')
    for _ in range(200):
        if page.evaluate("name => document.activeElement && document.activeElement.name === name", name):
            break
        page.keyboard.press("Tab")
    else:
        raise AssertionError(f"the Tab key never reached the {name} choices")
    for _ in range(group.count() + 1):
        if target.is_checked():
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"the arrow keys never chose {name}={value}")


def choose_option(page, locator, text: str) -> None:
    """Tab to a drop-down list, then use the arrow keys until the option with this text is chosen."""
    tab_to(page, locator)
    options = locator.locator("option").all_inner_texts()
    assert text in options, f"{text!r} is not one of the options"
    chosen = lambda: locator.evaluate("el => el.options[el.selectedIndex].text")  # noqa: E731
    key = "ArrowDown" if options.index(text) > options.index(chosen()) else "ArrowUp"
    for _ in range(len(options)):
        if chosen() == text:
            return
        page.keyboard.press(key)
    raise AssertionError(f"the arrow keys never chose {text!r}")


def type_area(page, name: str) -> None:
    """Where scripts run, the area is a text box that suggests the names (app.js): type one of them."""
    area = page.locator("#system")
    assert area.evaluate("el => el.tagName") == "INPUT", "with scripts, the area is typed"
    suggested = page.locator("#system-suggestions option").evaluate_all("options => options.map(o => o.value)")
    assert name in suggested, f"{name!r} is not suggested"
    type_into(page, area, name)


def tick(page, locator) -> None:
    tab_to(page, locator)
    if not locator.is_checked():
        page.keyboard.press("Space")
    assert locator.is_checked()


def wait_for_status(api: httpx.Client, round_id: str, status: str) -> None:
    deadline = dt.datetime.now() + dt.timedelta(seconds=90)
    while api.get(f"/rounds/{round_id}").json()["status"] != status:
        assert dt.datetime.now() < deadline, f"the round did not become {status} in time"
        time.sleep(0.3)


def links_in(maildir: Path, email: str) -> tuple[str, str]:
    """The accept and decline links from the message sent to this address."""
    for message in read_maildir(maildir):
        if message["To"] == email:
            # Each link is on its own line, after the words "Yes, ..." or "No, ...".
            lines = [line.strip() for line in message.get_body(preferencelist=("plain",)).get_content().splitlines()]
            links = {lines[i - 1].split(",")[0]: line for i, line in enumerate(lines) if re.match(r"https?://\S+/a/\w+$", line)}
            return links["Yes"], links["No"]
    raise AssertionError(f"no message was sent to {email}")


def choose_value(page, select, value: str) -> None:
    """Tab to a drop-down list, then use the arrow keys until the option with this value is chosen."""
    tab_to(page, select)
    for _ in range(select.locator("option").count() + 1):
        if select.input_value() == value:
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"the arrow keys never chose {value}")


def published_round(api: httpx.Client) -> tuple[str, list[dict]]:
    """A round of eight people who read email, approved and published: its id and its pairs. Its people are
    new each time (their ids and addresses), so no message to another test's people is taken for theirs."""
    run = uuid.uuid4().hex[:6]
    people = [{**p, "id": f"{p['id']}-end{run}"} for p in sample_leaders()[:12] if p.get("contact_method", "email") == "email"][
        :8
    ]
    for person in people:
        person["email"] = f"{person['id']}@example.org"
        assert api.post("/leaders", json=person).status_code in (200, 201)
    launched = api.post("/rounds", json={"name": f"Ending cohort {run}", "leader_ids": [p["id"] for p in people]})
    assert launched.status_code == 202, launched.text
    round_id = launched.json()["id"]
    wait_for_status(api, round_id, "proposed")
    assert api.post(f"/rounds/{round_id}/approve", json={"approved_by": "Test manager"}).status_code == 200
    assert api.post(f"/rounds/{round_id}/publish").status_code == 200
    pairs = api.get(f"/rounds/{round_id}").json()["pairs"]
    assert len(pairs) >= 2
    return round_id, pairs
