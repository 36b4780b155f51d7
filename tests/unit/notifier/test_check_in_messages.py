"""The words of 'Did you meet?', a check-in and the tasks their answers make: each format, text
messages within 2 parts, easy read with pictures, a link to the right page, never a person's own words."""

import datetime as dt

import pytest
from notifier_samples import ME, PAIRED, PARTNER, PROGRAMME_CONTACT, PUBLISHED_ON

from schemas.events import ContactProxy, FollowUpAnswer, FollowUpAnswered, OutcomePublished
from services.notifier.adapters.channels import task_text
from services.notifier.check_in_words import plan_question, question_link
from services.notifier.domain.check_ins import CHECK_IN, MET_QUESTION, Question, questions_for, task_for
from services.notifier.domain.replies import read_follow_up_reply
from services.notifier.domain.sms import fits
from services.notifier.domain.tasks import DEFAULT_TASK_DAYS
from services.notifier.notices import QuestionNotice, notice_for

pytestmark = pytest.mark.unit

LONG_NAME = "Bartholomew-Alexander Featherstonehaugh-Montgomery"
SHORT = "http://127.0.0.1:8000/a/k7mp2qr9wxtd"  # a short answer link, as the registry sends now
PAIRED_NOW = PAIRED.model_copy(update={"partners": [PAIRED.partners[0].model_copy(update={"accept_url": SHORT})]})


def asked(kind: str, number: int = 0, outcome=PAIRED_NOW) -> Question:
    """The question as the schedule holds it: a later check-in is the first one's with its number (next_check_in)."""
    made = questions_for(OutcomePublished(producer="registry", correlation_id="r1", data=outcome), PUBLISHED_ON)
    first = next(d.job for d in made if d.job.data.kind == kind and d.job.data.number == min(number, 1)).data
    return first.model_copy(update={"number": number}) if kind == CHECK_IN else first


def task(answer: str, question: str = "met") -> Question:
    data = FollowUpAnswer(
        round_id="r1", leader_id="pl-1", partner_id="cl-1", question=question, answer=answer, reference="K7P-4QXM", has_words=True
    )
    due = task_for(FollowUpAnswered(producer="registry", correlation_id="r1", data=data), dt.date(2027, 1, 13), 14)
    assert due is not None
    return due.job.data


def test_each_question_links_to_its_own_page_on_the_persons_answer_link():
    assert question_link(asked(MET_QUESTION)) == f"{SHORT}/met"
    assert question_link(asked(CHECK_IN, 2)) == f"{SHORT}/check-in/2"


def test_a_long_link_from_before_links_were_short_gives_no_link_but_the_phone_number():
    old = asked(MET_QUESTION, outcome=PAIRED)
    assert question_link(old) == ""
    message = plan_question(old, ME, PARTNER, PROGRAMME_CONTACT)
    assert "http" not in message.text and PROGRAMME_CONTACT.phone in message.text
    texted = plan_question(
        old, ME.model_copy(update={"contact_method": "sms", "phone": "07700 900123"}), PARTNER, PROGRAMME_CONTACT
    )
    assert "http" not in texted.sms and fits(texted.sms)


@pytest.mark.parametrize("format_", ["standard", "large_print_24", "easy_read"])
def test_did_you_meet_names_the_partner_and_all_three_answers(format_):
    me = ME.model_copy(update={"information_format": format_})
    message = plan_question(asked(MET_QUESTION), me, PARTNER, PROGRAMME_CONTACT)
    text = message.text.lower()
    assert f"did you meet {PARTNER.name.lower()}?" in text
    assert "not yet" in text and "we need help" in text
    assert question_link(asked(MET_QUESTION)) in message.html
    assert PROGRAMME_CONTACT.phone in message.text  # answerable by phone, without the internet


@pytest.mark.parametrize("format_", ["standard", "large_print_24", "easy_read"])
def test_a_check_in_asks_how_it_is_going_and_says_only_the_team_sees_the_answer(format_):
    me = ME.model_copy(update={"information_format": format_})
    message = plan_question(asked(CHECK_IN, 1), me, PARTNER, PROGRAMME_CONTACT)
    text = message.text.lower()
    assert "how is it going" in text
    assert "going well" in text and "some problems" in text and "we need help" in text
    assert "only" in text and "team" in text


def test_easy_read_has_pictures():
    me = ME.model_copy(update={"information_format": "easy_read"})
    for question in (asked(MET_QUESTION), asked(CHECK_IN, 1)):
        message = plan_question(question, me, PARTNER, PROGRAMME_CONTACT)
        assert any(block.picture for block in message.blocks)
        assert "<img" in message.html


@pytest.mark.parametrize("kind", [MET_QUESTION, CHECK_IN])
def test_text_messages_fit_in_two_parts_with_the_link_even_with_long_names(kind):
    me = ME.model_copy(update={"contact_method": "sms", "phone": "07700 900123", "name": LONG_NAME})
    other = PARTNER.model_copy(update={"name": "Maximiliana Wolfeschlegelsteinhausen-Bergerdorff"})
    question = asked(kind, 1 if kind == CHECK_IN else 0)
    message = plan_question(question, me, other, PROGRAMME_CONTACT)
    assert message.channel == "sms"
    assert fits(message.sms)
    assert question_link(question) in message.sms


def test_someone_who_needs_braille_is_asked_by_a_person_with_no_link():
    me = ME.model_copy(update={"information_format": "braille"})
    message = plan_question(asked(MET_QUESTION), me, PARTNER, PROGRAMME_CONTACT)
    assert message.channel == "person"
    assert "http" not in message.text
    assert PROGRAMME_CONTACT.phone in message.text


@pytest.mark.parametrize(
    ("answer", "question", "title"), [("not_yet", "met", "Not met yet"), ("need_help", "check_in", "Asked for help")]
)
def test_a_task_for_the_team_says_who_and_how_to_reach_them_but_never_their_words_or_ids(answer, question, title):
    planned = plan_question(task(answer, question), ME, PARTNER, PROGRAMME_CONTACT)
    assert planned.channel == "person"
    assert planned.route.task == answer
    assert planned.subject == f"{title}: {ME.name}"
    assert "K7P-4QXM" in planned.text and "follow-up page" in planned.text
    assert "pl-1" not in planned.text and "cl-1" not in planned.text
    written = task_text(planned, ME, DEFAULT_TASK_DAYS, dt.date(2027, 1, 13))
    assert "http" not in written


def test_the_not_yet_task_says_how_long_ago_they_said_not_yet():
    planned = plan_question(task("not_yet"), ME, PARTNER, PROGRAMME_CONTACT)
    assert "14 days later" in planned.text


def test_the_notice_reports_what_the_message_is_about():
    made = questions_for(OutcomePublished(producer="registry", correlation_id="r1", data=PAIRED), PUBLISHED_ON)
    notice = notice_for(made[0].job)
    assert isinstance(notice, QuestionNotice)
    assert (notice.leader_id, notice.about, notice.needed, notice.source) == ("pl-1", MET_QUESTION, ["pl-1", "cl-1"], None)


@pytest.mark.parametrize(
    ("question", "words", "answer"),
    [
        ("met", "YES", "met"),
        ("met", " not yet! ", "not_yet"),
        ("met", "No", "not_yet"),
        ("met", "help", "need_help"),
        ("met", "we met once but", None),
        ("check_in", "Well", "going_well"),
        ("check_in", "some problems", "some_problems"),
        ("check_in", "We need help.", "need_help"),
        ("check_in", "yes", None),
    ],
)
def test_only_a_clear_reply_to_a_text_counts(question, words, answer):
    assert read_follow_up_reply(words, question) == answer


@pytest.mark.parametrize(
    ("kind", "offer"), [(MET_QUESTION, "reply: yes, not yet or help"), (CHECK_IN, "reply: well, problems or help")]
)
def test_a_text_to_the_person_offers_a_reply_and_opens_a_question_a_reply_can_answer(kind, offer):
    me = ME.model_copy(update={"contact_method": "sms", "phone": "07700 900123"})
    question = asked(kind, 1 if kind == CHECK_IN else 0)
    message = plan_question(question, me, PARTNER, PROGRAMME_CONTACT)
    assert offer in message.sms and fits(message.sms)
    made = questions_for(OutcomePublished(producer="registry", correlation_id="r1", data=PAIRED_NOW), PUBLISHED_ON)
    job = next(d.job for d in made if d.job.data.kind == kind and d.job.data.number == question.number)
    row = notice_for(job).text_question()
    assert row is not None and (row.kind, row.number) == (("met", 0) if kind == MET_QUESTION else ("check_in", 1))


def test_a_text_to_the_person_they_named_offers_no_reply():
    proxy = ContactProxy(name="Sam Ahmed", relationship="brother", phone="07700 900999")
    me = ME.model_copy(update={"contact_method": "via_carer", "proxy": proxy})
    message = plan_question(asked(MET_QUESTION), me, PARTNER, PROGRAMME_CONTACT)
    if message.channel == "sms":
        assert "reply" not in message.sms.lower()
    assert "reply:" not in message.text


def test_a_task_opens_no_question_for_a_text_reply():
    due = task_for(
        FollowUpAnswered(
            producer="registry",
            correlation_id="r1",
            data=FollowUpAnswer(round_id="r1", leader_id="pl-1", partner_id="cl-1", question="met", answer="need_help"),
        ),
        dt.date(2027, 1, 13),
        14,
    )
    assert due is not None and notice_for(due.job).text_question() is None
