"""The plain-English check on what a manager writes to everyone when a round closes (issue 18)."""

import pytest

from services.registry.domain.plain_english import MAX_CHARACTERS, check, grade, syllables

pytestmark = pytest.mark.unit

PLAIN = (
    "Because of your work, the hospital now books interpreters before the first visit. "
    "Carers now get a named contact on every ward.\n"
    "Eleven pairs met at least four times. Two of your ideas are now part of how new staff are trained."
)


def test_plain_words_pass():
    assert check(PLAIN) == []


def test_no_words_is_a_finding_that_says_what_to_write():
    (finding,) = check("   \n ")
    assert "no words" in finding.problem and "what happened" in finding.fix


def test_a_long_sentence_is_named_by_how_it_starts_and_how_many_words_it_has():
    long = "We " + " ".join(["met"] * 27) + " together."
    finding = check(long)[0]
    assert finding.problem.startswith('The sentence starting "We met met met met met ..." has 29 words')
    assert "25 words or fewer" in finding.fix


def test_a_short_form_without_its_meaning_is_found_and_one_explained_is_not():
    found = check("The PALS team read your report. It will change how clinics book rooms.")
    assert [f.problem for f in found] == ['"PALS" is a short form not everyone knows.']
    assert check("The Patient Advice and Liaison Service (PALS) read your report. PALS will change how it books rooms.") == []


def test_short_forms_everyone_knows_pass():
    assert check("Your GP surgery and the NHS trust both use your ideas now.") == []


@pytest.mark.parametrize(
    ("jargon", "plain"), [("leverage", "use"), ("stakeholders", "the people involved"), ("in order to", "to")]
)
def test_jargon_is_found_with_an_everyday_word_to_use(jargon, plain):
    (finding,) = check(f"We will {jargon} change this.")
    assert finding.problem == f'"{jargon}" is jargon.' and finding.fix == f'Say "{plain}" instead.'


def test_a_hard_reading_level_is_found():
    hard = (
        "Organisational transformation initiatives necessitated comprehensive reconsideration. "
        "Institutional accountability mechanisms subsequently demonstrated considerable improvement. "
        "Multidisciplinary collaboration and interdisciplinary communication facilitated the implementation of recommendations."
    )
    assert grade(hard) > 12
    assert any("reads at about the level" in f.problem for f in check(hard))
    assert grade(PLAIN) < 7


def test_too_long_a_message_is_found():
    assert any(f"{MAX_CHARACTERS} characters or fewer" in f.fix for f in check("We met. " * 300))


@pytest.mark.parametrize(("word", "count"), [("met", 1), ("hospital", 3), ("made", 1), ("people", 2), ("interpreters", 4)])
def test_syllables_by_rule_of_thumb(word, count):
    assert syllables(word) == count
