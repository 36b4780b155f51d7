import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from notifier_samples import ME

from services.notifier.clock import FrozenClock
from services.notifier.domain.messages import choose_route
from services.notifier.domain.quiet_hours import QuietHours, keeps_quiet_hours, next_allowed, quiet_hours_for, when_words

pytestmark = pytest.mark.unit

LONDON = ZoneInfo("Europe/London")
DEFAULT = QuietHours(dt.time(20), dt.time(9))


def at(year, month, day, hour, minute=0):
    return dt.datetime(year, month, day, hour, minute, tzinfo=LONDON)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (at(2026, 12, 15, 22, 30), at(2026, 12, 16, 9)),  # late evening: tomorrow at nine
        (at(2026, 12, 16, 6, 0), at(2026, 12, 16, 9)),  # early morning: today at nine
        (at(2026, 12, 15, 20, 0), at(2026, 12, 16, 9)),  # quiet from 20:00 exactly
        (at(2026, 12, 16, 9, 0), at(2026, 12, 16, 9)),  # allowed from 09:00 exactly
        (at(2026, 12, 16, 19, 59), at(2026, 12, 16, 19, 59)),
    ],
)
def test_texts_wait_for_the_end_of_quiet_hours(moment, expected):
    assert next_allowed(moment, DEFAULT) == expected


def test_the_morning_is_nine_o_clock_local_time_across_a_clock_change():
    # The clocks go forward at 01:00 on 29 March 2026: nine is then 08:00 UTC, not 09:00.
    opens = next_allowed(at(2026, 3, 28, 23), DEFAULT)
    assert opens == dt.datetime(2026, 3, 29, 8, tzinfo=dt.UTC)
    assert opens.astimezone(LONDON).hour == 9


def test_quiet_hours_in_the_day_and_none_at_all():
    day_sleeper = QuietHours(dt.time(8), dt.time(16))
    assert next_allowed(at(2026, 12, 15, 10), day_sleeper) == at(2026, 12, 15, 16)
    assert next_allowed(at(2026, 12, 15, 22), day_sleeper) == at(2026, 12, 15, 22)
    never = QuietHours(dt.time(0), dt.time(0))
    assert next_allowed(at(2026, 12, 15, 3), never) == at(2026, 12, 15, 3)


def test_a_person_s_own_quiet_hours_count_only_when_both_ends_are_recorded():
    own = ME.model_copy(update={"quiet_hours_start": dt.time(21, 30), "quiet_hours_end": dt.time(10)})
    assert quiet_hours_for(own, DEFAULT) == QuietHours(dt.time(21, 30), dt.time(10))
    half = ME.model_copy(update={"quiet_hours_start": dt.time(21, 30)})
    assert quiet_hours_for(half, DEFAULT) == DEFAULT


@pytest.mark.parametrize(
    ("change", "keeps"),
    [
        ({}, False),  # email waits in the inbox
        ({"contact_method": "letter", "postal_address": "1 Street"}, False),
        ({"contact_method": "sms", "phone": "07700 900123"}, True),
        ({"contact_method": "telephone", "phone": "07700 900123"}, True),  # a person phones them
        ({"contact_method": "text_relay", "phone": "07700 900123"}, True),
        ({"information_format": "braille"}, False),  # a person posts braille
    ],
)
def test_only_texts_and_phone_calls_keep_quiet_hours(change, keeps):
    me = ME.model_copy(update=change)
    assert keeps_quiet_hours(choose_route(me), me) is keeps


def test_the_scheduled_time_is_said_in_words_in_london_time():
    assert when_words(dt.datetime(2026, 12, 16, 9, tzinfo=dt.UTC)) == "09:00 on Wednesday 16 December 2026"
    assert when_words(dt.datetime(2026, 6, 16, 8, tzinfo=dt.UTC)) == "09:00 on Tuesday 16 June 2026"


def test_a_frozen_clock_moves_only_when_told():
    clock = FrozenClock(at(2026, 12, 15, 22, 30))
    assert clock.now() == clock.now() == at(2026, 12, 15, 22, 30)
    clock.advance(hours=10, minutes=30)
    assert clock.now() == at(2026, 12, 16, 9)
    with pytest.raises(ValueError):
        FrozenClock(dt.datetime(2026, 12, 15))
