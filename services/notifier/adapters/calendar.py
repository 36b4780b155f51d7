"""The suggested first meeting as a calendar file (.ics) people can add to their calendar."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone

from services.notifier.domain.messages import ProposedMeeting

LONDON = ZoneInfo("Europe/London")


def meeting_uid(round_id: str, leader_id: str, partner_id: str) -> str:
    """The same for both people in a pair, so a later change can replace the entry."""
    first, second = sorted((leader_id, partner_id))
    return f"first-meeting.{round_id}.{first}.{second}@pairing.local"


@lru_cache(maxsize=4)
def london_rules(first_year: int) -> Timezone:
    """Europe/London's clock changes for three years from `first_year`: slow to work out and the
    same for a whole round, so worked out once (calendars only read it)."""
    return Timezone.from_tzinfo(
        LONDON, tzid="Europe/London", first_date=dt.date(first_year, 1, 1), last_date=dt.date(first_year + 2, 12, 31)
    )


# How every calendar file ends; a calendar is its head, its components and this, each written on its own.
CALENDAR_END = b"END:VCALENDAR\r\n"


@lru_cache(maxsize=1)
def calendar_head() -> bytes:
    """The calendar's own lines, the same in every invitation."""
    calendar = Calendar()
    calendar.add("prodid", "-//Patient leader programme//Pairing//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    whole = calendar.to_ical()
    return whole[: -len(CALENDAR_END)]


@lru_cache(maxsize=4)
def london_rules_ical(first_year: int) -> bytes:
    """london_rules as the calendar file's lines: written once a round rather than once a message."""
    return london_rules(first_year).to_ical()


# ---- the event itself, written line by line ----
#
# icalendar built each person's event afresh: a dozen objects, every line escaped and folded
# character by character, a quarter of the CPU of writing an email. Here the lines that are the
# same for a whole round (the description, the times, the place) are made by icalendar once and
# kept, and the two that change with each person (the summary, with the partner's name, and the
# UID) are escaped and folded by the two small functions below, exactly as icalendar does it.
# tests/unit/notifier/test_calendar_bytes.py compares the bytes with icalendar's own.

FOLD_AT = 75  # RFC 5545: a line of at most 75 octets; icalendar folds before the 75th, so 74 each
_FOLD = "\r\n "


def escaped(text: str) -> str:
    """A TEXT value as RFC 5545 section 3.3.11 escapes it (icalendar's replacements, in its order)."""
    return (
        text.replace(r"\N", "\n")
        .replace("\\", "\\\\")
        .replace(";", r"\;")
        .replace(",", r"\,")
        .replace("\r\n", r"\n")
        .replace("\n", r"\n")
        .replace("\r", r"\n")
    )


def folded(line: str) -> bytes:
    """A content line folded as icalendar folds it: a break before a line would reach 75 octets,
    never just after a backslash or caret (an escape stays whole on the next line)."""
    data = line.encode()
    if len(data) < FOLD_AT:
        return data
    pieces: list[str] = []
    if len(data) == len(line):  # plain ASCII: a character is an octet
        start = 0
        while len(line) - start >= FOLD_AT:
            end = start + FOLD_AT - 1
            if line[end - 1] in "\\^":
                end -= 1
            pieces.append(line[start:end])
            start = end
        pieces.append(line[start:])
        return _FOLD.join(pieces).encode()
    current: list[str] = []
    count = 0
    for char in line:
        size = len(char.encode())
        if current and count + size >= FOLD_AT:
            if len(current) > 1 and current[-1] in "\\^":
                moved = current.pop()
                pieces.append("".join(current))
                current, count = [moved], len(moved.encode())
            else:
                pieces.append("".join(current))
                current, count = [], 0
        current.append(char)
        count += size
    pieces.append("".join(current))
    return _FOLD.join(pieces).encode()


def text_line(name: str, value: str) -> bytes:
    return folded(f"{name}:{escaped(value)}")


def icalendar_line(name: str, value: dt.datetime) -> bytes:
    """One property as icalendar writes it (its value type, parameters and folding): for the
    values a round shares (the times, the stamp to the second), so made once and kept."""
    # The zone is part of the key: two times at the same instant in different zones are equal.
    return _icalendar_line(name, value, value.tzinfo)


@lru_cache(maxsize=256)
def _icalendar_line(name: str, value: dt.datetime, _zone: dt.tzinfo | None) -> bytes:
    event = Event()
    event.add(name, value)
    lines = event.to_ical().split(b"\r\n")  # BEGIN, the property (one line once unfolded), END, ""
    return b"\r\n".join(lines[1:-2])


DESCRIPTION = (
    "Suggested by the patient leader programme. Your programme manager will check the date, time and place with you both."
)


@lru_cache(maxsize=64)
def location_line(modes: str) -> bytes:
    return text_line("LOCATION", f"{modes[0].upper()}{modes[1:]}: to be confirmed")


def meeting_event(meeting: ProposedMeeting, round_id: str, leader_id: str, stamp: dt.datetime) -> bytes:
    """The VEVENT's lines, in icalendar's order (its canonical few, then the rest by name)."""
    lines = [
        b"BEGIN:VEVENT",
        text_line("SUMMARY", f"First meeting with {meeting.partner_name} (suggested)"),
        icalendar_line("dtstart", dt.datetime.combine(meeting.date, meeting.start, tzinfo=LONDON)),
        icalendar_line("dtend", dt.datetime.combine(meeting.date, meeting.end, tzinfo=LONDON)),
        # A stamp is written to the second: kept by the second, it is worked out once a second, not once a message.
        icalendar_line("dtstamp", stamp.replace(microsecond=0)),
        text_line("UID", meeting_uid(round_id, leader_id, meeting.partner_id)),
        _DESCRIPTION_LINE,
    ]
    if meeting.modes:
        lines.append(location_line(meeting.modes))
    lines += [b"STATUS:TENTATIVE", b"END:VEVENT", b""]
    return b"\r\n".join(lines)


_DESCRIPTION_LINE = text_line("DESCRIPTION", DESCRIPTION)


def invitation_ics(meetings: tuple[ProposedMeeting, ...], round_id: str, leader_id: str, stamp: dt.datetime) -> bytes:
    """METHOD:PUBLISH and STATUS:TENTATIVE: a suggestion to note down, not a booking to accept.

    The same bytes as one icalendar Calendar holding the time zone and the events (each line is
    folded on its own), but the parts that are the same for every message are written once."""
    parts = [calendar_head()]
    # Calendar programs need the time zone rules to place a Europe/London time; a few years of them is plenty.
    if meetings:
        parts.append(london_rules_ical(min(m.date for m in meetings).year))
    parts += [meeting_event(meeting, round_id, leader_id, stamp) for meeting in meetings]
    return b"".join([*parts, CALENDAR_END])
