"""`make demo-journey` on the real components (issue 18): a programme through simulated months leaves every
message in a folder, one for each step, and the reminder, "Did you meet?", the check-in, the pair-ended message
to the partner and the closing feedback are each there in standard email and in an accessible format (easy read
or large print); an answer of "we need help" becomes a task for the team."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import pytest

from services.common.embedded import free_port
from services.demo_journey import FEEDBACK, run_journey

pytestmark = pytest.mark.e2e


def words_of(path: Path) -> str:
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    return f"{message['Subject']}\n{message.get_body(('plain',)).get_content()}"  # type: ignore[union-attr]


def in_formats(folder: Path, *phrases: str) -> dict[str, list[str]]:
    """The people (by file) whose email in this step says every phrase, by standard and accessible format."""
    found: dict[str, list[str]] = {"standard": [], "accessible": []}
    for path in sorted(folder.glob("*.email.eml")):
        text = " ".join(words_of(path).split())
        if all(phrase in text for phrase in phrases):
            kind = "standard" if ".standard." in path.name else "accessible"
            found[kind].append(path.name)
    return found


def test_the_journey_leaves_each_message_in_standard_email_and_an_accessible_format(new_broker, tmp_path):
    journey = run_journey(tmp_path / "journey", free_port(), kafka_bootstrap=new_broker())
    steps = {p.name.split("-", 1)[1]: p for p in sorted(journey.folder.iterdir()) if p.is_dir()}
    assert list(steps) == [
        "published",
        "reminder",
        "did-you-meet",
        "did-you-meet-help",
        "check-in",
        "pair-ended",
        "paired-again-first",
        "meanwhile",
        "closing-feedback",
    ]

    reminded = in_formats(steps["reminder"], "A reminder about your partner")
    assert reminded == {"standard": ["ben-bell.standard.email.eml"], "accessible": ["chloe-carter.easy-read.email.eml"]}

    # Everyone paired is asked whether they met, each in their format; Amira asks for help from her link.
    asked = in_formats(steps["did-you-meet"], "Did you meet")
    assert "amira-ahmed.standard.email.eml" in asked["standard"]
    assert {"chloe-carter.easy-read.email.eml", "femi-farah.large-print.email.eml"} <= set(asked["accessible"])
    assert list(steps["did-you-meet"].glob("grace-green.*.txt")), "a text message to someone who asked for texts"
    (task,) = steps["did-you-meet-help"].iterdir()
    assert task.name.startswith("amira-ahmed.task") and "Asked for help: Amira Ahmed" in task.read_text()

    checked = in_formats(steps["check-in"], "How is it going")
    assert "amira-ahmed.standard.email.eml" in checked["standard"]
    assert {"chloe-carter.easy-read.email.eml", "femi-farah.large-print.email.eml"} <= set(checked["accessible"])
    assert len(list(steps["check-in"].iterdir())) == 8, "everyone paired, once"

    told = in_formats(steps["pair-ended"], "Your pair has ended", "not your fault")
    assert told == {"standard": ["elaine-evans.standard.email.eml"], "accessible": ["femi-farah.large-print.email.eml"]}

    closing = in_formats(steps["closing-feedback"], "Carers now get a named contact on every ward.")
    assert "joy-jones.standard.email.eml" in closing["standard"], "someone not paired hears too"
    assert closing["accessible"] == ["chloe-carter.easy-read.email.eml", "femi-farah.large-print.email.eml"]
    (text,) = steps["closing-feedback"].glob("grace-green.*.txt")
    assert "the hospital now books interpreters before the first visit." in text.read_text()
    assert list(steps["closing-feedback"].glob("harpreet-hughes.*.pdf")), "a letter to print"
    assert len(list(steps["closing-feedback"].iterdir())) == 9, "everyone in the first round, once"
    assert FEEDBACK.split(".")[0] in " ".join(words_of(steps["closing-feedback"] / "amira-ahmed.standard.email.eml").split())

    # Paired again, first: the two whose pair ended have new partners, and the newcomer waits.
    again = {p.name for p in steps["paired-again-first"].iterdir()}
    assert {"elaine-evans.standard.email.eml", "femi-farah.large-print.email.eml", "lena-lewis.easy-read.email.eml"} <= again
    # Only the news of her new partner: her first check-in in the new round counts from when the notifier heard
    # of it (the demo's moved clock), so it comes a month on, never in the same days.
    (hers,) = steps["paired-again-first"].glob("elaine-evans.*")
    assert "We have found you a partner" in words_of(hers)
    assert in_formats(steps["paired-again-first"], "How is it going") == {"standard": [], "accessible": []}
    assert "We could not find you a partner" in words_of(steps["paired-again-first"] / "lena-lewis.easy-read.email.eml")

    timeline = (journey.folder / "timeline.txt").read_text()
    assert "reminder" in timeline and "We paired you first" in timeline and "what difference the pairs made" in timeline
