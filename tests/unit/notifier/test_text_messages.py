"""Text messages fit in 2 parts (segments), counted as phone networks count them, for the longest
realistic names, accented names (which send the whole message as Unicode), and every kind of message."""

import datetime as dt
import random

import pytest
from notifier_samples import (
    CONTACTS,
    MATCHER_RULES,
    ME,
    PAIRED,
    PARTNER,
    PROGRAMME_CONTACT,
    PUBLISHED_ON,
    SECOND,
    TWO_PARTNERS,
    one_pair_cohort,
    partner,
)

from schemas.events import ContactProxy, Outcome, PairAnswer
from services.matcher.domain import explain
from services.notifier import compose
from services.notifier.compose import plan_message, plan_partner_declined
from services.notifier.domain.sms import is_gsm, segments
from services.notifier.domain.wording import EASY_REASONS

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("", 0),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # each euro sign takes two places: 160
        ("€" * 81, 2),
        ("a" * 152 + "€" + "a" * 151, 2),  # 306 places, but the euro sign cannot straddle parts: 153 + 153
        ("a" * 152 + "€" + "a" * 152, 3),
        ("é" * 160, 1),  # é is in the GSM alphabet
        ("á" * 70, 1),  # á is not: Unicode
        ("á" * 71, 2),
        ("á" * 134, 2),
        ("á" * 135, 3),
        ("a" * 133 + "\u2019", 2),  # one curly quote makes it all Unicode
        ("a" * 134 + "\u2019", 3),
    ],
)
def test_segments_are_counted_as_networks_count_them(text, parts):
    assert segments(text) == parts


def test_the_gsm_alphabet_and_its_extension():
    assert is_gsm("Hello £5 @ 10:00 [ok] {x} ~ | ^ \\ €")
    assert not is_gsm("Siobhán") and not is_gsm("it\u2019s") and not is_gsm("\u201cquoted\u201d")


LONG = "Maximilian Alexander Featherstonehaugh-Wolstenholme"
ACCENTED = "Siobhán Ní Bhriain"
LONG_ACCENTED = "Seán Pádraig Ó Súilleabháin-Ní Dhomhnaill"
NAMES = [LONG, ACCENTED, LONG_ACCENTED]
# Short links as the registry makes them: at most 45 characters each.
ACCEPT = "https://pair.example.nhs.uk/a/K7P4QXz9W2m3"
DECLINE = "https://pair.example.nhs.uk/d/K7P4QXz9W2m3"
SMS = {"contact_method": "sms", "phone": "07700 900123"}
LONG_TEAM = PROGRAMME_CONTACT.model_copy(update={"phone": "0300 123 4567"})


def short_partner(partner_id="cl-1"):
    return partner(partner_id).model_copy(update={"accept_url": ACCEPT, "decline_url": DECLINE, "reference": "K7P-4QX"})


def outcomes() -> dict[str, Outcome]:
    cohort = one_pair_cohort()
    reasons = {
        kind: explain._reason(rule, cohort.leaders[0 if (own and rule == "sessions") else 1], cohort.round, own)
        for rule, own, kind in MATCHER_RULES
    }
    reasons["infeasible"] = explain.round_not_solved(cohort)[0].reason
    cases = {
        "paired": PAIRED.model_copy(update={"partners": [short_partner()]}),
        "paired again": PAIRED.model_copy(update={"partners": [short_partner()], "pairing_again": True}),
        "cancelled": Outcome(round_id="r1", leader_id="pl-1", outcome="cancelled", next_round_on=dt.date(2027, 3, 2)),
    }
    for kind, reason in reasons.items():
        cases[f"not paired: {kind}"] = Outcome(
            round_id="r1", leader_id="pl-1", outcome="unmatched", unmatched_reason=reason, next_round_on=dt.date(2027, 3, 2)
        )
    return cases


def named(name):
    return {"cl-1": PARTNER.model_copy(update={"name": name}), "pl-1": ME, "cr-2": SECOND.model_copy(update={"name": name})}


def sent_texts():
    for case, outcome in outcomes().items():
        for mine in NAMES:
            for theirs in NAMES:
                me = ME.model_copy(update={"name": mine, **SMS})
                yield case, mine, theirs, plan_message(outcome, me, named(theirs), LONG_TEAM).sms
                proxy = ContactProxy(name="Sam Ahmed", relationship="son", phone="07700 900456")
                via = me.model_copy(update={"contact_method": "via_carer", "proxy": proxy})
                yield f"{case}, to the person they named", mine, theirs, plan_message(outcome, via, named(theirs), LONG_TEAM).sms
    for mine in NAMES:
        for theirs in NAMES:
            me = ME.model_copy(update={"name": mine, **SMS})
            declined = PairAnswer(round_id="r1", leader_id="cl-1", partner_id="pl-1")
            yield (
                "partner said no",
                mine,
                theirs,
                plan_partner_declined(declined, me, PARTNER.model_copy(update={"name": theirs}), LONG_TEAM, PUBLISHED_ON).sms,
            )


TEXTS = list(sent_texts())


@pytest.mark.parametrize(("case", "mine", "theirs", "text"), TEXTS, ids=[f"{c}|{m}|{t}" for c, m, t, _ in TEXTS])
def test_every_text_message_fits_two_parts_with_the_longest_names(case, mine, theirs, text):
    assert segments(text) <= 2, f"{segments(text)} parts, {len(text)} characters:\n{text}"
    assert not {"\u2018", "\u2019", "\u201c", "\u201d"} & set(text), "no curly quotes"
    assert "0300 123 4567" in text, "always a way to answer or ask without the internet"
    if case.startswith("paired"):
        assert "say yes or no" in text or (ACCEPT in text and DECLINE in text)
        assert "K7P-4QX" in text


def test_with_ordinary_names_a_paired_text_keeps_the_partner_links_and_first_meeting():
    me = ME.model_copy(update=SMS)
    text = plan_message(outcomes()["paired"], me, CONTACTS, LONG_TEAM).sms
    assert "Ben Bell" in text and ACCEPT in text and DECLINE in text and "Tue 12 Jan, 10:00" in text
    assert "call 0300 123 4567 or use the link" in text


def test_with_an_accented_name_the_essentials_still_go_and_point_to_a_call():
    me = ME.model_copy(update={"name": LONG_ACCENTED, **SMS})
    text = plan_message(outcomes()["paired"], me, named(LONG_ACCENTED), LONG_TEAM).sms
    assert not is_gsm(text) or LONG_ACCENTED not in text
    assert "call 0300 123 4567" in text and "K7P-4QX" in text


def test_a_professional_with_several_partners_gets_the_essentials_and_a_number_to_call():
    three = TWO_PARTNERS.model_copy(update={"partners": [short_partner("pl-1"), short_partner("cr-2"), short_partner("pl-3")]})
    contacts = named(LONG) | {"pl-3": ME.model_copy(update={"leader_id": "pl-3", "name": LONG})}
    text = plan_message(three, PARTNER.model_copy(update={"name": LONG, **SMS}), contacts, LONG_TEAM).sms
    assert segments(text) <= 2
    assert "3 partners" in text and "call 0300 123 4567" in text and "say yes or no" in text


def test_the_unmatched_text_uses_the_reason_in_easy_words():
    me = ME.model_copy(update=SMS)
    text = plan_message(outcomes()["not paired: availability"], me, CONTACTS, LONG_TEAM).sms
    assert EASY_REASONS["availability"] in text and "If you are free at other times, tell us by Tue 23 Feb." in text


def test_a_form_the_route_does_not_send_is_written_only_when_asked_for(monkeypatch):
    written: list[str] = []
    text_message, email_html = compose.text_message, compose.email_html
    monkeypatch.setattr(compose, "text_message", lambda *a, **k: written.append("sms") or text_message(*a, **k))
    monkeypatch.setattr(compose, "email_html", lambda *a, **k: written.append("html") or email_html(*a, **k))
    emailed = plan_message(PAIRED, ME, CONTACTS, PROGRAMME_CONTACT)
    assert written == ["html"], "an email's HTML is written as it is planned; its text message is not"
    by_text = ME.model_copy(update={"contact_method": "sms", "phone": "07700 900123"})
    texted = plan_message(PAIRED, by_text, CONTACTS, PROGRAMME_CONTACT)
    assert written == ["html", "sms"], "a text message's words are written as it is planned; its HTML is not"
    # Asked for, each is written once, and is what it is when the route sends it.
    assert emailed.sms == emailed.sms == texted.sms
    assert texted.html == texted.html and "<html" in texted.html
    assert written == ["html", "sms", "sms", "html"]


def counted_one_by_one(text: str) -> int:
    """segments as it was first written: every character's width, then the parts filled in turn."""
    gsm = is_gsm(text)
    units = [(2 if ch in "^{}\\[~]|€\f" else 1) if gsm else (2 if ord(ch) > 0xFFFF else 1) for ch in text]
    if not units:
        return 0
    single, part = (160, 153) if gsm else (70, 67)
    if sum(units) <= single:
        return 1
    count, used = 1, 0
    for width in units:
        if used + width > part:
            count, used = count + 1, 0
        used += width
    return max(count, -(-sum(units) // part))


def test_parts_are_counted_as_when_every_character_was_counted_one_by_one():
    chooser = random.Random(11)
    for alphabet in ("ab ", "ab €[", "abé", "ab “", "ab 🙂", "a€🙂"):
        for length in range(0, 700, 7):
            text = "".join(chooser.choice(alphabet) for _ in range(length))
            assert segments(text) == counted_one_by_one(text), (alphabet, length)
