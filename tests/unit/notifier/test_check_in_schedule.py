"""'Did you meet?' and check-ins: when each is asked (working days, bank holidays, the programme's
schedule, London time, for as long as the round is open), and which answers make a task for the team,
and when."""

import datetime as dt

import pytest
from notifier_samples import FIRST_MEETING, PAIRED, PUBLISHED_ON, TWO_PARTNERS

from schemas.events import CheckInPlan, FollowUpAnswer, FollowUpAnswered, OutcomePublished
from services.notifier.domain.check_ins import (
    CHECK_IN,
    MET_QUESTION,
    NEED_HELP,
    NO_MEETING_DAYS,
    NOT_YET,
    QuestionDue,
    asked_again,
    check_in_day,
    check_in_days,
    met_question_on,
    next_check_in,
    not_yet_task_on,
    questions_for,
    superseded_by,
    task_for,
)

pytestmark = pytest.mark.unit

LONDON_TEN_IN_WINTER = dt.time(10)  # London is on UTC in winter


def published(outcome=PAIRED) -> OutcomePublished:
    return OutcomePublished(producer="registry", correlation_id="r1", data=outcome)


def answered(answer: str, question: str = "met", number: int = 0) -> FollowUpAnswered:
    data = FollowUpAnswer(
        round_id="r1", leader_id="pl-1", partner_id="cl-1", question=question, number=number, answer=answer, reference="K7P-4QXM"
    )
    return FollowUpAnswered(producer="registry", correlation_id="r1", data=data)


def test_did_you_meet_is_asked_the_working_day_after_the_first_meeting():
    assert FIRST_MEETING.date == dt.date(2027, 1, 12)  # a Tuesday
    assert met_question_on(FIRST_MEETING.date, PUBLISHED_ON) == dt.date(2027, 1, 13)
    # A Friday meeting: asked on Monday, not at the weekend.
    assert met_question_on(dt.date(2027, 1, 15), PUBLISHED_ON) == dt.date(2027, 1, 18)


def test_did_you_meet_skips_christmas_and_the_boxing_day_bank_holiday():
    # Thursday 24 December 2026: Friday is Christmas Day, Boxing Day's holiday moves to Monday 28.
    assert met_question_on(dt.date(2026, 12, 24), PUBLISHED_ON) == dt.date(2026, 12, 29)


def test_with_no_first_meeting_suggested_they_are_asked_four_weeks_after_publishing():
    assert met_question_on(None, dt.date(2027, 2, 1)) == dt.date(2027, 2, 1) + dt.timedelta(days=NO_MEETING_DAYS)
    # Four weeks after Saturday 6 March 2027 is a Saturday: asked on the Monday.
    assert met_question_on(None, dt.date(2027, 3, 6)) == dt.date(2027, 4, 5)


def test_check_ins_come_30_days_after_publishing_then_every_60_on_working_days():
    days = check_in_days(dt.date(2027, 2, 1), 30, 60, 3)
    # Sunday 2 May 2027, and Monday 3 May is the early May bank holiday: the second check-in is on the 4th.
    assert days[:3] == [dt.date(2027, 3, 3), dt.date(2027, 5, 4), dt.date(2027, 7, 1)]
    # 1 May 2027 is a Saturday and Monday 3 May the early May bank holiday: it moves to the 4th.
    assert check_in_day(dt.date(2027, 3, 2), 60, 60, 1) == dt.date(2027, 5, 4)
    assert all(d.weekday() < 5 for d in days)


def test_a_check_in_on_christmas_day_waits_for_the_next_working_day():
    assert check_in_day(dt.date(2026, 11, 25), 30, 60, 1) == dt.date(2026, 12, 29)


def test_the_programme_sets_the_gaps_and_there_is_no_last_check_in():
    assert check_in_days(dt.date(2027, 2, 1), 14, 28, 3) == [dt.date(2027, 2, 15), dt.date(2027, 3, 15), dt.date(2027, 4, 12)]
    # Five years on, still on the schedule: 30 days, then 30 more times 60 days, is Thursday 5 February 2032.
    assert check_in_day(dt.date(2027, 2, 1), 30, 60, 31) == dt.date(2032, 2, 5)
    with pytest.raises(ValueError, match="at least one day"):
        check_in_days(dt.date(2027, 2, 1), 30, 0, 2)


def gone(number: int, outcome=PAIRED) -> QuestionDue:
    """Check-in `number` of pl-1's outcome, as the schedule held it when it went."""
    (first,) = [d for d in questions_for(published(outcome), PUBLISHED_ON) if d.job.data.kind == CHECK_IN]
    days = check_in_days(PUBLISHED_ON, 30, 60, number)
    return first.job.model_copy(update={"data": first.job.data.model_copy(update={"number": number, "due_on": days[-1]})})


def test_when_a_check_in_has_gone_the_next_one_follows_on_the_schedule_however_long_the_round_lasts():
    second = next_check_in(gone(1), dt.date(2027, 1, 14))
    assert second is not None
    assert (second.job.data.number, second.job.data.due_on) == (2, dt.date(2027, 3, 15))  # 90 days after 15 December
    assert second.at == dt.datetime(2027, 3, 15, 10, tzinfo=dt.UTC)
    assert second.job.data.outcome == PAIRED and second.job.data.published_on == PUBLISHED_ON
    # The fortieth check-in, six and a half years on: counted from publishing, not drifting from the last one sent.
    forty = next_check_in(gone(40), dt.date(2033, 6, 1))
    assert forty is not None and forty.job.data.due_on == check_in_day(PUBLISHED_ON, 30, 60, 41)
    third, again = next_check_in(gone(2), dt.date(2027, 3, 15)), next_check_in(gone(2), dt.date(2027, 3, 16))
    assert third is not None and again is not None
    assert third.job.event_id == again.job.event_id != second.job.event_id, "the same check-in, however often it follows"


def test_a_check_in_sent_late_is_not_followed_at_once_by_the_next():
    # Check-in 1 went only on Monday 10 May 2027 (the notifier was away): the next is not due that week of
    # its schedule (15 March) but the next working day, Tuesday 11 May.
    late = next_check_in(gone(1), dt.date(2027, 5, 10))
    assert late is not None and late.job.data.due_on == dt.date(2027, 5, 11)


def test_only_a_check_in_is_followed_by_another():
    (met,) = [d for d in questions_for(published(), PUBLISHED_ON) if d.job.data.kind == MET_QUESTION]
    assert next_check_in(met.job, dt.date(2027, 1, 13)) is None


def test_a_paired_outcome_puts_both_questions_on_the_schedule_at_ten_in_london():
    due = questions_for(published(), PUBLISHED_ON)
    met = [d for d in due if d.job.data.kind == MET_QUESTION]
    check_ins = [d for d in due if d.job.data.kind == CHECK_IN]
    assert [(d.job.data.partner_id, d.at) for d in met] == [("cl-1", dt.datetime(2027, 1, 13, 10, tzinfo=dt.UTC))]
    assert [d.job.data.number for d in check_ins] == [1], "only the first: each puts the next on the schedule"
    assert check_ins[0].job.data.due_on == dt.date(2027, 1, 14)  # 30 days after Tuesday 15 December 2026
    # In summer London is an hour ahead of UTC: still ten o'clock for the person.
    summer = next_check_in(gone(3), dt.date(2027, 5, 20))
    assert summer is not None and summer.job.data.due_on.month == 7 and summer.at.hour == 9


def test_the_programmes_own_check_in_plan_is_followed():
    outcome = PAIRED.model_copy(update={"check_ins": CheckInPlan(first_days=14, every_days=90)})
    (first,) = [d for d in questions_for(published(outcome), PUBLISHED_ON) if d.job.data.kind == CHECK_IN]
    second = next_check_in(first.job, dt.date(2026, 12, 29))
    # 14 days after Tuesday 15 December 2026; then 90 days on is Easter Monday 2027, so the Tuesday.
    assert second is not None
    assert [first.job.data.due_on, second.job.data.due_on] == [dt.date(2026, 12, 29), dt.date(2027, 3, 30)]


def test_each_partner_of_a_professional_is_asked_about_separately_and_ids_repeat_for_a_redelivery():
    event = published(TWO_PARTNERS)
    first = questions_for(event, PUBLISHED_ON)
    again = questions_for(event.model_copy(update={"event_id": published(TWO_PARTNERS).event_id}), PUBLISHED_ON)
    assert {d.job.data.partner_id for d in first if d.job.data.kind == MET_QUESTION} == {"pl-1", "cr-2"}
    assert [d.job.event_id for d in first] == [d.job.event_id for d in again]
    assert len({d.job.event_id for d in first}) == len(first)


def test_an_outcome_that_pairs_nobody_asks_nothing():
    assert questions_for(published(PAIRED.model_copy(update={"outcome": "unmatched", "partners": []})), PUBLISHED_ON) == []


def test_not_yet_becomes_a_task_fourteen_days_later_on_a_working_day():
    assert not_yet_task_on(dt.date(2027, 1, 13), 14) == dt.date(2027, 1, 27)
    # Monday 15 March 2027 + 14 days is Easter Monday: the task waits for the Tuesday.
    assert not_yet_task_on(dt.date(2027, 3, 15), 14) == dt.date(2027, 3, 30)
    due = task_for(answered("not_yet"), dt.date(2027, 1, 13), 14)
    assert due is not None
    assert (due.job.data.kind, due.job.data.due_on, due.at) == (
        NOT_YET,
        dt.date(2027, 1, 27),
        dt.datetime(2027, 1, 27, 9, tzinfo=dt.UTC),
    )
    assert due.job.data.reference == "K7P-4QXM"


def test_we_need_help_is_a_task_at_once_from_either_question():
    for question, number in (("met", 0), ("check_in", 2)):
        due = task_for(answered("need_help", question, number), dt.date(2027, 1, 13), 14)
        assert due is not None
        assert (due.job.data.kind, due.job.data.number, due.job.data.due_on) == (NEED_HELP, number, dt.date(2027, 1, 13))
        assert due.at <= dt.datetime(2027, 1, 13, tzinfo=dt.UTC)


def test_other_answers_make_no_task():
    for answer, question in (("met", "met"), ("going_well", "check_in"), ("some_problems", "check_in")):
        assert task_for(answered(answer, question), dt.date(2027, 1, 13), 14) is None


def planning(day: dt.date) -> FollowUpAnswered:
    event = answered("not_yet")
    return event.model_copy(update={"data": event.data.model_copy(update={"meeting_on": day})})


def test_not_yet_with_a_date_they_set_asks_again_after_it_and_the_task_waits_for_it():
    again = asked_again(planning(dt.date(2027, 2, 5)), dt.date(2027, 1, 13))
    other = asked_again(planning(dt.date(2027, 2, 9)), dt.date(2027, 1, 13))
    assert again is not None and other is not None
    assert (again.job.data.kind, again.job.data.due_on) == (MET_QUESTION, dt.date(2027, 2, 8))  # the Monday after a Friday
    assert again.job.event_id != other.job.event_id, "each date set asks once"
    task = task_for(planning(dt.date(2027, 2, 5)), dt.date(2027, 1, 13), 14)
    assert task is not None and task.job.data.due_on == dt.date(2027, 2, 19), "14 days after the date they set"
    assert asked_again(answered("not_yet"), dt.date(2027, 1, 13)) is None, "no date, no second question"
    assert asked_again(planning(dt.date(2027, 1, 12)), dt.date(2027, 1, 13)) is None, "a date already past"


def test_each_not_yet_is_a_task_of_its_own_and_remembers_when_it_was_given():
    first, later = planning(dt.date(2027, 2, 5)), planning(dt.date(2027, 3, 5))
    one, two = task_for(first, dt.date(2027, 1, 13), 14), task_for(later, dt.date(2027, 2, 8), 14)
    assert one is not None and two is not None
    assert one.job.event_id != two.job.event_id, "a task written already does not stop the next one"
    assert task_for(first, dt.date(2027, 1, 13), 14).job.event_id == one.job.event_id  # type: ignore[union-attr]
    assert (one.job.data.answer_at, two.job.data.answer_at) == (first.occurred_at, later.occurred_at)


def test_a_not_yet_given_before_the_one_that_set_the_dates_changes_nothing():
    earlier, latest = planning(dt.date(2027, 3, 5)), planning(dt.date(2027, 2, 5))
    latest = latest.model_copy(update={"occurred_at": earlier.occurred_at + dt.timedelta(minutes=5)})
    set_by_latest = [
        d.job.data for d in (task_for(latest, dt.date(2027, 1, 13), 14), asked_again(latest, dt.date(2027, 1, 13))) if d
    ]
    assert superseded_by(earlier, set_by_latest), "the earlier answer came late: the latest stands"
    set_by_earlier = [d.job.data for d in (task_for(earlier, dt.date(2027, 1, 13), 14),) if d]
    assert not superseded_by(latest, set_by_earlier)
    assert not superseded_by(earlier, []), "nothing waiting: it stands"
