"""When a round closes with the manager's words: everyone in it is told, once, in their format (issue 18)."""

import pytest
from notifier_samples import ME, PROGRAMME_CONTACT

from schemas.events import ContactProxy, RoundFeedback, RoundFeedbackShared
from services.common import round_feedback as words
from services.notifier.domain.round_feedback import feedback_messages
from services.notifier.domain.sms import segments
from services.notifier.notices import FeedbackNotice, notice_for
from services.notifier.round_feedback_words import plan_round_feedback, plan_round_feedback_task

pytestmark = pytest.mark.unit

SAID = (
    "Because of your work, the hospital now books interpreters before the first visit. "
    "Carers now get a named contact on every ward.\n"
    "Eleven pairs met at least four times. Two of your ideas are now part of how new staff are trained."
)


def shared(leader_ids=("pl-1", "cl-1"), message=SAID) -> RoundFeedbackShared:
    data = RoundFeedback(round_id="r1", leader_ids=list(leader_ids), message=message, programme=PROGRAMME_CONTACT)
    return RoundFeedbackShared(producer="registry", correlation_id="r1", data=data)


def test_everyone_named_gets_one_message_with_an_id_the_same_every_time():
    event = shared(("pl-1", "cl-1", "pl-1"))
    first, again = feedback_messages(event), feedback_messages(event)
    assert [m.data.leader_id for m in first] == ["pl-1", "cl-1"]
    assert [m.event_id for m in first] == [m.event_id for m in again]
    notice = notice_for(first[0])
    assert isinstance(notice, FeedbackNotice)
    assert (notice.leader_id, notice.about, notice.needed, notice.wanted) == ("pl-1", "round_feedback", ["pl-1"], [])


@pytest.mark.parametrize(
    ("format_", "channel", "extra"),
    [
        ("standard", "email", {}),
        ("large_print_24", "email", {}),
        ("easy_read", "email", {}),
        ("standard", "letter", {"contact_method": "letter", "postal_address": "1 Example Street, Leeds, LS1 1AA"}),
    ],
)
def test_every_written_format_carries_the_managers_words_and_how_to_reach_the_team(format_, channel, extra):
    me = ME.model_copy(update={"information_format": format_, **extra})
    message = plan_round_feedback(feedback_messages(shared())[0].data, me, "unused")
    assert message.channel == channel
    assert "Carers now get a named contact on every ward." in message.text
    assert "Eleven pairs met at least four times." in message.text
    assert ME.name in message.text and PROGRAMME_CONTACT.phone in message.text
    assert "Thank you" in message.text


def test_easy_read_puts_one_sentence_on_each_line_with_pictures():
    me = ME.model_copy(update={"information_format": "easy_read"})
    message = plan_round_feedback(feedback_messages(shared())[0].data, me, "unused")
    paragraphs = [b.text for b in message.blocks if b.kind == "p"]
    assert "Carers now get a named contact on every ward." in paragraphs
    assert "Eleven pairs met at least four times." in paragraphs
    assert any(block.picture for block in message.blocks) and "<img" in message.html


LONG_NAME = "Bartholomew-Alexander Featherstonehaugh-Montgomery"


@pytest.mark.parametrize("message", [SAID, "We met. " * 200, "A" * 1500, "Short and sweet."])
@pytest.mark.parametrize("to_proxy", [False, True])
def test_a_text_message_fits_in_two_parts_whatever_the_words(message, to_proxy):
    update = {"contact_method": "sms", "phone": "07700 900123", "name": LONG_NAME}
    if to_proxy:
        update = {
            "contact_method": "via_carer",
            "name": LONG_NAME,
            "proxy": ContactProxy(name="Sam", relationship="son", phone="07700 900456"),
        }
    me = ME.model_copy(update=update)
    planned = plan_round_feedback(feedback_messages(shared(message=message))[0].data, me, "unused")
    assert planned.channel == "sms"
    assert segments(planned.sms) <= 2, planned.sms
    assert PROGRAMME_CONTACT.phone in planned.sms


def test_a_text_message_keeps_whole_sentences_and_says_how_to_hear_the_rest():
    text = words.text_message("Amira Ahmed", SAID, words.FeedbackContact(team="the team", phone="0113 496 0123"))
    assert "the hospital now books interpreters before the first visit." in text
    assert "Two of your ideas" not in text  # no room: not cut in the middle of a sentence
    assert text.endswith("To hear more: call 0113 496 0123.")
    short = words.text_message("Amira Ahmed", "Short and sweet.", words.FeedbackContact(team="the team", phone="0113 496 0123"))
    assert short.endswith("Short and sweet. Questions: call 0113 496 0123.")


@pytest.mark.parametrize(
    "text", ["plain", "Curly \u2018quotes\u2019 and \u2014 dashes", "Euro \u20ac and {braces}", "\u00e1" * 80, "\U0001f600" * 40]
)
def test_the_registrys_count_of_text_message_parts_agrees_with_the_notifiers(text):
    assert words.sms_parts(text) == segments(text)


def test_the_managers_words_cannot_become_headings_or_pictures():
    assert words.paragraphs("# Big news\n@tick we did it\n\n  two   spaces ") == ["Big news", "tick we did it", "two spaces"]


def test_a_task_for_a_person_carries_the_words_without_an_internal_id():
    news = feedback_messages(shared())[0].data
    planned = plan_round_feedback_task(news, {"pl-1": ME}, "no details", PROGRAMME_CONTACT)
    assert planned.channel == "person"
    assert "Carers now get a named contact on every ward." in planned.text and ME.name in planned.text
    assert "pl-1" not in planned.text
