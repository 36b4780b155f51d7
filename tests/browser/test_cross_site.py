"""Another website cannot make a signed-in manager's browser change anything, even when that
browser sends the manager's password with every request (the worst a cached Basic login can be).

A page served from a second local port (another origin of the same site, so the browser sends
the registry's session cookie with its requests) submits forms to the registry by itself.
"""

from __future__ import annotations

import datetime as dt
import http.server
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from services.common.embedded import free_port
from services.registry.sample import sample_leaders
from tests.browser.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, activate
from tests.browser.signing_in import sign_in

pytestmark = pytest.mark.e2e

RUN = uuid.uuid4().hex[:6]


def attacking_page(action: str) -> bytes:
    """A page that posts an empty form to `action` as soon as it opens, as a hostile site would."""
    return (
        "<!doctype html><html lang='en'><head><title>Win a prize</title></head><body>"
        f"<form method='post' action='{action}'><input type='hidden' name='answer' value='accept'></form>"
        "<script>document.forms[0].submit()</script></body></html>"
    ).encode()


@pytest.fixture
def other_site() -> Iterator[tuple[str, dict[str, bytes]]]:
    """A second local web server: its pages, by path, are set by the test."""
    pages: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the standard library's name
            body = pages.get(self.path, b"not here")
            self.send_response(200 if self.path in pages else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", pages
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def stack(own_stack):
    """A registry of its own: the round left proposed here must not join the journeys' rounds."""
    return own_stack


def proposed_round(api: httpx.Client) -> str:
    people = [{**p, "id": f"{p['id']}-xs{RUN}"} for p in sample_leaders()[:6]]
    for person in people:
        assert api.post("/leaders", json=person).status_code == 201
    round_id = f"cross-site-{RUN}"
    assert api.post("/rounds", json={"id": round_id, "leader_ids": [p["id"] for p in people]}).status_code == 202
    deadline = dt.datetime.now() + dt.timedelta(seconds=90)
    while api.get(f"/rounds/{round_id}").json()["status"] != "proposed":
        assert dt.datetime.now() < deadline, "the round was not solved in time"
        time.sleep(0.3)
    return round_id


def test_a_form_on_another_site_cannot_cancel_a_round(stack, browser, other_site):
    base = stack.base_url
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {stack.api_token}"}, timeout=30)
    round_id = proposed_round(api)
    # Signed in to the pages (the cookie), and sending the password with every request as well.
    context = browser.new_context(http_credentials={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "send": "always"})
    page = context.new_page()
    sign_in(page, base, ADMIN_EMAIL, ADMIN_PASSWORD)
    assert page.goto(f"{base}/rounds/{round_id}").status == 200  # the browser has used the API

    site, pages = other_site
    pages["/prize"] = attacking_page(f"{base}/rounds/{round_id}/cancel")
    pages["/prize-page"] = attacking_page(f"{base}/manage/rounds/{round_id}/cancel")
    for path in ("/prize", "/prize-page"):
        with page.expect_response(lambda r: r.request.method == "POST" and r.url.startswith(base)) as answered:
            page.goto(f"{site}{path}")
        assert answered.value.status == 403, (path, answered.value.status)
        assert "another website" in page.locator("body").inner_text()
    assert api.get(f"/rounds/{round_id}").json()["status"] == "proposed"

    # The same browser, on the registry's own page, still can: the check is on where the form comes from.
    page.goto(f"{base}/manage/rounds/{round_id}/cancel")
    activate(page, page.get_by_role("button", name="Cancel the round"))
    assert api.get(f"/rounds/{round_id}").json()["status"] == "cancelled"
    context.close()


def test_a_sign_in_request_gets_no_basic_challenge(stack):
    answer = httpx.get(f"{stack.base_url}/rounds")
    assert answer.status_code == 401 and "www-authenticate" not in answer.headers
