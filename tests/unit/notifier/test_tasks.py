"""Tasks for a person: written for the format (no web addresses), with a deadline in working days
before the answer date, saying who it is for without any internal id."""

import datetime as dt
import re

import pytest
from notifier_samples import CONTACTS, ME, PAIRED, PROGRAMME_CONTACT, UNMATCHED

from schemas.events import Outcome
from services.notifier.adapters.channels import task_text
from services.notifier.compose import plan_message
from services.notifier.domain.tasks import DEFAULT_TASK_DAYS, add_working_days, is_working_day, task_deadline

pytestmark = pytest.mark.unit

TODAY = dt.date(2026, 12, 15)  # a Tuesday
FORMATS = {
    "braille": {"information_format": "braille"},
    "audio": {"information_format": "audio"},
    "phone": {"contact_method": "telephone", "phone": "07700 900123"},
    "text relay": {"contact_method": "text_relay", "phone": "07700 900123"},
    "interpreter": {"communication_professional": "British Sign Language interpreter"},
    "support": {"communication_support": "Reads with a support worker"},
    "no email address": {"email": None},
}


def test_working_days_skip_weekends_and_bank_holidays_in_england():
    assert not is_working_day(dt.date(2026, 12, 25)) and not is_working_day(dt.date(2026, 12, 28))  # Boxing Day, moved
    assert not is_working_day(dt.date(2027, 1, 2)) and is_working_day(dt.date(2027, 1, 4))
    assert add_working_days(dt.date(2027, 1, 5), -2) == dt.date(2026, 12, 31)
    assert add_working_days(dt.date(2026, 12, 24), 1) == dt.date(2026, 12, 29)


def test_the_deadline_is_the_answer_date_less_the_time_the_format_takes():
    deadline = task_deadline(dt.date(2027, 1, 5), TODAY, 10)
    assert (deadline.date, deadline.late) == (dt.date(2026, 12, 17), False)


def test_too_late_for_the_usual_time_means_today_and_says_so():
    deadline = task_deadline(dt.date(2026, 12, 18), TODAY, 10)
    assert (deadline.date, deadline.late) == (TODAY, True)


def test_without_an_answer_date_the_deadline_is_the_formats_time_from_today():
    assert task_deadline(None, TODAY, 5).date == dt.date(2026, 12, 22)


def text_for(outcome, change):
    me = ME.model_copy(update=change)
    message = plan_message(outcome, me, CONTACTS, PROGRAMME_CONTACT)
    assert message.channel == "person"
    return task_text(message, me, DEFAULT_TASK_DAYS, TODAY)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("outcome", [PAIRED, UNMATCHED, Outcome(round_id="r1", leader_id="pl-1", outcome="cancelled")])
def test_a_task_has_no_web_address_and_no_internal_id(fmt, outcome):
    body = text_for(outcome, FORMATS[fmt])
    assert not re.search(r"https?://|www\.", body), "a link cannot be read out or put into braille"
    assert "pl-1" not in body and "cl-1" not in body and "registry" not in body and "leader pl" not in body
    assert "Amira Ahmed" in body and "open Leaders and search for Amira Ahmed" in body
    assert "Do it by: " in body and "0113 496 0123" in body


def test_a_braille_task_says_how_to_answer_by_phone_with_the_reference_and_by_when():
    body = text_for(PAIRED, FORMATS["braille"])
    assert body.startswith("Braille message for Amira Ahmed\n\nWhat to do: please have the message below put into braille")
    assert "Do it by: Thursday 17 December 2026, so they have it in time to answer by Tuesday 5 January 2027" in body
    assert "To say yes or no, call Priya Shah on 0113 496 0123, and quote your reference: K7P-CL1." in body
    assert "Format they asked for: braille." in body


def test_each_format_takes_its_own_time_and_settings_can_change_it():
    me = ME.model_copy(update=FORMATS["audio"])
    message = plan_message(PAIRED, me, CONTACTS, PROGRAMME_CONTACT)
    assert "Do it by: Thursday 24 December 2026" in task_text(message, me, DEFAULT_TASK_DAYS, TODAY)
    assert "Do it by: Tuesday 29 December 2026" in task_text(message, me, {**DEFAULT_TASK_DAYS, "audio": 4}, TODAY)


def test_the_easy_read_task_for_a_phone_call_has_no_links_either():
    body = text_for(PAIRED, {**FORMATS["phone"], "information_format": "easy_read"})
    assert "http" not in body and "Please phone Priya Shah." in body and "Your reference is K7P-CL1." in body
