"""Short answer links and references: short enough to type and text, hard to guess, typos caught."""

import hashlib
from collections import Counter

import pytest

from services.registry.config import RegistrySettings
from services.registry.domain import answers
from services.registry.domain.answers import ReferenceProblem

pytestmark = pytest.mark.unit


def test_an_answer_link_on_the_default_address_is_at_most_45_characters():
    default = RegistrySettings.model_fields["public_url"].default
    links = {answers.answer_link(default, answers.new_code()) for _ in range(200)}
    assert len(links) == 200, "every code is new"
    assert max(len(link) for link in links) <= answers.MAX_LINK_LENGTH
    assert all(link.startswith("http://127.0.0.1:8000/a/") for link in links)


def test_codes_use_only_characters_nobody_mixes_up_and_are_read_back_in_any_case():
    code = answers.new_code()
    assert len(code) == 12 and not set(code) & set("0o1il")
    assert answers.read_code(code.upper()) == code
    assert answers.read_code(f" {code} ") == code
    for wrong in ("", code[:-1], code + "a", code[:-1] + "0", "../../etc/passwd"):
        assert answers.read_code(wrong) is None, wrong


def test_every_character_can_come_up_in_every_place_of_a_code():
    # Drawn as the digits of one random number: no place may be stuck or favour part of the alphabet.
    codes = [answers.new_code() for _ in range(4000)]
    for at in range(answers.CODE_LENGTH):
        seen = Counter(code[at] for code in codes)
        assert set(seen) == set(answers.CODE_ALPHABET), at
        assert max(seen.values()) < 3 * min(seen.values()), (at, seen)


def test_only_a_digest_of_a_code_is_stored():
    code = answers.new_code()
    assert answers.code_digest(code) == hashlib.sha256(code.encode()).hexdigest()
    assert code not in answers.code_digest(code)


def test_a_reference_reads_back_however_it_is_written():
    reference = answers.new_reference()
    assert len(reference) == 8 and reference[3] == "-"
    assert not set(reference) & set("0O1I")
    assert answers.read_reference(reference) == reference
    assert answers.read_reference(reference.lower().replace("-", " ")) == reference


def test_any_one_wrong_character_in_a_reference_is_caught():
    reference = answers.new_reference().replace("-", "")
    for place in range(len(reference)):
        for other in answers.REFERENCE_ALPHABET:
            if other == reference[place]:
                continue
            typo = reference[:place] + other + reference[place + 1 :]
            with pytest.raises(ReferenceProblem, match="mistake"):
                answers.read_reference(typo)


@pytest.mark.parametrize(
    ("written", "words"),
    [("K7P-4Q", "has 7 letters and numbers, like K7P-4QXM; this one has 5"), ("K0P-4QX1", "never has 0, 1 in it")],
)
def test_a_reference_that_cannot_be_one_says_why(written, words):
    with pytest.raises(ReferenceProblem, match=words):
        answers.read_reference(written)
