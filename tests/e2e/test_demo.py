"""`make demo`, as a new user runs it: pairs with reasons, the people not paired with
theirs, and a message in every format the sample asks for, each in a file to open."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from collections import Counter
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import holidays
import pypdfium2 as pdfium
import pytest

from services.common.embedded import free_port
from services.notifier.domain.sms import segments

pytestmark = pytest.mark.e2e


def leader_of(email: Path) -> str:
    """The leader an email is for: the delivery key is event id, leader id, channel."""
    return message_from_bytes(email.read_bytes(), policy=default)["X-Pairing-Key"].split(":")[1]


def test_the_demo_shows_pairs_reasons_and_a_message_in_every_format(tmp_path):
    data = tmp_path / "demo"
    shown = subprocess.run(
        [sys.executable, "-m", "services.cli", "demo", "--port", str(free_port()), "--data", str(data)],
        # Wide, so no file name is folded across lines.
        env={**os.environ, "COLUMNS": "250"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert shown.returncode == 0, shown.stdout[-2000:] + shown.stderr[-2000:]
    out = shown.stdout
    assert "Proposed pairs" in out and "You are both free on" in out, "pairs come with their reasons"
    assert "Not paired this time" in out
    assert "Messages: 1 needs a person, 39 sent." in out

    # Every one of the 40 people hears exactly once, whatever the channel: one file each.
    told = Counter(leader_of(path) for path in (data / "mail" / "new").glob("*"))
    for folder in ("letters", "sms", "for_a_person"):
        told.update(path.stem.split("_")[1] for path in (data / folder).glob("*"))
    assert len(told) == 40 and set(told.values()) == {1}, told

    rows = {line.split("│")[2].strip(): line.split("│")[3].strip() for line in out.splitlines() if line.count("│") == 4}
    rows = {asked: path for asked, path in rows.items() if asked and path}
    for asked in (
        "standard print, by email",
        "large print (24 point), by email",
        "easy read, by email",
        "standard print, by letter",
        "standard print, by text message",
        "braille, by email",
        "standard print, through someone they named",
    ):
        assert asked in rows, f"no example of {asked} in:\n{out}"
        assert Path(rows[asked]).is_file(), rows[asked]

    def body(asked: str) -> str:
        message = message_from_bytes(Path(rows[asked]).read_bytes(), policy=default)
        return message.get_body(preferencelist=("html",)).get_content()

    assert "font-size: 24pt" in body("large print (24 point), by email")
    assert "font-size: 16pt" in body("easy read, by email")
    assert Path(rows["standard print, by letter"]).read_bytes().startswith(b"%PDF-")
    assert "/a/" in Path(rows["standard print, by text message"]).read_text(), "a short answer link"
    assert "braille" in Path(rows["braille, by email"]).read_text()
    to_son = message_from_bytes(Path(rows["standard print, through someone they named"]).read_bytes(), policy=default)
    assert to_son["To"] == "sam.okafor@example.org" and to_son["Subject"].startswith("A message for ")


MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
SHORT_MONTHS = [m[:3] for m in MONTHS]
FULL_DATE = re.compile(rf"(\d{{1,2}}) ({'|'.join(MONTHS)}) (\d{{4}})")
SHORT_DATE = re.compile(rf"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (\d{{1,2}}) ({'|'.join(SHORT_MONTHS)})\b")
PROPOSED = re.compile(r"(?:first meet on|meet on|answer by|tell us by|Please tell us by|by) ([^.:\n]*)")
UK_PHONE = re.compile(r"\b0\d{3}\s?\d{3}\s?\d{4}\b")


def closed_or_holiday(day: dt.date) -> bool:
    return (
        day in holidays.country_holidays("GB", subdiv="ENG") or (day.month, day.day) >= (12, 24) or (day.month, day.day) <= (1, 1)
    )


def proposed_dates(text: str, today: dt.date) -> list[dt.date]:
    """Every date the product asks someone to meet or answer on, in either the long or the short form."""
    found = []
    for phrase in PROPOSED.findall(text):
        for day, month, year in FULL_DATE.findall(phrase):
            found.append(dt.date(int(year), MONTHS.index(month) + 1, int(day)))
        for day, month in SHORT_DATE.findall(phrase):
            month_number = SHORT_MONTHS.index(month) + 1
            year = today.year + (1 if month_number < today.month else 0)
            found.append(dt.date(year, month_number, int(day)))
    return found


def pdf_text(path: Path) -> str:
    return "\n".join(page.get_textpage().get_text_range() for page in pdfium.PdfDocument(path))


def email_text(path: Path) -> tuple[str, object]:
    message = message_from_bytes(path.read_bytes(), policy=default)
    return message.get_body(preferencelist=("plain",)).get_content(), message


def test_the_demo_messages_work_for_their_real_readers(tmp_path):
    """Issue 12's checks, on what make demo leaves: dates people can meet on, texts that fit,
    letters that can be answered without the internet, easy read with pictures, tasks a person can do."""
    data = tmp_path / "demo"
    shown = subprocess.run(
        [sys.executable, "-m", "services.cli", "demo", "--port", str(free_port()), "--data", str(data)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert shown.returncode == 0, shown.stdout[-2000:] + shown.stderr[-2000:]
    today = dt.date.today()
    texts: list[str] = []

    emails = list((data / "mail" / "new").glob("*"))
    easy_read = 0
    for path in emails:
        text, message = email_text(path)
        texts.append(text)
        html = message.get_body(preferencelist=("html",)).get_content()
        if "font-size: 16pt" in html:  # easy read
            easy_read += 1
            pictures = [part for part in message.walk() if part.get_content_type() == "image/png" and part["Content-ID"]]
            assert pictures and "<img" in html, f"an easy read email without pictures: {path.name}"
    assert easy_read >= 1, "the sample has someone who asked for easy read"

    sms = list((data / "sms").glob("*"))
    assert sms, "the sample has someone who gets text messages"
    for path in sms:
        body = path.read_text().split("\n\n", 1)[1]  # after the "To:" line
        texts.append(body)
        assert segments(body.rstrip("\n")) <= 2, f"{path.name} is {segments(body)} parts:\n{body}"

    letters = list((data / "letters").glob("*.pdf"))
    assert letters, "the sample has someone who gets letters"
    for path in letters:
        words = pdf_text(path)
        texts.append(words)
        assert UK_PHONE.search(words), f"{path.name} has no UK phone number"
        assert "LS1 5AB" in words, f"{path.name} has no return address"
        if "partner" in words and "found you" in words:
            assert "Reply slip" in words, f"{path.name} asks for an answer but has no reply slip"

    tasks = list((data / "for_a_person").glob("*"))
    assert tasks, "the sample has someone who needs a person to pass the message on"
    for path in tasks:
        words = path.read_text()
        texts.append(words)
        assert "http" not in words and "www." not in words, f"{path.name} holds a web address"
        assert not re.search(r"\b(pl|cl|ml)-\d{3}\b", words), f"{path.name} names someone by an internal id"
        assert "Do it by" in words, f"{path.name} has no deadline"

    dates = [day for text in texts for day in proposed_dates(text, today)]
    assert dates, "messages propose meetings and answer dates"
    bad = sorted({day for day in dates if closed_or_holiday(day)})
    assert not bad, f"dates on a bank holiday or between 24 December and 1 January: {bad}"
