"""When a text message may be sent or a phone call made: outside each person's quiet hours.

Pure rules, no clock: the moment is passed in. Quiet hours are in Europe/London
local time, like everything people see.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from schemas.cohort import DAYS
from schemas.events import LeaderContact
from services.notifier.domain.messages import DAY_NAMES, Route, long_date

LONDON = ZoneInfo("Europe/London")
# People who asked to be phoned: the task for a person is a phone call, so it waits too.
PHONE_METHODS = {"telephone", "text_relay"}


@dataclass(frozen=True)
class QuietHours:
    """No texts or calls from `start` until `end` (local time). They may run past midnight; equal means none."""

    start: dt.time = dt.time(20)
    end: dt.time = dt.time(9)

    def is_quiet(self, local: dt.time) -> bool:
        if self.start == self.end:
            return False
        if self.start > self.end:  # 20:00 to 09:00 runs past midnight
            return local >= self.start or local < self.end
        return self.start <= local < self.end


def quiet_hours_for(contact: LeaderContact, default: QuietHours) -> QuietHours:
    """The person's own quiet hours when both ends are recorded, else the programme's."""
    start, end = getattr(contact, "quiet_hours_start", None), getattr(contact, "quiet_hours_end", None)
    if start is not None and end is not None:
        return QuietHours(start, end)
    return default


def keeps_quiet_hours(route: Route, contact: LeaderContact) -> bool:
    """Text messages and phone calls reach people wherever they are; letters and emails wait to be opened."""
    return route.channel == "sms" or (route.channel == "person" and contact.contact_method in PHONE_METHODS)


def next_allowed(moment: dt.datetime, hours: QuietHours, zone: ZoneInfo = LONDON) -> dt.datetime:
    """`moment` if it is outside quiet hours, else when they end (in UTC)."""
    local = moment.astimezone(zone)
    if not hours.is_quiet(local.time()):
        return moment
    day = local.date()
    if hours.start > hours.end and local.time() >= hours.start:
        day += dt.timedelta(days=1)  # late evening: the quiet ends tomorrow morning
    # Built from the local date and time, so it stays 09:00 across a clock change.
    return dt.datetime.combine(day, hours.end, tzinfo=zone).astimezone(dt.UTC)


def when_words(moment: dt.datetime, zone: ZoneInfo = LONDON) -> str:
    """'09:00 on Tuesday 16 December 2026', for delivery reports."""
    local = moment.astimezone(zone)
    return f"{local:%H:%M} on {DAY_NAMES[DAYS[local.weekday()]]} {long_date(local.date())}"
