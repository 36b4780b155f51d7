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


def meeting_event(meeting: ProposedMeeting, round_id: str, leader_id: str, stamp: dt.datetime) -> Event:
    event = Event()
    event.add("uid", meeting_uid(round_id, leader_id, meeting.partner_id))
    event.add("dtstamp", stamp)
    event.add("dtstart", dt.datetime.combine(meeting.date, meeting.start, tzinfo=LONDON))
    event.add("dtend", dt.datetime.combine(meeting.date, meeting.end, tzinfo=LONDON))
    event.add("summary", f"First meeting with {meeting.partner_name} (suggested)")
    event.add(
        "description",
        "Suggested by the patient leader programme. Your programme manager will check the date, time and place with you both.",
    )
    if meeting.modes:
        event.add("location", f"{meeting.modes[0].upper()}{meeting.modes[1:]}: to be confirmed")
    event.add("status", "TENTATIVE")
    return event


def invitation_ics(meetings: tuple[ProposedMeeting, ...], round_id: str, leader_id: str, stamp: dt.datetime) -> bytes:
    """METHOD:PUBLISH and STATUS:TENTATIVE: a suggestion to note down, not a booking to accept.

    The same bytes as one icalendar Calendar holding the time zone and the events (each line is
    folded on its own), but the parts that are the same for every message are written once."""
    parts = [calendar_head()]
    # Calendar programs need the time zone rules to place a Europe/London time; a few years of them is plenty.
    if meetings:
        parts.append(london_rules_ical(min(m.date for m in meetings).year))
    parts += [meeting_event(meeting, round_id, leader_id, stamp).to_ical() for meeting in meetings]
    return b"".join([*parts, CALENDAR_END])
