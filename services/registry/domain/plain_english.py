"""A small plain-English check for words a manager writes to everyone (issue 18: what difference the pairs made).

It finds what makes a message hard for the people the programme serves: long sentences, short forms
(acronyms) whose meaning is not given, jargon with an everyday word in its place, and a reading level above
about 14 years old (Flesch-Kincaid grade, with syllables counted by a rule of thumb). Each finding says what
to change. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_CHARACTERS = 2000
MAX_SENTENCE_WORDS = 25
MAX_GRADE = 9  # Flesch-Kincaid grade 9: a reading age of about 14
MIN_WORDS_FOR_GRADE = 20  # fewer words than this give no steady reading level
# Short forms people know without being told.
KNOWN_SHORT_FORMS = frozenset({"NHS", "GP", "UK", "OK", "A&E"})
JARGON: dict[str, str] = {
    "utilise": "use",
    "utilize": "use",
    "facilitate": "help",
    "stakeholder": "the people involved",
    "stakeholders": "the people involved",
    "leverage": "use",
    "synergy": "working together",
    "deliverables": "what we made",
    "going forward": "from now on",
    "co-produced": "made together",
    "coproduced": "made together",
    "co-production": "working together as equals",
    "pathway": "the steps of care",
    "pathways": "the steps of care",
    "service user": "patient",
    "service users": "patients",
    "in order to": "to",
    "commence": "start",
    "prior to": "before",
    "key performance indicators": "targets",
    "cohort": "group",
    "algorithm": "the computer program",
    "lived experience": "their own experience of care",
    "notification": "message",
}

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"[A-Za-z][A-Za-z'&-]*")
_SHORT_FORM = re.compile(r"\b[A-Z][A-Z&]{1,}s?\b")


@dataclass(frozen=True)
class Finding:
    """One thing to change, in words a manager can act on."""

    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.problem} {self.fix}"


def sentences_of(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def words_of(text: str) -> list[str]:
    return _WORD.findall(text)


def syllables(word: str) -> int:
    """A rule of thumb: groups of vowels, less a silent e at the end; at least one."""
    word = word.lower().strip("'")
    groups = re.findall(r"[aeiouy]+", word)
    count = len(groups)
    if word.endswith("e") and not word.endswith(("le", "ee", "ye")) and count > 1:
        count -= 1
    return max(count, 1)


def grade(text: str) -> float:
    """Flesch-Kincaid grade: 0.39 x words a sentence + 11.8 x syllables a word - 15.59."""
    said = sentences_of(text)
    words = words_of(text)
    if not said or not words:
        return 0.0
    return 0.39 * len(words) / len(said) + 11.8 * sum(syllables(w) for w in words) / len(words) - 15.59


def _start(sentence: str) -> str:
    words = sentence.split()
    return " ".join(words[:6]) + (" ..." if len(words) > 6 else "")


def check(text: str) -> list[Finding]:
    """Everything to change before the words are sent; an empty list when they read plainly."""
    text = text.strip()
    if not text:
        return [Finding("There are no words to send.", "Write what happened because of the pairs' work.")]
    findings: list[Finding] = []
    if len(text) > MAX_CHARACTERS:
        findings.append(
            Finding(
                f"It is {len(text)} characters long.", f"Keep it to {MAX_CHARACTERS} characters or fewer: say the main things."
            )
        )
    for sentence in sentences_of(text):
        count = len(words_of(sentence))
        if count > MAX_SENTENCE_WORDS:
            findings.append(
                Finding(
                    f'The sentence starting "{_start(sentence)}" has {count} words.',
                    f"Split it into sentences of {MAX_SENTENCE_WORDS} words or fewer.",
                )
            )
    explained = set(re.findall(r"\(([A-Z][A-Z&]{1,}s?)\)", text))
    for short in dict.fromkeys(_SHORT_FORM.findall(text)):
        base = short[:-1] if short.endswith("s") and short[:-1].isupper() else short
        if base in KNOWN_SHORT_FORMS or short in explained or base in explained:
            continue
        findings.append(
            Finding(
                f'"{short}" is a short form not everyone knows.',
                f'Say what it means the first time, for example "the words in full ({base})", or use the words instead.',
            )
        )
    lowered = f" {' '.join(text.lower().split())} "
    for jargon, plain in JARGON.items():
        if re.search(rf"(?<![a-z-]){re.escape(jargon)}(?![a-z-])", lowered):
            findings.append(Finding(f'"{jargon}" is jargon.', f'Say "{plain}" instead.'))
    if len(words_of(text)) >= MIN_WORDS_FOR_GRADE and grade(text) > MAX_GRADE:
        findings.append(
            Finding(
                f"It reads at about the level of a {round(grade(text)) + 5} year old.",
                f"Aim for {MAX_GRADE + 5} or younger: use shorter words and sentences.",
            )
        )
    return findings
