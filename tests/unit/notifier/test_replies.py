"""Replies to text messages: UK numbers however written, and only a clear yes or no counts."""

import pytest

from services.notifier.domain.replies import read_reply, uk_number

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "written", ["07700 900123", "07700900123", "+44 7700 900123", "447700900123", "0044 (0)7700-900123", " +447700900123 "]
)
def test_one_uk_number_however_it_is_written(written):
    assert uk_number(written) == "07700900123"


@pytest.mark.parametrize("written", [None, "", "+33 6 12 34 56 78", "12345", "call me"])
def test_anything_else_is_no_uk_number(written):
    assert uk_number(written) is None


@pytest.mark.parametrize("words", ["YES", "yes", "Y", "y.", " Yes please! ", "YES PLEASE", "yes, thank you"])
def test_a_clear_yes(words):
    assert read_reply(words) == "accept"


@pytest.mark.parametrize("words", ["NO", "no", "N", "No.", "no thanks", " NO THANK YOU "])
def test_a_clear_no(words):
    assert read_reply(words) == "decline"


@pytest.mark.parametrize(
    "words", ["maybe", "call me", "yes no", "yes but not on Tuesdays", "not sure", "ok", "", "nope", "yes to Ben, no to Ann"]
)
def test_anything_else_is_for_a_person_to_read(words):
    assert read_reply(words) is None
