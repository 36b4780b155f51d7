"""The web pages, used as people use them: in Chromium, with the keyboard only,
against the three services, the real broker and a real SMTP server.

One manager journey from importing a spreadsheet to publishing a round, two
leaders answering from the links in their messages on a small phone screen, a
viewer who must not see access needs, and the same pages without JavaScript.
Every page visited is checked with axe-core (WCAG 2.2 AA) and saved as a
screenshot under test-artifacts/browser/.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import time
import uuid

import httpx
import pytest

from services.registry.sample import sample_leaders
from tests.browser.conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    ROOT,
    activate,
    choose_option,
    choose_radio,
    links_in,
    tab_to,
    tick,
    type_area,
    type_into,
)
from tests.browser.signing_in import http_sign_in, readme_shot, sign_in

pytestmark = pytest.mark.e2e

RUN = uuid.uuid4().hex[:5]
COLUMNS = [
    "id",
    "name",
    "role",
    "email",
    "system",
    "organisation",
    "latitude",
    "longitude",
    "max_travel_km",
    "meeting_modes",
    "availability",
    "term_time_only",
    "min_notice_days",
    "access_needs",
    "topics",
    "experience",
    "capacity",
    "release_confirmed",
    "information_format",
]


def cohort() -> list[dict]:
    """Sixteen made-up leaders who are told by email (so the test can read their messages)."""
    people = [p for p in sample_leaders()[:17] if p.get("contact_method", "email") == "email"][:16]
    for person in people:
        person["id"] = f"{person['id']}-{RUN}"
        person["email"] = f"{person['id']}@example.org"
    return people


def spreadsheet(people: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for p in people:
        writer.writerow(
            [
                p["id"],
                p["name"],
                p["role"],
                p["email"],
                p["system"],
                p.get("organisation", ""),
                p["location"]["lat"],
                p["location"]["lon"],
                p.get("max_travel_km") or "",
                "; ".join(p["meeting_modes"]),
                "; ".join(f"{w['day']} {w['start']}-{w['end']}" for w in p["availability"]),
                "yes" if p.get("term_time_only") else "no",
                p.get("min_notice_days", 0),
                "; ".join(p.get("access_needs", [])),
                "; ".join(p["topics"]),
                p["experience"],
                p.get("capacity", 1),
                {True: "yes", False: "no"}.get(p.get("release_confirmed"), ""),
                p.get("information_format", "standard"),
            ]
        )
    # Two rows with mistakes: they are reported, and every other row still lands.
    writer.writerow(
        [
            f"bad-1-{RUN}",
            "Nobody Real",
            "nurse",
            "x@example.org",
            "QHM",
            "",
            "",
            "",
            "",
            "video",
            "",
            "",
            "",
            "",
            "",
            "new",
            "",
            "",
            "",
        ]
    )
    writer.writerow(
        [
            f"bad-2-{RUN}",
            "Also Invented",
            "patient_leader",
            "y@example.org",
            "QHM",
            "",
            "",
            "",
            "",
            "video",
            "tuesday morning",
            "",
            "",
            "",
            "",
            "new",
            "",
            "",
            "",
        ]
    )
    return out.getvalue().encode()


def wait_for_heading(page, text: str, seconds: float = 90) -> None:
    page.get_by_role("heading", name=text).first.wait_for(timeout=seconds * 1000)


def test_a_manager_imports_launches_reviews_approves_and_publishes_and_leaders_answer(stack, browser, mail_sink, visit, tmp_path):
    base = stack.base_url
    people = cohort()
    upload = tmp_path / "leaders.csv"
    upload.write_bytes(spreadsheet(people))

    context = browser.new_context(viewport={"width": 1100, "height": 900}, accept_downloads=True)
    page = context.new_page()
    visit.watch(page)

    # ---- sign in: a wrong password first ----
    page.goto(f"{base}/manage")
    type_into(page, page.locator("#email"), ADMIN_EMAIL)
    type_into(page, page.locator("#password"), "not the password")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator(".nhsuk-error-summary").is_visible()
    assert "not right" in page.locator(".nhsuk-error-summary").inner_text()
    visit.check(page, "sign-in-error")
    sign_in(page, base, ADMIN_EMAIL, ADMIN_PASSWORD, visit)
    visit.check(page, "queue-empty")

    # ---- import a spreadsheet, with two rows that need changes ----
    activate(page, page.get_by_role("link", name="Import", exact=True))
    visit.check(page, "import")
    with page.expect_download() as download:
        activate(page, page.get_by_role("link", name="CSV template (.csv)"), navigates=False)
    assert download.value.suggested_filename == "leaders-template.csv"
    tab_to(page, page.locator("#file"))
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files(str(upload))
    activate(page, page.get_by_role("button", name="Import the file"))
    assert "some rows need changes" in page.locator("h1").inner_text()
    report = page.locator("main").inner_text()
    assert re.search(rf"New leaders added\s+{len(people)}", report), report
    assert "role" in report and "availability" in report and "should look like 'Tuesday 10:00 to 12:30'" in report
    visit.check(page, "import-report")

    # ---- find people: search and filter ----
    activate(page, page.get_by_role("link", name="See the leaders"))
    # Other tests in this folder share the registry and may have added people of their own.
    listed = re.search(r"(\d+) leaders", page.locator("main").inner_text())
    assert listed and int(listed.group(1)) >= len(people)
    first = people[0]
    type_into(page, page.locator("#q"), first["name"].split()[0])
    activate(page, page.get_by_role("button", name="Search"))
    rows = page.locator("tbody tr")
    assert rows.count() >= 1 and first["name"] in rows.first.inner_text()
    visit.check(page, "leaders-search")
    activate(page, page.get_by_role("link", name="Clear the search and filters"))
    tab_to(page, page.locator("#role"))
    page.keyboard.press("ArrowDown")  # Any role -> Patient leader
    activate(page, page.get_by_role("button", name="Search"))
    assert "role=patient_leader" in page.url
    roles = set(page.locator("tbody tr td:nth-child(2)").all_inner_texts())
    assert roles and all(r.startswith("Patient leader") for r in roles), roles
    visit.check(page, "leaders-filtered")

    # ---- add a leader: the error summary names each missing answer ----
    page.goto(f"{base}/manage/leaders")
    activate(page, page.get_by_role("button", name="Add a leader"))
    visit.check(page, "add-leader")
    type_into(page, page.locator("#system"), "Narnia and the Lantern Waste")  # not an area: typed, not chosen
    activate(page, page.get_by_role("button", name="Add leader"))
    summary = page.locator(".nhsuk-error-summary")
    assert summary.is_visible()
    problems = summary.locator("li").all_inner_texts()
    assert any("full name" in p for p in problems), problems
    assert any("role" in p.lower() for p in problems), problems
    assert any("we do not know a local health and care area called 'Narnia" in p for p in problems), problems
    assert page.locator("#system").input_value() == "Narnia and the Lantern Waste", "what was typed is kept"
    assert any("way they can meet" in p for p in problems), problems
    assert page.title().startswith("Error:")
    visit.check(page, "add-leader-errors")
    # The summary's links take the keyboard to the field.
    activate(page, summary.get_by_role("link").first, navigates=False)
    assert page.evaluate("document.activeElement.id") == "name"

    new_id = f"pl-added-{RUN}"
    type_into(page, page.locator("#id"), new_id)
    type_into(page, page.locator("#name"), "Morgan Example")
    choose_radio(page, "role", "patient_leader")
    type_area(page, "North East and North Cumbria")
    type_into(page, page.locator("#email"), f"{new_id}@example.org")
    type_into(page, page.locator("#town"), "Newcastle upon Tyne")
    type_into(page, page.locator("#max_travel_miles"), "15")
    tick(page, page.locator("#meeting_modes-2"))  # by video
    for row, day in enumerate(("Tuesday", "Thursday")):
        choose_option(page, page.locator(f"#time_{row}_day"), day)
        choose_option(page, page.locator(f"#time_{row}_from"), "10:00")
        choose_option(page, page.locator(f"#time_{row}_to"), "14:30")
    tick(page, page.locator("#access_needs"))  # step-free access
    activate(page, page.get_by_role("button", name="Add leader"))
    assert "Morgan Example's details are added" in page.locator(".nhsuk-notification-banner").inner_text()
    assert "Step-free access" in page.locator("main").inner_text()
    visit.check(page, "leader")

    activate(page, page.get_by_role("button", name="Change details"))
    visit.check(page, "edit-leader")
    type_into(page, page.locator("#pronouns"), "they/them")
    activate(page, page.get_by_role("button", name="Save changes"))
    assert "details are saved" in page.locator(".nhsuk-notification-banner").inner_text()
    assert "(they/them)" in page.locator("h1").inner_text()

    # ---- launch a round, with a confirmation page ----
    activate(page, page.get_by_role("link", name="Rounds", exact=True))
    visit.check(page, "rounds")
    activate(page, page.get_by_role("button", name="Launch a round"))
    visit.check(page, "launch")
    round_id = f"browser-{RUN}"
    session = dt.date.today() + dt.timedelta(days=21)  # enough notice for most, too little to book a sign language interpreter
    type_into(page, page.locator("#name"), f"Browser cohort {RUN}")
    type_into(page, page.locator("#round_id"), round_id)
    # The session's date in day, month and year boxes, its times from lists; the month forgotten first.
    type_into(page, page.locator("#session_0_day"), str(session.day))
    type_into(page, page.locator("#session_0_year"), str(session.year))
    choose_option(page, page.locator("#session_0_from"), "10:00")
    choose_option(page, page.locator("#session_0_to"), "15:00")
    activate(page, page.get_by_role("button", name="Continue"))
    assert "The date of session 1 must include a month" in page.locator(".nhsuk-error-summary").inner_text()
    visit.check(page, "launch-errors")
    activate(page, page.locator(".nhsuk-error-summary").get_by_role("link").first, navigates=False)
    assert page.evaluate("document.activeElement.id") == "session_0_month"
    page.keyboard.type(str(session.month))
    activate(page, page.get_by_role("button", name="Continue"))
    assert page.locator("h1").inner_text() == "Check the round before you launch it"
    confirm = page.locator("main").inner_text()
    assert f"{len(people) + 1} people" in confirm and f"{session.day} {session:%B %Y}, 10:00 to 15:00" in confirm
    visit.check(page, "launch-check")
    activate(page, page.get_by_role("button", name="Launch the round"))
    assert page.locator("h1").inner_text() == f"Browser cohort {RUN}"
    assert f"Reference: {round_id}" in page.locator("#round-reference").inner_text()
    visit.check(page, "round-queued")

    # The page follows the matcher by itself (a small poll), then shows the proposal.
    wait_for_heading(page, "Proposed pairs")
    cards = page.locator(".nhsuk-card h3")
    assert cards.count() >= 3
    assert page.locator("text=Why this pair").count() == cards.count()
    assert page.get_by_role("heading", name="People not paired").is_visible()
    assert "British Sign Language interpreter" in page.locator("main").inner_text()
    visit.check(page, "round-review")
    readme_shot(page, "review")

    # ---- keep one pair, and solve again ----
    kept = cards.first.inner_text().split(": ", 1)[1]
    activate(page, page.get_by_role("button", name="Keep this pair").first)
    assert "will be kept" in page.locator(".nhsuk-notification-banner").inner_text()
    assert kept in page.locator("main").inner_text()
    activate(page, page.get_by_role("button", name="Solve again"))
    wait_for_heading(page, "Proposed pairs")
    assert "Kept by a manager" in page.locator("main").inner_text()

    # ---- approve: every pair must be checked by a person ----
    activate(page, page.get_by_role("button", name="Approve every pair"))
    summary = page.locator(".nhsuk-error-summary")
    assert summary.is_visible()
    pairs = page.locator('input[name="checked"]')
    assert summary.locator("li").count() == pairs.count()
    visit.check(page, "round-approve-errors")
    for index in range(pairs.count()):
        tick(page, pairs.nth(index))
    activate(page, page.get_by_role("button", name="Approve every pair"))
    assert "approved every pair" in page.locator(".nhsuk-notification-banner").inner_text()
    assert "Alex Admin" in page.locator("main").inner_text()
    visit.check(page, "round-approved")

    # ---- publish, after a confirmation page ----
    activate(page, page.get_by_role("button", name="Publish and tell everyone"))
    visit.check(page, "publish-check")
    activate(page, page.get_by_role("button", name="Publish and tell everyone"))
    assert "The round is published" in page.locator(".nhsuk-notification-banner").inner_text()
    # The messages summary fills in as the notifier reports back.
    page.wait_for_function("() => /Sent: \\d+/.test(document.getElementById('deliveries-summary').textContent)", timeout=90_000)
    visit.check(page, "round-published")

    # ---- the queue monitor ----
    activate(page, page.get_by_role("link", name="Queue monitor"))
    monitor = page.locator("main").inner_text()
    assert "Who is not paired, and why" in monitor and "Sent" in monitor
    visit.check(page, "queue-monitor")
    readme_shot(page, "queue-monitor")

    # ---- two leaders answer from the links in their message, on a small phone with large text ----
    _, maildir = mail_sink
    pair_emails = []
    for row in httpx.get(f"{base}/rounds/{round_id}", headers={"Authorization": f"Bearer {stack.api_token}"}).json()["pairs"][:2]:
        pair_emails.append((f"{row['lived_experience_id']}@example.org", f"{row['professional_id']}@example.org"))
    deadline = dt.datetime.now() + dt.timedelta(seconds=60)
    while True:
        try:
            accept, _ = links_in(maildir, pair_emails[0][0])
            _, decline = links_in(maildir, pair_emails[1][1])
            break
        except AssertionError:
            if dt.datetime.now() > deadline:
                raise
            page.wait_for_timeout(500)
    phone = browser.new_context(viewport={"width": 320, "height": 640}, device_scale_factor=2, is_mobile=True, has_touch=True)
    leader_page = phone.new_page()
    visit.watch(leader_page)
    leader_page.goto(accept)
    # Large text: the page still fits the screen when the text is twice the size.
    leader_page.evaluate("document.documentElement.style.fontSize = '200%'")
    assert leader_page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    leader_page.evaluate("document.documentElement.style.fontSize = ''")
    assert leader_page.locator("h1").inner_text().startswith("Do you want to work with")
    assert leader_page.locator("#answer").is_checked()  # the link said yes
    visit.check(leader_page, "leader-answer")
    activate(leader_page, leader_page.get_by_role("button", name="Send my answer"))
    assert "you said yes" in leader_page.locator("h1").inner_text()
    visit.check(leader_page, "leader-said-yes")

    leader_page.goto(decline)
    assert leader_page.locator("#answer-2").is_checked()
    type_into(leader_page, leader_page.locator("#reason"), "I am moving away")
    activate(leader_page, leader_page.get_by_role("button", name="Send my answer"))
    assert "you said no" in leader_page.locator("h1").inner_text()
    visit.check(leader_page, "leader-said-no")

    # The same link cannot be used twice.
    leader_page.goto(decline)
    assert "already been recorded" in leader_page.locator("main").inner_text()
    visit.check(leader_page, "leader-already-answered")
    phone.close()

    # The manager sees both answers on the round page.
    page.goto(f"{base}/manage/rounds/{round_id}")
    text = page.locator("main").inner_text()
    assert "answered yes" in text and "answered no" in text
    assert "said no to working with" in text
    visit.check(page, "round-answers")

    # ---- someone answers on the phone: the manager opens the page to record it, from the round page ----
    activate(page, page.get_by_role("link", name="Record an answer given by phone, letter, text or in person"))
    assert page.locator("h1").inner_text() == "Record an answer"
    visit.check(page, "record-answer")
    activate(page, page.get_by_role("button", name="Record the answer"))
    assert "Select how the answer reached you" in page.locator(".nhsuk-error-summary").inner_text()
    visit.check(page, "record-answer-errors")
    page.goto(f"{base}/manage/rounds/{round_id}")

    # ---- the people whose partner said no are paired again ----
    activate(page, page.get_by_role("button", name="Pair these people again"))
    assert f"/manage/rounds/{round_id}-again-1" in page.url
    assert "whose partner said no" in page.locator("main").inner_text()
    wait_for_heading(page, "Proposed pairs")
    visit.check(page, "round-paired-again")

    # ---- the first round is finished: the manager closes it, after a confirmation page ----
    page.goto(f"{base}/manage/rounds/{round_id}")
    activate(page, page.get_by_role("link", name="Close this round"))
    visit.check(page, "round-close-check")
    activate(page, page.get_by_role("button", name="Close the round"))
    assert "The round is closed" in page.locator(".nhsuk-notification-banner").inner_text()
    assert "no longer answer" in page.locator("main").inner_text()
    assert page.get_by_role("link", name="Close this round").count() == 0
    visit.check(page, "round-closed")

    # ---- an admin adds a viewer ----
    activate(page, page.get_by_role("link", name="People who sign in"))
    visit.check(page, "users")
    type_into(page, page.locator("#name"), "Vic Viewer")
    type_into(page, page.locator("#email"), f"viewer-{RUN}@example.org")
    choose_radio(page, "role", "viewer")
    type_into(page, page.locator("#password"), "viewer password 123")
    activate(page, page.get_by_role("button", name="Add this person"))
    assert "Vic Viewer can now sign in as a viewer" in page.locator(".nhsuk-notification-banner").inner_text()

    # ---- sign out ----
    activate(page, page.get_by_role("button", name="Sign out"))
    assert "You have signed out" in page.locator("main").inner_text()
    context.close()


def test_a_viewer_sees_no_access_needs_and_cannot_change_anything(stack, browser, visit):
    base = stack.base_url
    context = browser.new_context()
    page = context.new_page()
    visit.watch(page)
    # An admin adds the viewer and a leader with access needs through the pages.
    sign_in(page, base, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto(f"{base}/manage/users")
    email = f"viewer2-{RUN}@example.org"
    type_into(page, page.locator("#name"), "Val Viewer")
    type_into(page, page.locator("#email"), email)
    choose_radio(page, "role", "viewer")
    type_into(page, page.locator("#password"), "viewer password 456")
    activate(page, page.get_by_role("button", name="Add this person"))
    leader_id = f"pl-needs-{RUN}"
    page.goto(f"{base}/manage/leaders/new")
    type_into(page, page.locator("#id"), leader_id)
    type_into(page, page.locator("#name"), "Robin Needs")
    choose_radio(page, "role", "carer_leader")
    type_area(page, "Humber and North Yorkshire")
    type_into(page, page.locator("#email"), f"{leader_id}@example.org")
    tick(page, page.locator("#meeting_modes-3"))  # by phone
    tick(page, page.locator("#access_needs-3"))  # British Sign Language interpreter
    activate(page, page.get_by_role("button", name="Add leader"))
    assert "British Sign Language interpreter" in page.locator("main").inner_text()
    activate(page, page.get_by_role("button", name="Sign out"))

    sign_in(page, base, email, "viewer password 456", visit)
    page.goto(f"{base}/manage/leaders/{leader_id}")
    text = page.locator("main").inner_text()
    assert "Robin Needs" in text
    assert "Access needs" not in page.locator("h2").all_inner_texts()
    assert "Sign Language" not in text and "@example.org" not in text
    assert "not shown to your role" in text
    visit.check(page, "viewer-leader")
    # Reasons that would reveal someone's access needs are hidden from a viewer too.
    page.goto(f"{base}/manage/rounds")
    for href in [a.get_attribute("href") for a in page.locator("tbody a").all()]:
        page.goto(f"{base}{href}")
        assert "Sign Language" not in page.locator("main").inner_text()
    page.goto(f"{base}/manage")
    assert "Sign Language" not in page.locator("main").inner_text()
    assert page.get_by_role("link", name="Import").count() == 0
    response = page.goto(f"{base}/manage/leaders/new")
    assert response.status == 403 and "cannot do this" in page.locator("h1").inner_text()
    visit.check(page, "viewer-not-allowed")
    # Even with the viewer's own form token, a change is refused.
    page.goto(f"{base}/manage")
    token = page.locator('input[name="csrf_token"]').first.get_attribute("value")
    refused = page.request.post(f"{base}/manage/leaders/new", form={"csrf_token": token, "name": "Sneaky"})
    assert refused.status == 403
    context.close()


def test_a_manager_sets_up_a_programme_and_cohort_and_erases_a_leader(stack, browser, visit):
    base = stack.base_url
    context = browser.new_context()
    page = context.new_page()
    visit.watch(page)
    sign_in(page, base, ADMIN_EMAIL, ADMIN_PASSWORD)
    people = [f"pl-prog-{RUN}", f"cl-prog-{RUN}"]
    for leader_id, name, role in ((people[0], "Ada Area", "patient_leader"), (people[1], "Cal Cohort", "clinical_leader")):
        page.goto(f"{base}/manage/leaders/new")
        type_into(page, page.locator("#id"), leader_id)
        type_into(page, page.locator("#name"), name)
        choose_radio(page, "role", role)
        type_area(page, "Cornwall and the Isles of Scilly")  # an area no other test uses
        type_into(page, page.locator("#email"), f"{leader_id}@example.org")
        tick(page, page.locator("#meeting_modes-2"))  # by video
        activate(page, page.get_by_role("button", name="Add leader"))

    # ---- a programme, and a cohort of everyone in one area ----
    activate(page, page.get_by_role("link", name="Programmes"))
    visit.check(page, "programmes")
    activate(page, page.get_by_role("button", name="Add the programme"))
    assert "Enter a name for the programme" in page.locator(".nhsuk-error-summary").inner_text()
    visit.check(page, "programmes-error")
    type_into(page, page.locator("#name"), f"North East {RUN}")
    activate(page, page.get_by_role("button", name="Add the programme"))
    # A new programme asks first how people reach its team: letters and texts need a phone and an address.
    visit.check(page, "programme-details")
    type_into(page, page.locator("#phone"), "0191 498 0000")
    type_into(page, page.locator("#postal_address"), "Civic Centre\nNewcastle upon Tyne\nNE1 8QH")
    # Closure periods are rows of date boxes: the usual one is filled in, "Add another closure" adds a row.
    assert page.locator("#closure_0_from_day").input_value() == "24" and page.locator("#closure_0_yearly").is_checked()
    activate(page, page.get_by_role("button", name="Add another closure"))
    assert page.locator("#phone").input_value() == "0191 498 0000", "what was typed is kept"
    for box, text in (("from_day", "30"), ("from_month", "8"), ("from_year", "2027"), ("to_day", "3"), ("to_month", "9")):
        type_into(page, page.locator(f"#closure_1_{box}"), text)
    activate(page, page.get_by_role("button", name="Save the details"))
    summary = page.locator(".nhsuk-error-summary")
    assert summary.locator("li").all_inner_texts() == ["The last day of closure 2 must include a year"]
    assert summary.locator("a").get_attribute("href") == "#closure_1_to_year"
    visit.check(page, "programme-details-closure-error")
    type_into(page, page.locator("#closure_1_to_year"), "2027")
    activate(page, page.get_by_role("button", name="Save the details"))
    assert page.locator("h1").inner_text() == f"North East {RUN}"
    assert "24 December to 1 January, every year; 30 August 2027 to 3 September 2027" in page.locator("main").inner_text()
    visit.check(page, "programme")
    type_into(page, page.locator("#name"), "January")
    choose_radio(page, "who", "listed")
    type_into(page, page.locator("#references"), "nobody-by-this-name")
    activate(page, page.get_by_role("button", name="Add the cohort"))
    assert "Nobody is registered with the reference nobody-by-this-name" in page.locator(".nhsuk-error-summary").inner_text()
    visit.check(page, "programme-cohort-error")
    choose_radio(page, "who", "area")
    choose_option(page, page.locator("#area"), "Cornwall and the Isles of Scilly")
    assert page.locator("#area").input_value() == "QT6", "the list shows names, the form sends the code"
    activate(page, page.get_by_role("button", name="Add the cohort"))
    text = page.locator("main").inner_text()
    assert "2 leaders in this cohort" in text and "Ada Area" in text and "Cal Cohort" in text
    visit.check(page, "cohort")
    activate(page, page.get_by_role("button", name="Launch a round for this cohort"))
    assert page.locator("input[name=who][value=cohort]").is_checked()

    # ---- erasing a leader ----
    page.goto(f"{base}/manage/leaders/{people[0]}")
    activate(page, page.get_by_role("link", name="Erase this person's details"))
    visit.check(page, "leader-erase")
    activate(page, page.get_by_role("button", name="Erase their details"))
    assert "Select why their details are being erased" in page.locator(".nhsuk-error-summary").inner_text()
    choose_radio(page, "why", "asked")
    activate(page, page.get_by_role("button", name="Erase their details"))
    assert "Their details have been erased" in page.locator(".nhsuk-notification-banner").inner_text()
    assert page.goto(f"{base}/manage/leaders/{people[0]}").status == 404
    context.close()


def test_a_round_that_cannot_be_solved_says_what_to_change(stack, browser, visit):
    base = stack.base_url
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {stack.api_token}"}, timeout=30)
    people = [{**p, "id": f"{p['id']}-inf{RUN}"} for p in sample_leaders()[:6]]
    for person in people:
        assert api.post("/leaders", json=person).status_code == 201
    round_id = f"minimums-{RUN}"
    area = people[0]["system"]
    launched = api.post(
        "/rounds", json={"id": round_id, "leader_ids": [p["id"] for p in people], "min_pairs_per_system": {area: 40}}
    )
    assert launched.status_code == 202, launched.text
    deadline = dt.datetime.now() + dt.timedelta(seconds=90)
    while api.get(f"/rounds/{round_id}").json()["status"] != "proposed":
        assert dt.datetime.now() < deadline, "the round was not solved in time"
        time.sleep(0.3)
    context = browser.new_context()
    page = context.new_page()
    visit.watch(page)
    sign_in(page, base, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto(f"{base}/manage/rounds/{round_id}")
    text = page.locator("main").inner_text()
    assert "The round cannot be solved as it is set up" in text and f"Lower the minimum for area {area} from 40 to" in text
    assert page.get_by_role("button", name="Approve the round").count() == 0, "not offered for approval"
    visit.check(page, "round-cannot-be-solved")
    context.close()


def test_a_manager_marks_a_braille_task_done_in_the_work_queue(stack, browser, visit):
    base = stack.base_url
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {stack.api_token}"}, timeout=30)
    people = [{**p, "id": f"{p['id']}-wq{RUN}"} for p in sample_leaders()[:6]]
    people[0]["information_format"] = "braille"  # their message is a task for a person
    for person in people:
        assert api.post("/leaders", json=person).status_code == 201
    round_id = f"work-queue-{RUN}"
    assert api.post("/rounds", json={"id": round_id, "leader_ids": [p["id"] for p in people]}).status_code == 202
    deadline = dt.datetime.now() + dt.timedelta(seconds=90)
    while api.get(f"/rounds/{round_id}").json()["status"] != "proposed":
        assert dt.datetime.now() < deadline, "the round was not solved in time"
        time.sleep(0.3)
    assert api.post(f"/rounds/{round_id}/approve", json={"approved_by": "Test manager"}).status_code == 200
    assert api.post(f"/rounds/{round_id}/publish").status_code == 200

    context = browser.new_context()
    page = context.new_page()
    visit.watch(page)
    sign_in(page, base, ADMIN_EMAIL, ADMIN_PASSWORD)
    name = people[0]["name"]
    button = page.get_by_role("button", name=re.compile(rf"^Mark done\W+braille message to make and post for {re.escape(name)}$"))
    deadline = dt.datetime.now() + dt.timedelta(seconds=60)
    while True:  # the notifier writes the task and reports it; the registry adds it to the queue
        activate(page, page.get_by_role("link", name="Work queue", exact=True))
        if button.count():
            break
        assert dt.datetime.now() < deadline, "the braille task did not reach the work queue"
        time.sleep(0.5)
    row = page.get_by_role("row").filter(has=button)
    assert "Braille message to make and post" in row.inner_text() and page.get_by_role("link", name=name).count()
    assert row.get_by_role("cell").first.inner_text().strip() == name, "the person is named, not numbered"
    visit.check(page, "work-queue")
    activate(page, button)
    assert f"Marked done: braille message to make and post for {name}" in page.locator(".nhsuk-notification-banner").inner_text()
    assert button.count() == 0 and "Alex Admin" in page.locator("main").inner_text()
    visit.check(page, "work-queue-done")
    audit = api.get("/audit", params={"leader_id": people[0]["id"]}).json()["items"]
    assert any(e["action"] == "marked a task done" and e["actor"] == ADMIN_EMAIL for e in audit)
    context.close()


def test_pages_are_protected_and_send_secure_headers(stack):
    base = stack.base_url
    anonymous = httpx.Client(base_url=base)
    for path in ("/manage", "/manage/leaders", "/manage/rounds", "/manage/import/template.csv"):
        response = anonymous.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/sign-in"), path
    page = anonymous.get("/sign-in")
    headers = page.headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert "<script>" not in page.text and " style=" not in page.text  # nothing inline for the policy to block
    # A sign-in form without its token (as another site would send it) is refused.
    refused = anonymous.post("/sign-in", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert refused.status_code == 400 and "expired" in refused.text
    # So is a signed-in form without the session's token.
    signed_in = httpx.Client(base_url=base)
    assert http_sign_in(signed_in, ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 303
    assert signed_in.get("/manage").status_code == 200
    assert signed_in.post("/manage/rounds/new", data={"who": "all"}).status_code == 400
    assert signed_in.post("/sign-out", data={}).status_code == 400
    # The session cookie is kept from scripts and from other sites' requests.
    fresh = httpx.Client(base_url=base)
    token = re.search(r'name="csrf_token" value="([^"]+)"', fresh.get("/sign-in").text).group(1)
    answer = fresh.post("/sign-in", data={"csrf_token": token, "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    session_cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith("pairing_session="))
    assert "httponly" in session_cookie.lower() and "samesite=lax" in session_cookie.lower()


def test_journeys_work_without_javascript(stack, browser, visit):
    """Launch and cancel a round with JavaScript turned off: plain links and forms do everything."""
    base = stack.base_url
    for person in sample_leaders()[20:22]:  # so the round has someone in it, whichever tests ran before
        person = {**person, "id": f"{person['id']}-ns{RUN}", "email": f"{person['id']}-ns{RUN}@example.org"}
        assert (
            httpx.post(f"{base}/leaders", json=person, headers={"Authorization": f"Bearer {stack.api_token}"}).status_code == 201
        )
    context = browser.new_context(java_script_enabled=False)
    scripted = browser.new_context()  # only to run axe-core on the same HTML
    page = context.new_page()
    sign_in(page, base, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto(f"{base}/manage/rounds/new")
    round_id = f"no-script-{RUN}"
    type_into(page, page.locator("#round_id"), round_id)
    activate(page, page.get_by_role("button", name="Add another school holiday"))  # posts the form back
    assert page.locator("#holiday_1_from_day").count() == 1 and page.locator("#round_id").input_value() == round_id
    for box, typed in (("day", "30"), ("month", "2"), ("year", "2027")):  # 30 February: not a real date
        type_into(page, page.locator(f"#holiday_1_from_{box}"), typed)
    activate(page, page.get_by_role("button", name="Continue"))
    summary = page.locator(".nhsuk-error-summary").inner_text()
    assert "The first day of school holiday 2 must be a real date: February 2027 has no day 30" in summary
    assert "Enter the last day of school holiday 2" in summary
    visit.check(page, "no-script-launch-errors", scripted)
    for box in ("day", "month", "year"):
        type_into(page, page.locator(f"#holiday_1_from_{box}"), "")
    activate(page, page.get_by_role("button", name="Continue"))
    activate(page, page.get_by_role("button", name="Change the details"))
    assert page.locator("#round_id").input_value() == round_id and page.locator("#holiday_1_from_day").count() == 1
    activate(page, page.get_by_role("button", name="Continue"))
    activate(page, page.get_by_role("button", name="Launch the round"))
    assert page.locator("h1").inner_text() == f"Everyone, {dt.date.today():%B %Y}"
    assert f"Reference: {round_id}" in page.locator("#round-reference").inner_text()
    # Without scripts the page says how to see progress, and the link works.
    activate(page, page.get_by_role("link", name="refresh this page"))
    activate(page, page.get_by_role("link", name="Cancel this round"))
    visit.check(page, "no-script-cancel", scripted)
    activate(page, page.get_by_role("button", name="Cancel the round"))
    assert "The round is cancelled" in page.locator(".nhsuk-notification-banner").inner_text()
    assert "Cancelled" in page.locator("#round-status").inner_text()
    scripted.close()
    context.close()


def test_the_readme_screenshots_exist() -> None:
    """The README shows the queue monitor and the review page, copied from the journey's
    test-artifacts/browser/readme-*.png when the pages change."""
    for name in ("queue-monitor", "operations", "review", "review-table", "follow-up", "leader-form"):
        assert (ROOT / "docs" / "screenshots" / f"{name}.png").exists(), f"docs/screenshots/{name}.png is missing"
