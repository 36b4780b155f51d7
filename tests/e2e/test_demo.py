"""`make demo`, as a new user runs it: pairs with reasons, the people not paired with
theirs, and a message in every format the sample asks for, each in a file to open."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest

from services.common.embedded import free_port

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
    assert "answer=accept" in Path(rows["standard print, by text message"]).read_text()
    assert "braille" in Path(rows["braille, by email"]).read_text()
    to_son = message_from_bytes(Path(rows["standard print, through someone they named"]).read_bytes(), policy=default)
    assert to_son["To"] == "sam.okafor@example.org" and to_son["Subject"].startswith("A message for ")
