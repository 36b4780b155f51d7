"""`make demo-journey` says whose each message is by the event reference in it: the registry's database is
read once for each person, and again only when a message names someone not seen before, however often the
journey looks for new messages (services/demo_journey.py, services/demo_refs.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from services.demo_journey import Journey

pytestmark = pytest.mark.unit


@dataclass
class Registered:
    """The part of a running stack the journey reads: its message folders and the registry's references."""

    data_dir: Path
    people: dict[str, str] = field(default_factory=dict)  # event reference by registry id
    reads: int = 0

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    async def event_refs(self) -> dict[str, str]:
        self.reads += 1
        return dict(self.people)


def email(stack: Registered, name: str, ref: str) -> None:
    (stack.mail_dir / "new").mkdir(parents=True, exist_ok=True)
    (stack.mail_dir / "new" / name).write_text(f"X-Pairing-Key: event-{name}:{ref}:email\nSubject: hello\n\nHello\n")


def test_references_are_read_once_for_each_person_and_again_only_for_someone_new(tmp_path):
    stack = Registered(tmp_path, {"pl-1": "p-" + "1" * 20, "cl-1": "p-" + "2" * 20})
    journey = Journey(stack, None, tmp_path / "messages", tmp_path / "clock", dt.date(2027, 1, 4))  # type: ignore[arg-type]
    email(stack, "a", "p-" + "1" * 20)
    email(stack, "b", "p-" + "2" * 20)
    for _ in range(50):  # as the journey polls while it waits for a step's messages
        assert sorted(who for who, _ in journey.new_messages()) == ["cl-1", "pl-1"]
    assert stack.reads == 1

    stack.people["pl-2"] = "p-" + "3" * 20  # someone registered for the next round, and told
    email(stack, "c", "p-" + "3" * 20)
    for _ in range(50):
        assert sorted(who for who, _ in journey.new_messages()) == ["cl-1", "pl-1", "pl-2"]
    assert journey.refs.refs_of(["pl-1", "pl-2"]) == {"pl-1": "p-" + "1" * 20, "pl-2": "p-" + "3" * 20}
    assert stack.reads == 2

    email(stack, "d", "p-" + "9" * 20)  # a reference nobody has (a person erased): asked about once, not every look
    for _ in range(50):
        assert len(journey.new_messages()) == 4
    assert stack.reads == 3
