import datetime as dt
import itertools
import re
import sys
from html.parser import HTMLParser

import pytest
from notifier_samples import (
    CONTACTS,
    ME,
    PAIRED,
    PARTNER,
    PROGRAMME_CONTACT,
    PUBLISHED_ON,
    RESPOND_BY,
    TWO_PARTNERS,
    UNMATCHED,
    partner,
)

from schemas.events import PairAnswer
from services.notifier.compose import london_date, plan_message, plan_partner_declined
from services.notifier.domain.messages import choose_route, one_line, parse_blocks, plain_text
from services.notifier.domain.sms import segments
from services.notifier.domain.wording import _line

pytestmark = pytest.mark.unit


def plan(outcome=PAIRED, me=ME, **change):
    return plan_message(outcome, me.model_copy(update=change), CONTACTS, PROGRAMME_CONTACT)


def test_a_paired_message_says_who_why_when_how_what_it_costs_and_what_next():
    message = plan()
    assert message.channel == "email"
    for expected in (
        "Dear Amira Ahmed",
        "Ben Bell (he/him) is a clinical leader: a doctor, nurse, therapist or other health worker.",
        "Ben Bell works at Newcastle Hospitals.",
        "You both care about cardiac care",
        "Tuesday, 10:00 to 12:30",
        "You can meet by video call or in person.",
        "We suggest you first meet on Tuesday 12 January 2027, from 10:00 to 11:00.",
        "Your programme manager will check the date, time and place",
        "We pay your travel costs",
        "keep your tickets and receipts. Send them to Priya Shah by post",
        "Please tell us by Tuesday 5 January 2027",
        "What happens next",
        # How to answer without the internet: a named person, a phone number, a postal address, the reference.
        "Or call Priya Shah on 0113 496 0123 and say yes or no.",
        "Or write to us at Patient Leader Programme, 1 Example Street, Leeds, LS1 1AA.",
        "please give your reference: K7P-CL1.",
        "Your contact is Priya Shah in the patient leader programme team.",
        "- Email: pairing@example.nhs.uk",
    ):
        assert expected in message.text
    assert message.text.count("answer=accept") == 1 and message.text.count("answer=decline") == 1


def test_an_unmatched_message_gives_the_reason_and_the_next_step():
    for style in ("standard", "easy_read"):
        message = plan(UNMATCHED, information_format=style)
        assert "free at the same times as you" in message.text
        assert "What happens next" in message.text
        assert "try again" in message.text
        assert not message.meetings


def test_a_professional_with_two_partners_gets_one_message_naming_both_with_a_link_pair_each():
    message = plan(TWO_PARTNERS, PARTNER, email="ben@example.org")
    assert "We have found you 2 partners" in message.text
    assert "Partner 1: Amira Ahmed" in message.text and "Partner 2: Chloe Carter" in message.text
    assert "Chloe Carter is a carer leader" in message.text
    assert message.text.count("answer=accept") == 2 and message.text.count("answer=decline") == 2


def test_each_partner_gets_the_first_meeting_the_registry_planned_for_that_pair():
    first, second = plan(TWO_PARTNERS, PARTNER).meetings
    assert (first.partner_id, first.date, first.start) == ("pl-1", dt.date(2027, 1, 12), dt.time(10))
    assert (second.partner_id, second.date, second.start) == ("cr-2", dt.date(2027, 1, 12), dt.time(11))


def test_without_a_planned_meeting_none_is_suggested():
    outcome = PAIRED.model_copy(update={"partners": [partner(meeting=None)]})
    message = plan(outcome)
    assert not message.meetings
    assert "Your first meeting" not in message.text


def test_the_message_says_what_will_be_arranged_for_the_meetings_in_every_format():
    outcome = PAIRED.model_copy(update={"partners": [partner(arrangements=["bsl_interpreter", "step_free_access"])]})
    standard = plan(outcome)
    assert "What we will arrange for your meetings" in standard.text
    assert "a British Sign Language interpreter" in standard.text and "step-free access" in standard.text
    easy = plan(outcome, information_format="easy_read")
    assert "Someone to sign in British Sign Language." in easy.text
    assert "What we will arrange" not in plan(PAIRED).text, "nothing to arrange, nothing said"


def test_the_publish_date_is_the_date_in_england():
    assert london_date(dt.datetime(2027, 6, 30, 23, 30, tzinfo=dt.UTC)) == dt.date(2027, 7, 1)
    assert london_date(dt.datetime(2027, 1, 31, 23, 30, tzinfo=dt.UTC)) == dt.date(2027, 1, 31)


@pytest.mark.parametrize(
    ("change", "channel", "style", "points"),
    [
        ({}, "email", "standard", 12),
        ({"information_format": "email"}, "email", "standard", 12),
        ({"information_format": "large_print_20"}, "email", "large_print", 20),
        ({"information_format": "large_print_28"}, "email", "large_print", 28),
        ({"information_format": "easy_read"}, "email", "easy_read", 16),
        ({"contact_method": "sms", "phone": "07700 900123"}, "sms", "standard", 12),
        (
            {"contact_method": "letter", "postal_address": "1 Street", "information_format": "large_print_24"},
            "letter",
            "large_print",
            24,
        ),
    ],
)
def test_each_person_is_reached_by_the_channel_and_in_the_format_they_asked_for(change, channel, style, points):
    route = choose_route(ME.model_copy(update=change))
    assert (route.channel, route.style, route.font_points) == (channel, style, points)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"information_format": "braille"}, "braille"),
        ({"information_format": "audio"}, "audio"),
        ({"communication_professional": "British Sign Language interpreter"}, "communication professional"),
        ({"communication_support": "Reads with a support worker"}, "communication support"),
        ({"contact_method": "telephone", "phone": "07700 900123"}, "phoned"),
        ({"contact_method": "text_relay", "phone": "07700 900123"}, "text relay"),
        ({"contact_method": "via_carer"}, "no one is recorded"),
        ({"contact_method": "letter"}, "no postal address"),
        ({"contact_method": "sms"}, "no mobile phone number"),
        ({"email": None}, "no email address"),
    ],
)
def test_a_need_the_service_cannot_meet_goes_to_a_person_never_to_standard_print(change, why):
    message = plan(**change)
    assert message.channel == "person"
    assert why in message.why_a_person
    # The free text of a need is not copied into the report.
    assert "Sign Language" not in message.why_a_person and "support worker" not in message.why_a_person


def test_large_print_html_is_set_in_the_size_asked_for_and_the_plain_text_says_the_same():
    for points in (20, 24, 28):
        message = plan(information_format=f"large_print_{points}")
        assert f"font-size: {points}pt" in message.html
        assert message.text == plan().text


def test_the_plain_text_is_never_hard_wrapped_so_it_reflows_at_any_size():
    message = plan(information_format="large_print_28")
    lines = message.text.splitlines()
    for block in message.blocks:
        if block.kind in ("p", "h1", "h2", "h3"):
            assert block.text in lines, "each paragraph and heading is one whole line"


class Headings(HTMLParser):
    def __init__(self):
        super().__init__()
        self.levels: list[int] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("h1", "h2", "h3", "h4"):
            self.levels.append(int(tag[1]))


@pytest.mark.parametrize("outcome", [PAIRED, TWO_PARTNERS, UNMATCHED])
@pytest.mark.parametrize("style", ["standard", "large_print_24", "easy_read"])
def test_the_html_has_one_main_heading_and_never_skips_a_level(outcome, style):
    me = PARTNER if outcome is TWO_PARTNERS else ME
    html = plan(outcome, me, information_format=style, email="x@example.org").html
    parser = Headings()
    parser.feed(html)
    assert parser.levels[0] == 1 and parser.levels.count(1) == 1
    assert all(b - a <= 1 for a, b in itertools.pairwise(parser.levels))
    assert '<html lang="en-GB">' in html and "<main" in html


def test_names_are_escaped_in_html_and_cannot_break_the_layout():
    tricky = PARTNER.model_copy(update={"name": "Ben <b>Bell</b>\n# Heading"})
    message = plan_message(PAIRED, ME, {"cl-1": tricky}, PROGRAMME_CONTACT)
    assert "<b>Bell</b>" not in message.html and "&lt;b&gt;Bell&lt;/b&gt;" in message.html
    assert not any(b.kind == "h1" and "Heading" in b.text for b in message.blocks)


def test_links_get_words_saying_where_they_lead():
    links = [b for b in plan().blocks if b.kind == "link"]
    assert [b.text for b in links] == ["Yes, I want to work with Ben Bell", "No, I do not want to work with Ben Bell"]
    assert 'href="https://pl.example.uk/r/cl1?answer=accept"' in plan().html


def test_a_letter_says_how_to_answer_without_a_computer():
    message = plan(contact_method="letter", postal_address="1 Street")
    assert "type it into a web browser" in message.text and "Or call Priya Shah on 0113 496 0123" in message.text
    assert "calendar file" not in message.text


def test_an_email_mentions_the_calendar_file_only_when_there_is_one():
    assert "calendar file" in plan().text
    assert "calendar file" not in plan(contact_method="sms", phone="07700 900123").text


def test_a_text_message_is_short_and_has_the_links_in_full():
    message = plan(contact_method="sms", phone="07700 900123")
    assert segments(message.sms) <= 2
    assert "https://pl.example.uk/r/cl1?answer=accept" in message.sms
    assert "Ben Bell" in message.sms and "Tue 12 Jan" in message.sms and RESPOND_BY.strftime("%B") in message.sms
    assert "call 0113 496 0123 or use the link" in message.sms and "K7P-CL1" in message.sms


def test_markup_lines_become_blocks():
    blocks = parse_blocks("# Title\n\n## Part\n### Sub\n- one\n- two\n[Say yes](http://x/y)\nWords.\n")
    assert [(b.kind, b.text, b.url) for b in blocks] == [
        ("h1", "Title", ""),
        ("h2", "Part", ""),
        ("h3", "Sub", ""),
        ("li", "one", ""),
        ("li", "two", ""),
        ("link", "Say yes", "http://x/y"),
        ("p", "Words.", ""),
    ]
    assert plain_text(blocks) == "Title\n\nPart\n\nSub\n\n- one\n- two\n\nSay yes:\nhttp://x/y\n\nWords.\n"


# ---- a partner says no (Always Event 4) ----

DECLINED = PairAnswer(round_id="r1", leader_id="cl-1", partner_id="pl-1")


def declined(me=ME, decliner=PARTNER, **change):
    return plan_partner_declined(DECLINED, me.model_copy(update=change), decliner, PROGRAMME_CONTACT, PUBLISHED_ON)


def test_when_a_partner_says_no_the_message_is_kind_private_and_says_what_happens_next():
    message = declined()
    assert message.subject == "An update about your partner for the patient leader programme"
    for expected in (
        "Dear Amira Ahmed",
        "Ben Bell has decided not to go ahead.",
        "This is not about you.",
        "We keep their reasons private",
        "We will try to find you someone else",
        "We will be in touch by Tuesday 29 December 2026.",  # 14 days after
        "If you would rather not have a new partner",
        "Just tell Priya Shah on 0113 496 0123.",
    ):
        assert expected in message.text
    assert "answer=" not in message.text and not message.meetings


def test_when_a_partner_says_no_the_easy_read_and_text_message_say_the_same():
    easy = declined(information_format="easy_read")
    assert easy.route.style == "easy_read"
    assert "Ben Bell has said no." in easy.text and "We will tell you by Tuesday 29 December 2026." in easy.text
    text = declined(contact_method="sms", phone="07700 900123")
    assert text.channel == "sms"
    assert "Ben Bell has decided not to go ahead" in text.sms and "29 December 2026" in text.sms
    assert segments(text.sms) <= 2


def test_when_we_no_longer_know_who_said_no_they_are_not_named():
    message = declined(decliner=None)
    assert "the person we suggested as your partner has decided not to go ahead" in message.text
    assert "Ben Bell" not in message.text


def test_a_partner_who_needs_braille_is_told_through_a_person():
    assert declined(information_format="braille").channel == "person"


def test_someone_paired_again_is_told_this_is_a_new_partner_in_every_format():
    again = PAIRED.model_copy(update={"pairing_again": True})
    assert "We have found you a new partner" in plan(again).text
    assert "could not go ahead" in plan(again).text
    assert "We found you a new partner" in plan(again, information_format="easy_read").text
    assert "we have found you a new partner" in plan(again, contact_method="sms", phone="07700 900123").sms
    assert "new partner" not in plan(PAIRED).text


def test_when_a_published_round_is_stopped_everyone_hears_it_will_not_go_ahead_in_their_format():
    from schemas.events import Outcome

    stopped = Outcome(round_id="r1", leader_id="pl-1", outcome="cancelled")
    standard = plan(stopped)
    assert "The pairing you heard about will not go ahead" in standard.subject
    assert "not because of anything you did" in standard.text and "pay you back" in standard.text
    assert not standard.meetings and "answer=accept" not in standard.text
    assert "Your pair will not go ahead" in plan(stopped, information_format="easy_read").text
    assert "will not go ahead" in plan(stopped, contact_method="sms", phone="07700 900123").sms
    assert plan(stopped, information_format="braille").channel == "person"


def test_a_name_or_reason_goes_on_one_line_as_a_regular_expression_would_put_it():
    """one_line splits on white space rather than substituting it: the same for every kind of white space."""
    spaces = [chr(c) for c in range(sys.maxunicode + 1) if re.match(r"\s", chr(c))]
    assert len(spaces) > 20 and "\u00a0" in spaces and "\u2028" in spaces
    texts = [None, "", " ", "Ben Bell", "  Ben \n\n Bell\t", "".join(spaces), f"a{''.join(spaces)}b", "Zoë\u00a0Ó\u2003Briain "]
    texts += [f"{space}x{space}{space}y{space}" for space in spaces]
    for text in texts:
        expected = re.sub(r"\s+", " ", text or "").strip()
        assert one_line(text) == _line(text) == expected, repr(text)
