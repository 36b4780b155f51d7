"""The calendar invitation is byte for byte what icalendar itself makes.

adapters/calendar.py writes each event's lines itself (escaping and folding the two that change
with each person) rather than building it with icalendar. Here the same invitation is built the
way the notifier built it before, with icalendar's Calendar and Event alone, for awkward names and
ids (escapes, carets, letters beyond ASCII, long enough to fold anywhere), and the bytes compared."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

import icalendar
import pytest

from services.notifier.adapters.calendar import folded, invitation_ics, meeting_uid
from services.notifier.domain.messages import ProposedMeeting

pytestmark = pytest.mark.unit

LONDON = ZoneInfo("Europe/London")
STAMP = dt.datetime(2027, 1, 12, 9, 30, 5, 123456, tzinfo=dt.UTC)


def icalendar_invitation(meetings: list[ProposedMeeting], round_id: str, leader_id: str, stamp: dt.datetime) -> bytes:
    """The invitation as the notifier made it with icalendar alone."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Patient leader programme//Pairing//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    if meetings:
        first = min(m.date for m in meetings).year
        calendar.add_component(
            icalendar.Timezone.from_tzinfo(
                LONDON, tzid="Europe/London", first_date=dt.date(first, 1, 1), last_date=dt.date(first + 2, 12, 31)
            )
        )
    for meeting in meetings:
        event = icalendar.Event()
        event.add("uid", meeting_uid(round_id, leader_id, meeting.partner_id))
        event.add("dtstamp", stamp)
        event.add("dtstart", dt.datetime.combine(meeting.date, meeting.start, tzinfo=LONDON))
        event.add("dtend", dt.datetime.combine(meeting.date, meeting.end, tzinfo=LONDON))
        event.add("summary", f"First meeting with {meeting.partner_name} (suggested)")
        event.add(
            "description",
            "Suggested by the patient leader programme. "
            "Your programme manager will check the date, time and place with you both.",
        )
        if meeting.modes:
            event.add("location", f"{meeting.modes[0].upper()}{meeting.modes[1:]}: to be confirmed")
        event.add("status", "TENTATIVE")
        calendar.add_component(event)
    return calendar.to_ical()


AWKWARD = [
    "Ben Bell",
    "Zoë Ó Briain-Ngata",
    "Smith, Jo; also \\ known as ^caret^",
    "李小龍 and a name long enough that the summary line has to be folded over two lines or more",
    # "SUMMARY:First meeting with " is 27 characters: a backslash (escaped to two) or a caret just
    # where the line folds, after its 74th.
    "x" * 45 + "\\" + "y" * 40,
    "x" * 46 + "\\" + "y" * 40,
    "x" * 46 + "^" + "y" * 40,
    "é" * 40 + "\\,;" * 10,
    "🙂 emoji " * 12,
]


def meeting(name: str, partner_id: str = "cl-1", modes: str = "by video call or in person") -> ProposedMeeting:
    return ProposedMeeting(partner_id, name, modes, dt.date(2027, 1, 12), dt.time(10), dt.time(11, 30))


@pytest.mark.parametrize("name", AWKWARD)
def test_an_invitation_is_the_same_bytes_as_icalendar_makes(name):
    meetings = [meeting(name), meeting(name[::-1], "cr-2", "")]
    for round_id, leader_id in (("r1", "pl-1"), ("round-" + "7" * 36, "leader,with;odd\\chars-" + "a" * 40)):
        ours = invitation_ics(tuple(meetings), round_id, leader_id, STAMP)
        assert ours == icalendar_invitation(meetings, round_id, leader_id, STAMP), (name, round_id)


def test_a_stamp_in_another_zone_or_summer_time_is_written_as_icalendar_writes_it():
    summer = ProposedMeeting("cl-1", "Ben Bell", "by phone", dt.date(2027, 7, 6), dt.time(14, 15), dt.time(15))
    for stamp in (STAMP, STAMP.astimezone(LONDON), STAMP.replace(tzinfo=None), STAMP.replace(month=7).astimezone(LONDON)):
        assert invitation_ics((summer,), "r1", "pl-1", stamp) == icalendar_invitation([summer], "r1", "pl-1", stamp)
    assert invitation_ics((), "r1", "pl-1", STAMP) == icalendar_invitation([], "r1", "pl-1", STAMP)


def test_lines_are_folded_as_icalendar_folds_them_at_every_length():
    chooser = random.Random(17)
    for length in range(60, 240):
        alphabet = "ab\\^;," if length % 2 else "ab \\^;,éß李🙂"  # plain ASCII, or not
        text = "".join(chooser.choice(alphabet) for _ in range(length))
        line = f"SUMMARY:{text}"  # folding looks at the characters only, escaped or not
        assert folded(line) == icalendar.parser.Contentline(line).to_ical()
    # Read back, a folded invitation gives the words it was given.
    name = AWKWARD[3]
    event = icalendar.Calendar.from_ical(invitation_ics((meeting(name),), "r1", "pl-1", STAMP)).walk("VEVENT")[0]
    assert str(event["summary"]) == f"First meeting with {name} (suggested)"
