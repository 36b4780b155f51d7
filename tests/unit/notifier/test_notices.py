"""Each kind of message (an outcome, a partner saying no, a follow-up) answers for itself: who is
told, whose details it needs, where its event came from, and what it does without details."""

import pytest
from notifier_samples import CONTACTS, PAIRED, PROGRAMME_CONTACT, PUBLISHED_ON, TWO_PARTNERS

from schemas.events import OutcomePublished, PairAnswer, PairDeclined
from schemas.topics import OUTCOMES, RESPONSES
from services.notifier.context import MessageRules
from services.notifier.domain.follow_ups import follow_ups
from services.notifier.notices import DeclineNotice, FollowUpNotice, OutcomeNotice, notice_for

pytestmark = pytest.mark.unit

RULES = MessageRules(programme=PROGRAMME_CONTACT)


def published(outcome=PAIRED) -> OutcomePublished:
    return OutcomePublished(producer="registry", correlation_id="r1", data=outcome)


def declined() -> PairDeclined:
    """cl-1 said no to pl-1: pl-1 is told."""
    return PairDeclined(
        producer="registry", correlation_id="r1", data=PairAnswer(round_id="r1", leader_id="cl-1", partner_id="pl-1")
    )


def reminder():
    return follow_ups(published(), PUBLISHED_ON, 3)[0].follow_up


def test_each_event_gets_its_own_kind_of_notice():
    assert isinstance(notice_for(published()), OutcomeNotice)
    assert isinstance(notice_for(declined()), DeclineNotice)
    assert isinstance(notice_for(reminder()), FollowUpNotice)


def test_an_outcome_goes_to_the_person_it_is_about_and_needs_every_partner():
    notice = notice_for(published(TWO_PARTNERS))
    assert (notice.leader_id, notice.about, notice.consumer) == ("cl-1", "outcome", "notifier.outcomes")
    assert notice.needed == ["cl-1", "pl-1", "cr-2"] and notice.wanted == []
    assert notice.source == (OUTCOMES, "cl-1")


def test_a_decline_goes_to_the_partner_and_only_wants_the_name_of_who_said_no():
    notice = notice_for(declined())
    assert (notice.leader_id, notice.about, notice.consumer) == ("pl-1", "partner_declined", "notifier.declines")
    assert notice.needed == ["pl-1"] and notice.wanted == ["cl-1"]
    assert notice.source == (RESPONSES, "r1")


def test_a_follow_up_was_never_on_a_topic_so_it_cannot_be_replayed():
    follow_up = reminder()
    notice = notice_for(follow_up)
    assert (notice.leader_id, notice.about, notice.consumer) == ("pl-1", "reminder", "notifier.follow_ups")
    assert notice.needed == ["pl-1", "cl-1"]
    assert notice.source is None


def test_keys_name_the_event_the_person_and_the_channel():
    event = declined()
    notice = notice_for(event)
    assert notice.job_key == f"{event.event_id}:pl-1"
    assert notice.key("sms") == f"{event.event_id}:pl-1:sms"
    assert notice.round_id == "r1"


def test_only_a_cancelled_outcome_cancels_the_round():
    cancelled = PAIRED.model_copy(update={"outcome": "cancelled", "partners": []})
    assert notice_for(published(cancelled)).cancels_round
    assert not notice_for(published()).cancels_round
    assert not notice_for(declined()).cancels_round
    assert not notice_for(reminder()).cancels_round


def test_a_text_can_only_ask_about_a_pair_with_one_partner():
    question = notice_for(published()).text_question()
    assert (question.leader_id, question.partner_id, question.round_id) == ("pl-1", "cl-1", "r1")
    assert notice_for(published(TWO_PARTNERS)).text_question() is None
    assert notice_for(declined()).text_question() is None
    assert notice_for(reminder()).text_question() is None


def test_without_details_a_person_passes_news_on_but_a_follow_up_is_dropped():
    why = "we do not have their contact details yet"
    for event in (published(), declined()):
        planned = notice_for(event).plan_for_a_person(RULES, {"pl-1": None}, why)
        assert planned.route.channel == "person" and why in planned.text
    assert notice_for(reminder()).plan_for_a_person(RULES, {"pl-1": None}, why) is None


def test_a_notice_plans_its_message_with_the_contacts_it_needs():
    assert notice_for(published()).plan(RULES, CONTACTS).round_id == "r1"
    with pytest.raises(LookupError):
        notice_for(published()).plan(RULES, {**CONTACTS, "pl-1": None})
