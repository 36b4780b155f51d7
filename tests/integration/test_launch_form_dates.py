"""The launch form's sessions and school holidays in day, month and year boxes (the GOV.UK date
pattern), on the real pages and a real database: a row added without JavaScript, errors naming the
box to fix, and the dates on the page that checks the round before it is launched."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from tests.integration.conftest import ADMIN

pytestmark = pytest.mark.integration


def token_in(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def launch_form(token: str, **fields: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "who": "all",
        "min_shared_hours_per_week": "1",
        "allow_cross_system_remote": "yes",
        "time_limit_seconds": "10",
        "weight_topics": "4",
        "weight_travel": "2",
        "weight_experience": "2",
        "weight_organisation": "1",
        **fields,
    }


async def test_sessions_and_holidays_are_given_in_date_boxes(registry):
    ident = f"df-{uuid.uuid4().hex[:6]}"
    person = {"id": ident, "name": "Dana Dates", "role": "patient_leader", "email": f"{ident}@example.org", "system": "QWO"}
    assert (await registry.post("/leaders", json={**person, "meeting_modes": ["video"]})).status_code == 201
    app = registry._transport.app
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://registry") as browser:
        token = token_in((await browser.get("/sign-in")).text)
        await browser.post("/sign-in", data={"csrf_token": token, "email": ADMIN[0], "password": ADMIN[1]})
        form = (await browser.get("/manage/rounds/new")).text
        token = token_in(form)
        assert 'id="session_0_day"' in form and 'id="holiday_0_from_day"' in form and 'type="date"' not in form

        # "Add another session" posts the form back with one more row, keeping what was typed.
        more = await browser.post(
            "/manage/rounds/new", data=launch_form(token, session_0_day="2", session_rows="1", add="session")
        )
        assert more.status_code == 200 and 'id="session_1_day"' in more.text
        assert re.search(r'id="session_0_day" name="session_0_day" type="text" inputmode="numeric" value="2"', more.text)
        assert "There is a problem" not in more.text

        bad = await browser.post(
            "/manage/rounds/new",
            data=launch_form(
                token,
                session_rows="2",
                session_0_day="2",
                session_0_year="2027",
                session_0_from="10:00",
                session_0_to="12:00",
                holiday_rows="1",
                holiday_0_from_day="31",
                holiday_0_from_month="4",
                holiday_0_from_year="2027",
                holiday_0_to_day="2",
                holiday_0_to_month="5",
                holiday_0_to_year="2027",
            ),
        )
        assert bad.status_code == 400
        summary = bad.text.split('class="nhsuk-error-summary"')[1].split("</ul>")[0]
        assert '<a href="#session_0_month">The date of session 1 must include a month</a>' in summary
        assert (
            'href="#holiday_0_from_day">The first day of school holiday 1 must be a real date: April 2027 has no day 31'
            in summary
        )
        assert summary.index("session_0_month") < summary.index("holiday_0_from_day"), "in the order of the page"
        assert 'id="session_0_month" name="session_0_month"' in bad.text
        marked = re.findall(r'nhsuk-input--error" id="([a-z0-9_]+)"', bad.text)
        assert marked == ["session_0_month", "holiday_0_from_day"], "only the boxes to fix are marked"

        good = await browser.post(
            "/manage/rounds/new",
            data=launch_form(
                token,
                name=f"Dates {ident}",
                session_rows="1",
                session_0_day="2",
                session_0_month="3",
                session_0_year="2027",
                session_0_from="10:00",
                session_0_to="12:00",
                session_0_place="Room 2, Civic Centre, Leeds",
                holiday_rows="1",
                holiday_0_from_day="15",
                holiday_0_from_month="2",
                holiday_0_from_year="2027",
                holiday_0_to_day="19",
                holiday_0_to_month="2",
                holiday_0_to_year="2027",
            ),
        )
        assert good.status_code == 200 and "Check the round before you launch it" in good.text
        assert "2 March 2027, 10:00 to 12:00, Room 2, Civic Centre, Leeds" in good.text
        assert "15 February 2027 to 19 February 2027" in good.text
        # The confirmation page carries the boxes, so "Change the details" shows them again.
        assert 'name="session_0_month" value="3"' in good.text and 'name="holiday_0_to_day" value="19"' in good.text
