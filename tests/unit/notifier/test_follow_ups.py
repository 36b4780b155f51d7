"""Reminders and "no answer yet" tasks: when they are due (working days, bank holidays, London time),
what they say, in each format, and that nothing ever declines for a person."""

import datetime as dt
import re

import pytest
from notifier_samples import ME, PAIRED, PARTNER, PROGRAMME_CONTACT, SECOND, TWO_PARTNERS

from schemas.events import ContactProxy, OutcomePublished
from services.notifier.adapters.channels import task_text
from services.notifier.domain.follow_ups import (
    NO_ANSWER,
    REMINDER,
    escalate_on,
    follow_up_id,
    follow_ups,
    reminder_on,
)
from services.notifier.domain.sms import segments
from services.notifier.domain.tasks import DEFAULT_TASK_DAYS
from services.notifier.follow_up_words import NEVER_DECLINE, plan_follow_up

pytestmark = pytest.mark.unit

ASKED_ON = dt.date(2026, 12, 15)  # a Tuesday


def published(outcome=PAIRED) -> OutcomePublished:
    return OutcomePublished(producer="registry", correlation_id="r1", data=outcome)


def due(outcome=PAIRED, asked_on=ASKED_ON, days=3) -> dict:
    return {(d.follow_up.data.kind, d.follow_up.data.partner_id): d for d in follow_ups(published(outcome), asked_on, days)}


def test_a_reminder_counts_back_working_days_past_a_bank_holiday():
    # Answer by Tuesday 5 January 2027: Monday 4, (Friday 1 is New Year's Day), Thursday 31, Wednesday 30.
    assert reminder_on(dt.date(2027, 1, 5), 3) == dt.date(2026, 12, 30)
    # The same count with no holiday in the way: Friday 12, Thursday 11, Wednesday 10 March.
    assert reminder_on(dt.date(2027, 3, 15), 3) == dt.date(2027, 3, 10)
    assert reminder_on(dt.date(2027, 1, 5), 1) == dt.date(2027, 1, 4)


def test_the_team_is_asked_on_the_first_working_day_after_the_answer_date():
    assert escalate_on(dt.date(2027, 1, 5)) == dt.date(2027, 1, 6)  # Tuesday: the next morning
    assert escalate_on(dt.date(2026, 12, 24)) == dt.date(2026, 12, 29)  # Christmas, a weekend and Boxing Day (moved)
    assert escalate_on(dt.date(2027, 3, 25)) == dt.date(2027, 3, 30)  # Good Friday, the weekend and Easter Monday


def test_a_paired_outcome_has_a_reminder_and_a_task_for_each_partner_at_london_times():
    found = due()
    reminder, task = found[(REMINDER, "cl-1")], found[(NO_ANSWER, "cl-1")]
    assert reminder.at == dt.datetime(2026, 12, 30, 10, tzinfo=dt.UTC)  # 10:00 in London, in winter
    assert task.at == dt.datetime(2027, 1, 6, 9, tzinfo=dt.UTC)
    assert sorted(due(TWO_PARTNERS)) == [(NO_ANSWER, "cr-2"), (NO_ANSWER, "pl-1"), (REMINDER, "cr-2"), (REMINDER, "pl-1")]


def test_summer_time_keeps_ten_in_the_morning_in_london():
    summer = PAIRED.model_copy(update={"respond_by": dt.date(2027, 6, 15)})
    assert due(summer, dt.date(2027, 6, 1))[(REMINDER, "cl-1")].at == dt.datetime(2027, 6, 10, 9, tzinfo=dt.UTC)


def test_no_reminder_when_its_day_is_not_after_the_day_they_were_asked():
    found = due(asked_on=dt.date(2026, 12, 30))
    assert sorted(found) == [(NO_ANSWER, "cl-1")], "a reminder with the first message would be no reminder"


def test_nothing_for_an_outcome_that_asks_nothing():
    assert due(PAIRED.model_copy(update={"respond_by": None})) == {}
    assert due(PAIRED.model_copy(update={"outcome": "unmatched", "partners": []})) == {}


def test_a_follow_up_has_the_same_id_however_often_it_is_made():
    again = follow_ups(OutcomePublished(producer="registry", correlation_id="r1", data=PAIRED), ASKED_ON, 3)
    assert {d.follow_up.event_id for d in follow_ups(published(), ASKED_ON, 3)} == {d.follow_up.event_id for d in again}
    assert follow_up_id("r1", "pl-1", "cl-1", REMINDER) != follow_up_id("r1", "cl-1", "pl-1", REMINDER)


def reminder_for(change: dict, outcome=PAIRED, partner=PARTNER):
    found = due(outcome)
    follow_up = found[(REMINDER, partner.leader_id)].follow_up.data
    return plan_follow_up(follow_up, ME.model_copy(update=change), partner, PROGRAMME_CONTACT)


def test_the_reminder_says_what_we_asked_by_when_how_to_answer_and_that_no_is_fine():
    message = reminder_for({})
    assert message.channel == "email"
    text = message.text
    assert "On Tuesday 15 December 2026 we wrote to you about a partner" in text and "Ben Bell" in text
    assert "Please tell us by Tuesday 5 January 2027" in text
    assert PAIRED.partners[0].accept_url in text and PAIRED.partners[0].decline_url in text
    assert "0113 496 0123" in text and "K7P-CL1" in text
    assert "It is fine to say no" in text and "If you have told us already" in text
    assert message.answer_by == dt.date(2027, 1, 5) and message.meetings == ()


def test_the_reminder_keeps_their_format_and_channel():
    large = reminder_for({"information_format": "large_print_24"})
    assert large.route.font_points == 24 and "font-size: 24pt" in large.html
    easy = reminder_for({"information_format": "easy_read"})
    assert easy.route.style == "easy_read" and "question" in [b.picture for b in easy.blocks]
    letter = reminder_for({"contact_method": "letter", "postal_address": "1 Example Street, Newcastle"})
    assert letter.channel == "letter" and letter.answers == (("Ben Bell", "K7P-CL1"),), "a reply slip to post back"


def test_a_reminder_by_text_fits_two_parts_and_has_both_links():
    text = reminder_for({"contact_method": "sms", "phone": "07700 900123"}).sms
    assert segments(text) <= 2
    assert PAIRED.partners[0].accept_url in text and PAIRED.partners[0].decline_url in text
    assert "fine to say no" in text


def test_a_long_name_still_fits_two_parts():
    long_name = {"contact_method": "sms", "phone": "07700 900123", "name": "Amira Ahmed-Montgomery-Fitzwilliam"}
    partner = PARTNER.model_copy(update={"name": "Benedict Bartholomew-Bellingham"})
    text = reminder_for(long_name, partner=partner).sms
    assert segments(text) <= 2 and "fine to say no" in text


@pytest.mark.parametrize("change", [{"information_format": "braille"}, {"contact_method": "telephone", "phone": "07700 900123"}])
def test_a_reminder_a_person_must_give_has_no_web_address(change):
    message = reminder_for(change)
    assert message.channel == "person"
    task = task_text(message, ME.model_copy(update=change), DEFAULT_TASK_DAYS, ASKED_ON)
    assert not re.search(r"https?://", task)
    assert "call Priya Shah on 0113 496 0123, and quote your reference: K7P-CL1" in task


def test_to_the_person_a_leader_named_the_reminder_says_who_it_is_for():
    proxy = ContactProxy(name="Sam Ahmed", relationship="son", email="sam@example.org")
    message = reminder_for({"contact_method": "via_carer", "proxy": proxy})
    assert message.route.to_proxy and message.text.startswith("This message is for Amira Ahmed")


def no_answer_task(change: dict, partner=PARTNER, outcome=PAIRED):
    follow_up = due(outcome)[(NO_ANSWER, partner.leader_id)].follow_up.data
    return plan_follow_up(follow_up, ME.model_copy(update=change), partner, PROGRAMME_CONTACT)


def test_the_task_says_who_has_not_answered_about_whom_by_when_and_how_to_reach_them():
    message = no_answer_task({"contact_method": "sms", "phone": "07700 900123"})
    assert (message.channel, message.route.task) == ("person", "no_answer")
    text = message.text
    assert "No answer yet from Amira Ahmed" in text and "work with Ben Bell" in text
    assert "answer by Tuesday 5 January 2027" in text
    assert "They asked to be contacted by text message." in text and "Phone: 07700 900123" in text
    assert "K7P-CL1" in text
    assert f"{NEVER_DECLINE}." in text


def test_the_task_has_no_web_address_and_no_internal_id_and_its_report_names_nobody():
    message = no_answer_task({})
    task = task_text(message, ME, DEFAULT_TASK_DAYS, dt.date(2027, 1, 6))
    assert not re.search(r"https?://|\b(?:pl|cl|cr)-\d+\b", task)
    assert "Do it by: Friday 8 January 2027" in task, "two working days"
    why = message.why_a_person  # goes into the delivery report, on a topic
    assert "Amira" not in why and "Ben" not in why and "K7P-CL1" in why and NEVER_DECLINE in why


def test_the_task_says_who_gets_their_messages_when_they_agreed():
    proxy = ContactProxy(name="Sam Ahmed", relationship="son", phone="07700 900456")
    text = no_answer_task({"contact_method": "via_carer", "proxy": proxy}).text
    assert "They agreed that we send their messages to Sam Ahmed, their son: 07700 900456." in text


def test_a_professional_with_two_partners_gets_a_task_about_each():
    follow_ups_for = due(TWO_PARTNERS)
    second = follow_ups_for[(NO_ANSWER, "cr-2")].follow_up.data
    text = plan_follow_up(second, PARTNER, SECOND, PROGRAMME_CONTACT).text
    assert "No answer yet from Ben Bell" in text and "work with Chloe Carter" in text and "K7P-CR2" in text
