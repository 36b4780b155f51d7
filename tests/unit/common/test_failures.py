"""How a failure is described for a dead letter or a log: its class and a reason, never its own text.
(tests/integration/test_dead_letters.py shows it with a real database error.)"""

import json

import pytest
from pydantic import BaseModel, ValidationError

from services.common.crypto import EncryptionKeyError
from services.common.failures import describe_failure, where_it_failed
from services.common.kafka import PermanentError
from services.common.kafka import describe_failure as for_a_dead_letter
from services.registry.domain.erased import erased_marker, without_id

pytestmark = pytest.mark.unit

PERSON = "pl-oswin-marchbanks"


class Named(BaseModel):
    name: str


def raised(exc: Exception) -> Exception:
    try:
        raise exc
    except Exception as caught:  # noqa: BLE001 - to give it a traceback
        return caught


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (KeyError(PERSON), "KeyError: something the event names is not known here"),
        (ValueError(f"no partner for {PERSON}"), "ValueError: the service could not handle it"),
        (EncryptionKeyError(f"the key of {PERSON}"), "EncryptionKeyError: a sealed value could not be opened"),
        (ConnectionRefusedError(f"smtp refused {PERSON}@example.org"), "ConnectionRefusedError: a connection"),
        (PermanentError(f"there is no leader called {PERSON}"), "PermanentError: the event names something"),
    ],
)
def test_the_errors_own_words_are_never_kept(exc, expected):
    described = for_a_dead_letter(exc)
    assert described.startswith(expected) and PERSON not in described


def test_a_validation_error_names_fields_and_what_was_wrong_never_the_values():
    with pytest.raises(ValidationError) as refused:
        Named(name=12345678)  # type: ignore[arg-type]
    assert describe_failure(refused.value) == "ValidationError: name: string_type"


def test_json_that_cannot_be_read_says_so():
    with pytest.raises(json.JSONDecodeError) as refused:
        json.loads(f'{{"name": {PERSON}}}')
    assert describe_failure(refused.value) == "JSONDecodeError: the event is not valid JSON"


def test_the_log_is_told_where_it_failed_without_the_errors_words():
    where = where_it_failed(raised(ValueError(f"no partner for {PERSON}")))
    assert "test_failures.py" in where and "raise exc" in where and where.endswith("builtins.ValueError")
    assert PERSON not in where


def test_an_erased_persons_id_becomes_the_same_marker_wherever_it_stands_alone():
    marker = erased_marker(b"a key of sixteen bytes", "pl-01")
    assert marker == erased_marker(b"a key of sixteen bytes", "pl-01") != erased_marker(b"another key entirely", "pl-01")
    assert marker.startswith("(erased ") and "pl-01" not in marker
    words = "pair with pl-01 ended; pl-018 and pl-01.5 are others; asked by pl-01."
    assert without_id(words, "pl-01", marker) == f"pair with {marker} ended; pl-018 and pl-01.5 are others; asked by {marker}."
