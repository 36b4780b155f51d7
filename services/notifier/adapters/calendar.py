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


@lru_cache(maxsize=4)
def london_rules_ics(first_year: int) -> bytes:
    """`london_rules` as calendar text: the same for every invitation of a round, so written once."""
    return london_rules(first_year).to_ical()


END = b"END:VCALENDAR\r\n"


def invitation_ics(meetings: tuple[ProposedMeeting, ...], round_id: str, leader_id: str, stamp: dt.datetime) -> bytes:
    """METHOD:PUBLISH and STATUS:TENTATIVE: a suggestion to note down, not a booking to accept.

    Each part is written on its own and the parts joined, exactly as the whole calendar would write
    them, so the time zone rules (most of the text) are written once for all invitations."""
    calendar = Calendar()
    calendar.add("prodid", "-//Patient leader programme//Pairing//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    parts = [calendar.to_ical().removesuffix(END)]
    # Calendar programs need the time zone rules to place a Europe/London time; a few years of them is plenty.
    if meetings:
        parts.append(london_rules_ics(min(m.date for m in meetings).year))
    for meeting in meetings:
        event = Event()
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
        parts.append(event.to_ical())
    return b"".join([*parts, END])
