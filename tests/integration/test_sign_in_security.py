"""Signing in to the registry's API, on the real registry (database and broker): API tokens,
no change from another website whatever sign-in it carries, the session cookie only with its
form token, and one lockout for every way of signing in."""

from __future__ import annotations

import re
import threading

import httpx
import pytest
from sqlalchemy import select

from services.registry.adapters.orm import ApiTokenRow, ManagerRow
from services.registry.web import auth, passwords
from tests.integration.conftest import ADMIN, running_registry

pytestmark = pytest.mark.integration

OTHER = ("other.manager@test.example", "another long password")


@pytest.fixture
async def registry(database_url, kafka_settings):
    auth.forget_cached_passwords()
    async with running_registry(database_url, kafka_settings) as client:
        async with client.store.unit_of_work() as uow:
            uow.session.add(
                ManagerRow(
                    email=OTHER[0],
                    name="Other Manager",
                    role="manager",
                    password_hash=auth.hash_password(OTHER[1]),
                    active=True,
                    failed_sign_ins=0,
                )
            )
            await uow.commit()
        yield client


def caller(registry: httpx.AsyncClient, address: str = "192.0.2.10", **options) -> httpx.AsyncClient:
    """Another client of the same running registry, from a given client address."""
    transport = httpx.ASGITransport(app=registry._transport.app, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://registry", **options)


async def sign_in_on_the_page(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    token = re.search(r'name="csrf_token" value="([^"]+)"', (await http.get("/sign-in")).text).group(1)
    return await http.post("/sign-in", data={"csrf_token": token, "email": email, "password": password})


async def test_an_admin_makes_a_token_that_signs_in_with_its_role_until_revoked(registry):
    made = await registry.post("/api-tokens", json={"name": "nightly report", "role": "viewer"})
    assert made.status_code == 201, made.text
    token = made.json()["token"]
    listed = (await registry.get("/api-tokens")).json()["items"]
    assert [t["name"] for t in listed] == ["nightly report"] and token not in str(listed)
    async with registry.store.unit_of_work() as uow:
        stored = (await uow.session.scalars(select(ApiTokenRow))).all()
    assert len(stored) == 1 and stored[0].digest != token and token not in repr(stored[0].__dict__)

    async with caller(registry, headers={"Authorization": f"Bearer {token}"}) as program:
        assert (await program.get("/leaders")).status_code == 200
        refused = await program.post("/rounds/r-1/cancel")
        assert refused.status_code == 403 and "needs manager" in refused.json()["detail"]
        assert (await registry.delete(f"/api-tokens/{made.json()['id']}")).status_code == 200
        revoked = await program.get("/leaders")
        assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]
        assert "www-authenticate" not in revoked.headers
    async with caller(registry, headers={"Authorization": "Bearer pairing_made-up"}) as forger:
        assert (await forger.get("/leaders")).status_code == 401


async def test_an_admin_makes_lists_and_revokes_a_token_in_the_pages(registry):
    async with caller(registry) as browser:
        assert (await sign_in_on_the_page(browser, *ADMIN)).status_code == 303
        empty = await browser.get("/manage/tokens")
        form_token = re.search(r'name="csrf_token" value="([^"]+)"', empty.text).group(1)
        unnamed = await browser.post("/manage/tokens", data={"csrf_token": form_token, "name": " ", "role": "viewer"})
        assert unnamed.status_code == 400 and "nhsuk-error-summary" in unnamed.text
        made = await browser.post("/manage/tokens", data={"csrf_token": form_token, "name": "weekly export", "role": "viewer"})
        assert made.status_code == 200 and "Copy this token now" in made.text
        token = re.search(r'<code id="new-token">([^<]+)</code>', made.text).group(1)
        listed = (await browser.get("/manage/tokens")).text
        assert "weekly export" in listed and token not in listed, "listed by name, the token itself shown only once"
        async with caller(registry, headers={"Authorization": f"Bearer {token}"}) as program:
            assert (await program.get("/leaders")).status_code == 200
            (token_id,) = re.findall(r'action="/manage/tokens/(\d+)/revoke"', listed)
            revoked = await browser.post(f"/manage/tokens/{token_id}/revoke", data={"csrf_token": form_token})
            assert revoked.status_code == 303
            assert "Revoked" in (await browser.get("/manage/tokens")).text
            assert (await program.get("/leaders")).status_code == 401


async def test_a_name_is_needed_for_a_token(registry):
    answer = await registry.post("/api-tokens", json={"name": "  ", "role": "manager"})
    assert answer.status_code == 422 and "name" in answer.text


async def test_a_change_from_another_website_is_refused_whatever_it_carries(registry):
    for headers in ({"Origin": "http://127.0.0.1:9999"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}):
        answer = await registry.post("/rounds/r-none/cancel", headers=headers)  # with the admin's Basic login
        assert answer.status_code == 403 and "another website" in answer.json()["detail"], headers
    # The registry's own pages, and programs (no Origin at all), are not affected.
    same = await registry.post("/rounds/r-none/cancel", headers={"Origin": "http://registry", "Sec-Fetch-Site": "same-origin"})
    assert same.status_code == 404


async def test_the_session_cookie_changes_nothing_without_its_form_token(registry):
    async with caller(registry) as browser:
        assert (await sign_in_on_the_page(browser, *ADMIN)).status_code == 303
        assert (await browser.get("/leaders")).status_code == 200  # reading with the cookie is fine
        bare = await browser.post("/rounds/r-none/cancel")
        assert bare.status_code == 403 and "form token" in bare.json()["detail"]
        with_password = await browser.post("/rounds/r-none/cancel", auth=ADMIN)
        assert with_password.status_code == 403
        form_token = re.search(r'name="csrf_token" value="([^"]+)"', (await browser.get("/manage/users")).text).group(1)
        assert (await browser.post("/rounds/r-none/cancel", headers={"X-CSRF-Token": form_token})).status_code == 404


async def test_wrong_passwords_on_the_page_lock_basic_too(registry):
    async with caller(registry, "192.0.2.21") as browser:
        for _ in range(auth.MAX_FAILED_SIGN_INS):
            assert (await sign_in_on_the_page(browser, OTHER[0], "not the password")).status_code == 400
    async with caller(registry, "192.0.2.22", auth=OTHER) as program:
        locked = await program.get("/leaders")
    assert locked.status_code == 401 and f"wait {auth.LOCK_MINUTES} minutes" in locked.json()["detail"]


async def test_wrong_passwords_by_basic_lock_the_page_too(registry):
    async with caller(registry, "192.0.2.31", auth=(OTHER[0], "not the password")) as program:
        for _ in range(auth.MAX_FAILED_SIGN_INS):
            assert (await program.get("/leaders")).status_code == 401
    async with caller(registry, "192.0.2.32") as browser:
        page = await sign_in_on_the_page(browser, *OTHER)
    assert page.status_code == 400 and "wait" in page.text


async def test_a_program_that_signed_in_before_the_lock_is_locked_out_too(registry):
    async with caller(registry, "192.0.2.41", auth=OTHER) as program:
        assert (await program.get("/leaders")).status_code == 200  # its login is now remembered for a while
        async with caller(registry, "192.0.2.42") as browser:
            for _ in range(auth.MAX_FAILED_SIGN_INS):
                await sign_in_on_the_page(browser, OTHER[0], "not the password")
        assert (await program.get("/leaders")).status_code == 401


async def test_one_address_guessing_many_accounts_is_stopped_before_any_password_is_checked(registry, monkeypatch):
    async with caller(registry, "192.0.2.51") as guesser:
        for n in range(auth.MAX_FAILED_PER_ADDRESS):
            answer = await guesser.get("/leaders", auth=(f"nobody{n}@test.example", "a guess at it"))
            assert answer.status_code == 401
        checked: list[int] = []
        real = passwords._verify_now
        monkeypatch.setattr(passwords, "_verify_now", lambda *a: checked.append(1) or real(*a))
        refused = await guesser.get("/leaders", auth=OTHER)  # even the right password, from this address
        assert refused.status_code == 401 and "wait" in refused.json()["detail"] and checked == []
    async with caller(registry, "192.0.2.52", auth=OTHER) as elsewhere:
        assert (await elsewhere.get("/leaders")).status_code == 200


async def test_passwords_are_checked_off_the_event_loop(registry, monkeypatch):
    threads: list[int] = []

    def recording(real):
        def checked(*args):
            threads.append(threading.get_ident())
            return real(*args)

        return checked

    # A known email's password, and the same work for an email nobody has.
    monkeypatch.setattr(passwords, "_verify_now", recording(passwords._verify_now))
    monkeypatch.setattr(passwords, "_check_unknown", recording(passwords._check_unknown))
    async with caller(registry, "192.0.2.61", auth=("unknown@test.example", "a guess at it")) as guesser:
        assert (await guesser.get("/leaders")).status_code == 401
    async with caller(registry, "192.0.2.62", auth=(OTHER[0], "not their password")) as guesser:
        assert (await guesser.get("/leaders")).status_code == 401
    assert len(threads) == 2 and threading.get_ident() not in threads
