"""Every message template, rendered with representative data, must read plainly.

The bars (Flesch reading ease, higher is easier; 60 to 70 is plain English,
80 and above is easy to read):

- standard and large print (email text, letters), and text messages: at least 70;
- easy read: at least 80, and sentences of 10 words or fewer on average.

Addresses (links, email addresses) are left out of the score: nobody reads
them as words. Each heading and list item counts as a sentence of its own. The
representative data is worded as the matcher words its reasons, so the bar
covers what people really get.

No acronyms: any word of two or more capital letters fails, unless it is in
ALLOWED_ACRONYMS, the few everyone knows. Examples of what is banned, and why
it matters: ICS and ICB (say "local health and care area"), PPI ("patient
involvement"), AIS, BSL ("British Sign Language"), SMS ("text message"), PDF,
URL, CQC, MDT, PCN, GDPR. Nor jargon: the words in JARGON.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import textstat
from notifier_samples import CONTACTS, ME, PAIRED, PARTNER, PROGRAMME_CONTACT, PUBLISHED_ON, TWO_PARTNERS, UNMATCHED, partner

from schemas.cohort import Session
from schemas.events import (
    ContactProxy,
    LeaderContact,
    Outcome,
    OutcomePublished,
    PairAnswer,
    PairEnded,
    PairEnding,
    RoundFeedback,
    RoundFeedbackShared,
)
from services.notifier.check_in_words import plan_question
from services.notifier.compose import TEMPLATES, plan_message, plan_missing_contact_task, plan_partner_declined
from services.notifier.domain.check_ins import CHECK_IN, MET_QUESTION, Question, questions_for
from services.notifier.domain.follow_ups import NO_ANSWER, REMINDER, FollowUp, follow_ups
from services.notifier.domain.messages import ARRANGEMENT_PHRASES
from services.notifier.domain.pair_endings import EndedNews, messages_for
from services.notifier.domain.round_feedback import FeedbackNews, feedback_messages
from services.notifier.follow_up_words import plan_follow_up
from services.notifier.pair_ended_words import plan_pair_ended
from services.notifier.round_feedback_words import plan_round_feedback

pytestmark = pytest.mark.unit

STANDARD_BAR = 70
EASY_READ_BAR = 80
EASY_READ_WORDS_PER_SENTENCE = 10
ALLOWED_ACRONYMS = {"NHS", "GP", "GPs"}
BANNED_ACRONYMS = {"ICS", "ICB", "PPI", "AIS", "BSL", "SMS", "PDF", "URL", "CQC", "MDT", "PCN", "GDPR"}
JARGON = [
    "cohort",
    "co-production",
    "coproduction",
    "stakeholder",
    "pathway",
    "lived experience",
    "service user",
    "algorithm",
    "round",
    "utilise",
    "facilitate",
    "deliverable",
    "notification",
    "integrated care",
    "outcome",
    "registry",
]
# Internal ids never reach a person: leader ids look like pl-026, cl-1, cr-2.
LEADER_ID = re.compile(r"\b(?:pl|cl|cr|ml)-\d+\b")
# Easy read says times as people say them ("half past 2 in the afternoon"), never 14:30.
CLOCK_24 = re.compile(r"\b\d{1,2}[:.]\d{2}\b")
# Every template file, so a new one cannot be added without being checked here.
TEMPLATE_FILES = {
    "email.html.j2",
    "standard/paired.j2",
    "standard/unmatched.j2",
    "standard/cancelled.j2",
    "easy_read/cancelled.j2",
    "sms/cancelled.j2",
    "easy_read/paired.j2",
    "easy_read/unmatched.j2",
    "sms/paired.j2",
    "sms/unmatched.j2",
    "standard/partner_declined.j2",
    "easy_read/partner_declined.j2",
    "sms/partner_declined.j2",
    "standard/for_proxy.j2",
    "easy_read/for_proxy.j2",
    "standard/contact.j2",
    "easy_read/contact.j2",
    "sms/for_proxy.j2",
    "standard/reminder.j2",
    "easy_read/reminder.j2",
    "sms/reminder.j2",
    "standard/pair_ended.j2",
    "easy_read/pair_ended.j2",
    "sms/pair_ended.j2",
    "standard/pair_ended_confirmed.j2",
    "easy_read/pair_ended_confirmed.j2",
    "sms/pair_ended_confirmed.j2",
    "standard/round_feedback.j2",
    "easy_read/round_feedback.j2",
    "sms/round_feedback.j2",
    "standard/met_question.j2",
    "easy_read/met_question.j2",
    "sms/met_question.j2",
    "standard/check_in.j2",
    "easy_read/check_in.j2",
    "sms/check_in.j2",
}
CHANNELS = {
    "email": {},
    "letter": {"contact_method": "letter", "postal_address": "1 Example Street, Newcastle upon Tyne, NE1 1AA"},
    "sms": {"contact_method": "sms", "phone": "07700 900123"},
}
DECLINED = PairAnswer(round_id="r1", leader_id="cl-1", partner_id="pl-1")


def follow_up(outcome: Outcome, kind: str, partner_id: str) -> FollowUp:
    """A reminder or task as the notifier schedules it from a published outcome."""
    made = follow_ups(OutcomePublished(producer="test", correlation_id="r1", data=outcome), PUBLISHED_ON, 3)
    return next(d.follow_up.data for d in made if (d.follow_up.data.kind, d.follow_up.data.partner_id) == (kind, partner_id))


def pair_ended(by: str, told: str) -> EndedNews:
    """One person's news of a pair that ended, as the notifier makes it: cl-1 asked, pl-1 is their partner."""
    data = PairEnding(round_id="r1", leader_id="cl-1", partner_id="pl-1", ended_by=by)
    event = PairEnded(producer="test", correlation_id="r1", data=data)
    return next(m.data for m in messages_for(event) if m.data.leader_id == told)


def round_feedback(told: str) -> FeedbackNews:
    """One person's copy of the manager's words when a round closes, written as plainly as the check asks."""
    said = (
        "Because of your work, the hospital now books interpreters before the first visit. "
        "Carers now get a named contact on every ward. Two of your ideas are now part of how new staff are trained."
    )
    event = RoundFeedbackShared(
        producer="test", correlation_id="r1", data=RoundFeedback(round_id="r1", leader_ids=[told], message=said)
    )
    return feedback_messages(event)[0].data


def question(kind: str) -> Question:
    """'Did you meet?' or the first check-in, as the notifier schedules it from a published outcome."""
    short = PAIRED.partners[0].model_copy(update={"accept_url": "http://127.0.0.1:8000/a/k7mp2qr9wxtd"})
    made = questions_for(
        OutcomePublished(producer="test", correlation_id="r1", data=PAIRED.model_copy(update={"partners": [short]})), PUBLISHED_ON
    )
    return next(d.job.data for d in made if d.job.data.kind == kind and d.job.data.number in (0, 1))


SESSIONS = [Session(date=dt.date(2027, 2, 9), start=dt.time(10), end=dt.time(14, 30), place="Room 2, Civic Centre, Leeds")]
OUTCOMES = {
    "one partner": (PAIRED, ME),
    "one partner, with the required sessions": (PAIRED.model_copy(update={"sessions": SESSIONS}), ME),
    "not paired: manager has not confirmed their time": (
        UNMATCHED.model_copy(
            update={
                "unmatched_reason": "Your manager has not yet confirmed that you can have time for this programme, "
                "so we could not pair you this round.",
                "next_round_on": dt.date(2027, 3, 2),
            }
        ),
        ME,
    ),
    "two partners": (TWO_PARTNERS, PARTNER),
    "one partner, with arrangements for the meetings": (
        PAIRED.model_copy(update={"partners": [partner(arrangements=sorted(ARRANGEMENT_PHRASES))]}),
        ME,
    ),
    "paired again": (PAIRED.model_copy(update={"pairing_again": True}), ME),
    "not paired": (UNMATCHED, ME),
    "round cancelled after publishing": (Outcome(round_id="r1", leader_id="pl-1", outcome="cancelled"), ME),
    "partner said no": (DECLINED, ME),
    "partner said no, name unknown": (DECLINED, ME),
    "reminder": (follow_up(PAIRED, REMINDER, "cl-1"), ME),
    "reminder to a professional with two partners": (follow_up(TWO_PARTNERS, REMINDER, "cr-2"), PARTNER),
    "pair ended": (pair_ended("leader", "pl-1"), ME),
    "pair ended by the programme team": (pair_ended("programme_team", "pl-1"), ME),
    "pair ended, as they asked": (pair_ended("leader", "cl-1"), PARTNER),
    "round closed, with what the pairs made happen": (round_feedback("pl-1"), ME),
    "did you meet?": (question(MET_QUESTION), ME),
    "check-in": (question(CHECK_IN), ME),
}
FORMATS = ["standard", "large_print_24", "easy_read"]


def planned(outcome_name: str, me: LeaderContact):
    outcome, _ = OUTCOMES[outcome_name]
    if isinstance(outcome, FollowUp):
        return plan_follow_up(outcome, me, CONTACTS[outcome.partner_id], PROGRAMME_CONTACT)
    if isinstance(outcome, FeedbackNews):
        return plan_round_feedback(outcome, me, PROGRAMME_CONTACT)
    if isinstance(outcome, Question):
        return plan_question(outcome, me, CONTACTS[outcome.partner_id], PROGRAMME_CONTACT)
    if isinstance(outcome, EndedNews):
        return plan_pair_ended(outcome, me, CONTACTS[outcome.partner_id], PROGRAMME_CONTACT)
    if isinstance(outcome, PairAnswer):
        decliner = None if "unknown" in outcome_name else PARTNER
        return plan_partner_declined(outcome, me, decliner, PROGRAMME_CONTACT, PUBLISHED_ON)
    return plan_message(outcome, me, CONTACTS, PROGRAMME_CONTACT)


def rendered(outcome_name: str, format_: str, channel: str) -> tuple[str, str]:
    """(what the person reads, which check applies)"""
    _, me = OUTCOMES[outcome_name]
    me = me.model_copy(update={"information_format": format_, "email": "x@example.org", **CHANNELS[channel]})
    message = planned(outcome_name, me)
    assert message.channel == channel
    if channel == "sms":
        return message.sms, "standard"
    return message.text, "easy_read" if format_ == "easy_read" else "standard"


def words_only(text: str) -> str:
    """Without what nobody reads as words: links, email addresses, postcodes and answer references."""
    text = text.replace("OpenMoji", "Open Moji")  # the picture set's own name, in the credit
    text = re.sub(r"https?://\S+", " ", text)
    text = re.sub(r"\b[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}\b", " ", text)
    text = re.sub(r"\b[A-Z0-9]{3}-[A-Z0-9]{3,4}\b", " ", text)
    return re.sub(r"\S+@\S+", " ", text)


def as_sentences(text: str) -> str:
    """Headings and list items are read on their own: end each line, so none is counted into the next sentence."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "\n".join(line if line[-1] in ".!?:" else line + "." for line in lines)


def html_words(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


CASES = [(o, f, c) for o in OUTCOMES for f in FORMATS for c in CHANNELS]


def test_every_template_file_is_covered():
    found = {str(p.relative_to(TEMPLATES)) for p in Path(TEMPLATES).rglob("*.j2")}
    assert found == TEMPLATE_FILES


@pytest.mark.parametrize(("outcome", "format_", "channel"), CASES)
def test_every_message_reads_plainly(outcome, format_, channel):
    text, check = rendered(outcome, format_, channel)
    words = as_sentences(words_only(text))
    score = textstat.flesch_reading_ease(words)
    if check == "easy_read":
        assert score >= EASY_READ_BAR, f"easy read scores {score:.0f}"
        per_sentence = textstat.lexicon_count(words) / textstat.sentence_count(words)
        assert per_sentence <= EASY_READ_WORDS_PER_SENTENCE, f"{per_sentence:.1f} words a sentence"
    else:
        assert score >= STANDARD_BAR, f"scores {score:.0f}"


@pytest.mark.parametrize(("outcome", "format_", "channel"), CASES)
def test_no_message_uses_acronyms_jargon_or_leftover_markup(outcome, format_, channel):
    text, _ = rendered(outcome, format_, channel)
    _, me = OUTCOMES[outcome]
    html = planned(outcome, me.model_copy(update={"information_format": format_})).html
    for words in (words_only(text), words_only(html_words(html))):
        capitals = set(re.findall(r"\b[A-Z]{2,}s?\b", words))
        assert capitals <= ALLOWED_ACRONYMS, f"acronyms: {sorted(capitals - ALLOWED_ACRONYMS)}"
        assert not capitals & BANNED_ACRONYMS
        lower = words.lower()
        assert not [j for j in JARGON if re.search(rf"\b{re.escape(j)}\b", lower)]
        assert not LEADER_ID.search(words), "no internal ids"
        if format_ == "easy_read" and channel != "sms":
            assert not CLOCK_24.search(words), "easy read says times as people say them"
        assert not re.search(r"\{\{|\{%|^#|\]\(|^@[a-z]", words, re.MULTILINE)
        # Two lines run together ("...2027Do you want...") when a template tag eats a line end.
        assert not re.search(r"[a-z0-9][A-Z]", words)


# The addresses of the person a leader named to get their messages, by the channel each leads to.
PROXIES = {
    "email": {"email": "sam@example.org"},
    "letter": {"postal_address": "2 Example Road, Newcastle upon Tyne, NE1 2AA"},
    "sms": {"phone": "07700 900456"},
}


@pytest.mark.parametrize(("outcome", "format_", "channel"), CASES)
def test_every_message_to_the_person_a_leader_named_reads_plainly_too(outcome, format_, channel):
    _, me = OUTCOMES[outcome]
    proxy = ContactProxy(name="Sam Ahmed", relationship="son", **PROXIES[channel])
    me = me.model_copy(update={"information_format": format_, "contact_method": "via_carer", "proxy": proxy})
    message = planned(outcome, me)
    assert (message.channel, message.route.to_proxy) == (channel, True)
    text = message.sms if channel == "sms" else message.text
    assert text.startswith(f"This message is for {me.name}")
    words = as_sentences(words_only(text))
    score = textstat.flesch_reading_ease(words)
    if format_ == "easy_read" and channel != "sms":
        assert score >= EASY_READ_BAR, f"easy read scores {score:.0f}"
        per_sentence = textstat.lexicon_count(words) / textstat.sentence_count(words)
        assert per_sentence <= EASY_READ_WORDS_PER_SENTENCE, f"{per_sentence:.1f} words a sentence"
    else:
        assert score >= STANDARD_BAR, f"scores {score:.0f}"
    assert set(re.findall(r"\b[A-Z]{2,}s?\b", words)) <= ALLOWED_ACRONYMS
    assert not [j for j in JARGON if re.search(rf"\b{re.escape(j)}\b", words.lower())]


def test_the_acronym_check_catches_an_acronym():
    assert set(re.findall(r"\b[A-Z]{2,}s?\b", "Your ICS and your GP")) - ALLOWED_ACRONYMS == {"ICS"}


@pytest.mark.parametrize("outcome", [PAIRED, UNMATCHED])
@pytest.mark.parametrize("known", [True, False])
def test_a_task_to_pass_on_a_message_reads_plainly(outcome, known):
    """Staff read these too: the same bar as a standard message."""
    event = OutcomePublished(producer="test", correlation_id="r1", data=outcome)
    contacts = {"pl-1": ME if known else None, "cl-1": None}
    why = "we do not have their contact details yet"
    text = plan_missing_contact_task(event, "pl-1", contacts, why, PROGRAMME_CONTACT).text
    words = as_sentences(words_only(text))
    assert textstat.flesch_reading_ease(words) >= STANDARD_BAR
    assert set(re.findall(r"\b[A-Z]{2,}s?\b", words)) <= ALLOWED_ACRONYMS


@pytest.mark.parametrize("change", [{}, {"contact_method": "sms", "phone": "07700 900123"}, {"information_format": "easy_read"}])
def test_a_task_to_contact_someone_who_has_not_answered_reads_plainly(change):
    """The programme team reads it: the same bar as a standard message, and no internal id."""
    task = plan_follow_up(follow_up(PAIRED, NO_ANSWER, "cl-1"), ME.model_copy(update=change), PARTNER, PROGRAMME_CONTACT)
    words = as_sentences(words_only(task.text))
    assert textstat.flesch_reading_ease(words) >= STANDARD_BAR
    assert set(re.findall(r"\b[A-Z]{2,}s?\b", words)) <= ALLOWED_ACRONYMS
    assert not LEADER_ID.search(words)


def test_the_internal_id_and_clock_checks_catch_what_they_look_for():
    assert LEADER_ID.search("leader pl-026 said yes") and not LEADER_ID.search("Tuesday 12 January")
    assert CLOCK_24.search("from 14:30") and not CLOCK_24.search("half past 2 in the afternoon")
