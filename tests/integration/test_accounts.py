"""Accounts on the real registry (database and broker, its pages and API through HTTP): an admin
deactivates, reactivates and changes the role of people who sign in, never leaving no active admin;
people change their own password; an admin's single-use link to choose a new one; sessions that end
when unused; and the second factor (time-based one-time codes) for managers and admins."""

from __future__ import annotations

import datetime as dt
import re

import httpx
import pyotp
import pytest
from sqlalchemy import select, update

from services.common.crypto import new_key
from services.common.store import utc_now
from services.registry.adapters.orm import ApiTokenRow, AuditRow, ManagerRow, ManagerSessionRow, PasswordResetRow
from services.registry.web import auth
from tests.integration.conftest import ADMIN, running_registry

pytestmark = pytest.mark.integration

OTHER = ("other.admin@test.example", "another long password")
VIEWER = ("viewer@test.example", "a viewer's long password")


async def add_person(registry, email: str, password: str, role: str) -> int:
    async with registry.store.unit_of_work() as uow:
        row = ManagerRow(
            email=email,
            name=email.split("@")[0].replace(".", " ").title(),
            role=role,
            password_hash=auth.hash_password(password),
            active=True,
            failed_sign_ins=0,
        )
        uow.session.add(row)
        await uow.session.flush()
        person_id = row.id
        await uow.commit()
    return person_id


@pytest.fixture
async def registry(database_url, kafka_settings):
    auth.forget_cached_passwords()
    async with running_registry(database_url, kafka_settings) as client:
        client.other_id = await add_person(client, *OTHER, "admin")
        yield client


def caller(registry: httpx.AsyncClient, **options) -> httpx.AsyncClient:
    """Another client of the same running registry, with its own cookies."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=registry._transport.app), base_url="http://registry", **options)


async def with_token(registry: httpx.AsyncClient, bearer: dict, path: str) -> httpx.Response:
    async with caller(registry, headers=bearer) as program:
        return await program.get(path)


def form_token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


async def sign_in(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    token = form_token((await http.get("/sign-in")).text)
    return await http.post("/sign-in", data={"csrf_token": token, "email": email, "password": password, "next": "/manage"})


async def post_form(http: httpx.AsyncClient, path: str, data: dict | None = None, page: str = "/manage") -> httpx.Response:
    token = form_token((await http.get(page)).text)
    return await http.post(path, data={"csrf_token": token, **(data or {})})


async def audit_actions(registry) -> list[tuple[str, str, str]]:
    async with registry.store.unit_of_work() as uow:
        rows = (await uow.session.scalars(select(AuditRow).where(AuditRow.leader_id.is_(None)).order_by(AuditRow.id))).all()
        return [(r.actor, r.action, r.purpose) for r in rows]


# ---- 1. deactivate, reactivate, change role ----


async def test_deactivating_someone_stops_their_session_password_and_tokens_at_once(registry):
    async with caller(registry) as admin, caller(registry) as them, caller(registry, auth=OTHER) as script:
        assert (await sign_in(admin, *ADMIN)).status_code == 303
        assert (await sign_in(them, *OTHER)).status_code == 303
        made = await script.post("/api-tokens", json={"name": "their nightly report", "role": "viewer"})
        assert made.status_code == 201
        bearer = {"Authorization": f"Bearer {made.json()['token']}"}
        assert (await them.get("/manage")).status_code == 200 and (await script.get("/leaders")).status_code == 200
        assert (await with_token(registry, bearer, "/leaders")).status_code == 200

        done = await post_form(admin, f"/manage/users/{registry.other_id}/deactivate", page=f"/manage/users/{registry.other_id}")
        assert done.status_code == 303 and "can+no+longer+sign+in" in done.headers["location"]

        assert (await them.get("/manage")).headers["location"].startswith("/sign-in")
        assert (await script.get("/leaders")).status_code == 401  # Basic, though its login was remembered
        refused = await with_token(registry, bearer, "/leaders")
        assert refused.status_code == 401 and "can no longer sign in" in refused.json()["detail"]
        assert (await sign_in(them, *OTHER)).status_code == 400
        listed = (await admin.get("/manage/users")).text
        assert "No: deactivated" in listed

        again = await post_form(admin, f"/manage/users/{registry.other_id}/reactivate", page=f"/manage/users/{registry.other_id}")
        assert again.status_code == 303
        assert (await script.get("/leaders")).status_code == 200
        assert (await with_token(registry, bearer, "/leaders")).status_code == 200
    actions = [(actor, action) for actor, action, _ in await audit_actions(registry)]
    assert (ADMIN[0], "deactivated a person who signs in") in actions
    assert (ADMIN[0], "reactivated a person who signs in") in actions


async def test_a_new_role_ends_their_sessions_and_limits_the_tokens_they_made(registry):
    async with caller(registry) as admin, caller(registry) as them, caller(registry, auth=OTHER) as script:
        await sign_in(admin, *ADMIN)
        await sign_in(them, *OTHER)
        made = await script.post("/api-tokens", json={"name": "their admin script", "role": "admin"})
        bearer = {"Authorization": f"Bearer {made.json()['token']}"}
        assert (await with_token(registry, bearer, "/api-tokens")).status_code == 200

        changed = await post_form(
            admin, f"/manage/users/{registry.other_id}/role", {"role": "viewer"}, f"/manage/users/{registry.other_id}"
        )
        assert changed.status_code == 303 and "is+now+a+viewer" in changed.headers["location"]
        assert (await them.get("/manage")).headers["location"].startswith("/sign-in")  # signed out
        assert (await script.get("/api-tokens")).status_code == 403  # Basic: now a viewer
        # The admin token they made does no more than its maker may do now.
        assert (await with_token(registry, bearer, "/api-tokens")).status_code == 403
        assert (await with_token(registry, bearer, "/leaders")).status_code == 200
    audit = await audit_actions(registry)
    assert (ADMIN[0], "changed the role of a person who signs in", f"{OTHER[0]}: from admin to viewer") in audit


async def test_the_last_active_admin_can_be_neither_deactivated_nor_demoted(registry):
    async with caller(registry) as admin:
        await sign_in(admin, *ADMIN)
        # Two admins: the other one can go.
        assert (
            await post_form(admin, f"/manage/users/{registry.other_id}/role", {"role": "manager"}, "/manage/users")
        ).status_code == 303
        async with registry.store.unit_of_work() as uow:
            me = (await uow.session.scalar(select(ManagerRow).where(ManagerRow.email == ADMIN[0]))).id
        for path, data in ((f"/manage/users/{me}/deactivate", {}), (f"/manage/users/{me}/role", {"role": "manager"})):
            refused = await post_form(admin, path, data, "/manage/users")
            assert refused.status_code == 400, path
            assert "is the only active admin" in refused.text and "Make someone else an admin first" in refused.text
        assert (await admin.get("/manage/users")).status_code == 200  # still signed in, still an admin
        # Deactivated admins do not count: with the other one back as an admin but deactivated, still refused.
        await post_form(admin, f"/manage/users/{registry.other_id}/role", {"role": "admin"}, "/manage/users")
        await post_form(admin, f"/manage/users/{registry.other_id}/deactivate", page="/manage/users")
        assert (await post_form(admin, f"/manage/users/{me}/deactivate", page="/manage/users")).status_code == 400


async def test_only_admins_manage_people(registry):
    await add_person(registry, *VIEWER, "manager")
    async with caller(registry) as manager:
        await sign_in(manager, *VIEWER)
        assert (await manager.get(f"/manage/users/{registry.other_id}")).status_code == 403
        answer = await post_form(manager, f"/manage/users/{registry.other_id}/deactivate")
        assert answer.status_code == 403
    async with registry.store.unit_of_work() as uow:
        assert (await uow.session.get(ManagerRow, registry.other_id)).active


# ---- 2. passwords ----


async def test_changing_your_own_password_signs_you_out_everywhere_else(registry):
    async with caller(registry) as here, caller(registry) as elsewhere:
        await sign_in(here, *OTHER)
        await sign_in(elsewhere, *OTHER)

        async def change(current: str, new: str, again: str) -> httpx.Response:
            return await post_form(
                here,
                "/manage/account/password",
                {"current_password": current, "new_password": new, "new_password_again": again},
                "/manage/account",
            )

        wrong = await change("not my password", "a brand new password", "a brand new password")
        assert wrong.status_code == 400 and "Your current password is not right" in wrong.text
        assert "12 characters or more" in (await change(OTHER[1], "too short", "too short")).text
        assert "must not be your email address" in (await change(OTHER[1], OTHER[0].upper(), OTHER[0].upper())).text
        assert "are not the same" in (await change(OTHER[1], "a brand new password", "a brand new passwork")).text

        done = await change(OTHER[1], "a brand new password", "a brand new password")
        assert done.status_code == 303 and "signed+out+everywhere+else" in done.headers["location"]
        assert (await here.get("/manage")).status_code == 200
        assert (await elsewhere.get("/manage")).headers["location"].startswith("/sign-in")
    auth.forget_cached_passwords()
    async with caller(registry, auth=OTHER) as old, caller(registry, auth=(OTHER[0], "a brand new password")) as new:
        assert (await old.get("/leaders")).status_code == 401
        assert (await new.get("/leaders")).status_code == 200
    assert (OTHER[0], "changed their own password", OTHER[0]) in await audit_actions(registry)


async def test_an_admin_link_to_choose_a_new_password_works_once(registry):
    async with caller(registry) as admin, caller(registry) as them, caller(registry) as visitor:
        await sign_in(admin, *ADMIN)
        await sign_in(them, *OTHER)
        page = await post_form(admin, f"/manage/users/{registry.other_id}/reset-link", page=f"/manage/users/{registry.other_id}")
        assert page.status_code == 200 and "This is the only time it is shown" in page.text
        link = re.search(r'<code id="reset-link">([^<]+)</code>', page.text).group(1)
        code = link.rsplit("/", 1)[1]
        assert link.startswith("http://127.0.0.1:8000/reset-password/") and len(code) >= 40
        async with registry.store.unit_of_work() as uow:
            stored = (await uow.session.scalars(select(PasswordResetRow))).one()
        assert stored.digest != code and code not in repr(stored.__dict__)
        assert aware(stored.expires_at) - utc_now() > dt.timedelta(hours=23, minutes=59)

        path = f"/reset-password/{code}"
        assert "Choose a new password" in (await visitor.get(path)).text
        short = await visitor.post(path, data={"new_password": "short", "new_password_again": "short"})
        assert short.status_code == 400 and "12 characters or more" in short.text
        chosen = await visitor.post(path, data={"new_password": "chosen from a link", "new_password_again": "chosen from a link"})
        assert chosen.status_code == 303 and "password_chosen" in chosen.headers["location"]
        assert (await them.get("/manage")).headers["location"].startswith("/sign-in")  # their old session ended

        used = await visitor.post(
            path, data={"new_password": "chosen a second time", "new_password_again": "chosen a second time"}
        )
        assert used.status_code == 404 and "This link no longer works" in used.text
        assert (await sign_in(them, OTHER[0], "chosen from a link")).status_code == 303
    actions = [action for _, action, _ in await audit_actions(registry)]
    assert "made a link to choose a new password" in actions and "chose a new password with a link" in actions


async def test_a_link_to_choose_a_password_expires_after_24_hours(registry):
    async with caller(registry) as admin, caller(registry) as visitor:
        await sign_in(admin, *ADMIN)
        page = await post_form(admin, f"/manage/users/{registry.other_id}/reset-link", page=f"/manage/users/{registry.other_id}")
        code = re.search(r'<code id="reset-link">[^<]+/([^/<]+)</code>', page.text).group(1)
        async with registry.store.unit_of_work() as uow:
            await uow.session.execute(update(PasswordResetRow).values(expires_at=utc_now() - dt.timedelta(seconds=1)))
            await uow.commit()
        late = await visitor.post(
            f"/reset-password/{code}", data={"new_password": "too late for this", "new_password_again": "too late for this"}
        )
        assert late.status_code == 404 and "Ask an admin of your programme for a new link" in late.text
    auth.forget_cached_passwords()
    async with caller(registry, auth=OTHER) as unchanged:
        assert (await unchanged.get("/leaders")).status_code == 200


def aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


# ---- 3. idle timeout ----


async def test_a_session_unused_for_30_minutes_ends_and_the_sign_in_page_says_why(registry):
    async with caller(registry) as left, caller(registry) as busy:
        await sign_in(left, *OTHER)
        await sign_in(busy, *OTHER)
        async with registry.store.unit_of_work() as uow:
            sessions = (await uow.session.scalars(select(ManagerSessionRow).order_by(ManagerSessionRow.created_at))).all()
            assert len(sessions) == 2
            sessions[0].last_used_at = utc_now() - dt.timedelta(minutes=31)  # the first browser, left alone
            sessions[1].last_used_at = utc_now() - dt.timedelta(minutes=29)
            await uow.commit()
        answer = await left.get("/manage/leaders")
        assert answer.status_code == 303 and "idle=1" in answer.headers["location"]
        page = await left.get(answer.headers["location"])
        assert "You were signed out because you had not used these pages for 30 minutes" in page.text
        assert (await left.get("/leaders")).status_code == 401  # the API does not take it either
        assert (await busy.get("/manage/leaders")).status_code == 200
        async with registry.store.unit_of_work() as uow:
            assert len((await uow.session.scalars(select(ManagerSessionRow))).all()) == 1


async def test_the_idle_limit_is_a_setting(database_url, kafka_settings):
    async with running_registry(database_url, kafka_settings, session_idle_minutes=5) as registry, caller(registry) as browser:
        await sign_in(browser, *ADMIN)
        async with registry.store.unit_of_work() as uow:
            await uow.session.execute(update(ManagerSessionRow).values(last_used_at=utc_now() - dt.timedelta(minutes=6)))
            await uow.commit()
        answer = await browser.get("/manage", follow_redirects=True)
        assert "had not used these pages for 5 minutes" in answer.text


# ---- 4. the second factor ----


def code_for(secret: str, steps_ahead: int = 0) -> str:
    totp = pyotp.TOTP(secret.replace(" ", ""))
    return totp.generate_otp(totp.timecode(dt.datetime.now(dt.UTC)) + steps_ahead)


@pytest.fixture
async def guarded(database_url, kafka_settings):
    """A registry where managers and admins need the second factor on the pages."""
    auth.forget_cached_passwords()
    async with running_registry(database_url, kafka_settings, require_second_factor=True) as client:
        client.other_id = await add_person(client, *OTHER, "admin")
        await add_person(client, *VIEWER, "viewer")
        yield client


async def test_an_admin_sets_up_a_second_factor_then_needs_a_code_each_time(guarded):
    async with caller(guarded) as browser:
        first = await sign_in(browser, *OTHER)
        assert first.status_code == 303 and first.headers["location"].startswith("/sign-in/set-up")
        # Half signed in: no page and no API call is open yet.
        assert (await browser.get("/manage")).headers["location"].startswith("/sign-in")
        assert (await browser.get("/leaders")).status_code == 401
        set_up = await browser.get(first.headers["location"])
        secret = re.search(r'<code id="secret">([A-Z2-7 ]+)</code>', set_up.text).group(1)
        assert re.fullmatch(r"([A-Z2-7]{4} )+[A-Z2-7]{4}", secret)  # in groups of four
        assert 'src="data:image/svg+xml' in set_up.text
        async with guarded.store.unit_of_work() as uow:
            row = await uow.session.get(ManagerRow, guarded.other_id)
        assert secret.replace(" ", "").encode() not in row.sealed_second_factor  # encrypted at rest

        token = form_token(set_up.text)
        wrong = await browser.post(
            "/sign-in/set-up",
            data={"csrf_token": token, "code": "000000" if code_for(secret) != "000000" else "111111", "next": "/manage"},
        )
        assert wrong.status_code == 400 and "The code is not right" in wrong.text
        letters = await browser.post("/sign-in/set-up", data={"csrf_token": token, "code": "12ab56", "next": "/manage"})
        assert letters.status_code == 400 and "must be 6 digits" in letters.text
        used_code = code_for(secret)
        done = await browser.post("/sign-in/set-up", data={"csrf_token": token, "code": used_code, "next": "/manage/leaders"})
        assert done.status_code == 303 and done.headers["location"] == "/manage/leaders"
        assert (await browser.get("/manage/leaders")).status_code == 200

    async with caller(guarded) as again:
        second = await sign_in(again, *OTHER)
        assert second.headers["location"].startswith("/sign-in/code")
        page = await again.get(second.headers["location"])
        assert "Enter the code from your authenticator app" in page.text and "<code" not in page.text
        token = form_token(page.text)
        reused = await again.post("/sign-in/code", data={"csrf_token": token, "code": used_code, "next": "/manage"})
        assert reused.status_code == 400 and "used already" in reused.text
        fresh = await again.post("/sign-in/code", data={"csrf_token": token, "code": code_for(secret, 1), "next": "/manage"})
        assert fresh.status_code == 303 and (await again.get("/manage")).status_code == 200


async def test_a_viewer_signs_in_with_a_password_alone(guarded):
    async with caller(guarded) as browser:
        answer = await sign_in(browser, *VIEWER)
        assert answer.status_code == 303 and answer.headers["location"] == "/manage"


async def test_wrong_codes_lock_the_account_like_wrong_passwords(guarded):
    async with caller(guarded) as browser:
        await browser.get((await sign_in(browser, *OTHER)).headers["location"])
        page = await browser.get("/sign-in/set-up")
        secret = re.search(r'<code id="secret">([A-Z2-7 ]+)</code>', page.text).group(1)
        token = form_token(page.text)
        await browser.post("/sign-in/set-up", data={"csrf_token": token, "code": code_for(secret), "next": "/manage"})
    async with caller(guarded) as guesser:
        page = await guesser.get((await sign_in(guesser, *OTHER)).headers["location"])
        token = form_token(page.text)
        right = {code_for(secret, n) for n in (-1, 0, 1, 2)}
        guesses = (c for c in (f"{n:06d}" for n in range(1000)) if c not in right)
        for _ in range(auth.MAX_FAILED_SIGN_INS):
            await guesser.post("/sign-in/code", data={"csrf_token": token, "code": next(guesses), "next": "/manage"})
        locked = await guesser.post("/sign-in/code", data={"csrf_token": token, "code": code_for(secret, 1), "next": "/manage"})
        assert locked.status_code == 400 and f"wait {auth.LOCK_MINUTES} minutes" in locked.text


async def test_an_admin_removes_a_lost_second_factor(guarded):
    async with caller(guarded) as them:
        await them.get((await sign_in(them, *OTHER)).headers["location"])
        page = await them.get("/sign-in/set-up")
        secret = re.search(r'<code id="secret">([A-Z2-7 ]+)</code>', page.text).group(1)
        await them.post(
            "/sign-in/set-up", data={"csrf_token": form_token(page.text), "code": code_for(secret), "next": "/manage"}
        )
        assert (await them.get("/manage/account")).status_code == 200
        # The first admin (from settings) signs in and sets up their own second factor too.
        async with caller(guarded) as admin:
            await admin.get((await sign_in(admin, *ADMIN)).headers["location"])
            set_up = await admin.get("/sign-in/set-up")
            admin_secret = re.search(r'<code id="secret">([A-Z2-7 ]+)</code>', set_up.text).group(1)
            await admin.post(
                "/sign-in/set-up", data={"csrf_token": form_token(set_up.text), "code": code_for(admin_secret), "next": "/manage"}
            )
            removed = await post_form(
                admin, f"/manage/users/{guarded.other_id}/remove-second-factor", page=f"/manage/users/{guarded.other_id}"
            )
            assert removed.status_code == 303
        assert (await them.get("/manage")).headers["location"].startswith("/sign-in")
        assert (await sign_in(them, *OTHER)).headers["location"].startswith("/sign-in/set-up")
        new_secret = re.search(r'<code id="secret">([A-Z2-7 ]+)</code>', (await them.get("/sign-in/set-up")).text).group(1)
        assert new_secret != secret


async def test_a_password_alone_does_not_open_the_api_for_someone_who_needs_a_second_factor(guarded):
    async with caller(guarded, auth=OTHER) as program:  # an admin's email address and password, by HTTP Basic
        refused = await program.get("/leaders")
    assert refused.status_code == 401 and "www-authenticate" not in refused.headers
    assert "API token" in refused.json()["detail"] and "/manage/tokens" in refused.json()["detail"]
    async with caller(guarded, auth=(OTHER[0], "not the password")) as guesser:
        wrong = await guesser.get("/leaders")
    assert wrong.status_code == 401 and "/manage/tokens" not in wrong.json()["detail"], "a wrong password learns nothing more"
    async with caller(guarded, auth=VIEWER) as viewer:
        assert (await viewer.get("/leaders")).status_code == 200, "a viewer has no second factor to skip"
    made = await auth.create_token(guarded._transport.app.state.registry, "their report", "admin", OTHER[0])
    async with caller(guarded, headers={"Authorization": f"Bearer {made.token}"}) as program:
        assert (await program.get("/leaders")).status_code == 200, "programs use a token instead"


# ---- the first admin from settings ----


async def test_the_first_admin_keeps_a_changed_password_until_the_setting_changes(database_url, kafka_settings):
    key = new_key()
    async with running_registry(database_url, kafka_settings, encryption_keys=key) as registry, caller(registry) as browser:
        await sign_in(browser, *ADMIN)
        changed = await post_form(
            browser,
            "/manage/account/password",
            {
                "current_password": ADMIN[1],
                "new_password": "the admin's own choice",
                "new_password_again": "the admin's own choice",
            },
            "/manage/account",
        )
        assert changed.status_code == 303
    auth.forget_cached_passwords()
    async with (
        running_registry(database_url, kafka_settings, encryption_keys=key) as registry,
        caller(registry) as browser,
    ):  # restarted, same settings
        assert (await sign_in(browser, *ADMIN)).status_code == 400
        assert (await sign_in(browser, ADMIN[0], "the admin's own choice")).status_code == 303
    async with (
        running_registry(
            database_url, kafka_settings, encryption_keys=key, admin_password="a new setting to get back in"
        ) as registry,
        caller(registry) as browser,
    ):
        assert (await sign_in(browser, ADMIN[0], "a new setting to get back in")).status_code == 303


async def test_the_first_admins_token_from_the_settings_opens_the_api_until_the_setting_changes(database_url, kafka_settings):
    key, first, second = new_key(), f"pairing_{'a' * 40}", f"pairing_{'b' * 40}"
    settings = {"encryption_keys": key, "require_second_factor": True}
    async with (
        running_registry(database_url, kafka_settings, admin_api_token=first, **settings) as registry,
        caller(registry, headers={"Authorization": f"Bearer {first}"}) as program,
    ):
        made = await program.post("/api-tokens", json={"name": "nightly report", "role": "viewer"})
        assert made.status_code == 201, "it signs in as the first admin"
    async with running_registry(database_url, kafka_settings, admin_api_token=second, **settings) as registry:
        async with caller(registry, headers={"Authorization": f"Bearer {first}"}) as old:
            assert (await old.get("/leaders")).status_code == 401, "the setting changed: the old token stops working"
        async with caller(registry, headers={"Authorization": f"Bearer {second}"}) as new:
            assert (await new.get("/leaders")).status_code == 200
    async with registry.store.unit_of_work() as uow:
        digests = (await uow.session.scalars(select(ApiTokenRow.digest))).all()
    assert first not in str(digests) and second not in str(digests), "kept as digests only"
