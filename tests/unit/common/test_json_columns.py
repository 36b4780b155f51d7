"""The text every service's JSON columns are written as (services/common/store.py, json_text)."""

import json

import pytest

from services.common.store import json_text, json_value

pytestmark = pytest.mark.unit


def test_a_json_column_is_written_compact_and_read_back_as_it_was():
    value = {"name": "Zoë", "topics": ["mental health"], "km": 12.5, "ids": ["pl-1"], "none": None, "n": 3, "nested": {"a": [1]}}
    text = json_text(value)
    assert json.loads(text) == value
    assert ", " not in text and "Zoë" in text


def test_an_id_is_quoted_as_the_searches_of_stored_json_text_expect():
    # handlers/erasure.py and retention.py find a person in stored JSON text by their id in quotes.
    assert '"pl-1"' in json_text({"leader_ids": ["pl-0", "pl-1"]})


def test_a_json_column_is_read_as_json_loads_reads_it():
    value = {"name": "Zoë", "topics": ["mental health"], "km": 12.5, "big": 2**70, "none": None, "nested": {"a": [1, -0.0]}}
    for text in (json_text(value), json.dumps(value), json.dumps(value).encode()):
        assert json_value(text) == json.loads(text) == value
    # json.dumps writes a lone surrogate escaped, and NaN bare: what it wrote is read as before.
    for text in (json.dumps({"a": "\ud800"}), json.dumps({"a": float("inf")}), "1e400"):
        assert repr(json_value(text)) == repr(json.loads(text))
    # And a string holding a lone surrogate itself, not escaped, which pydantic_core will not take.
    assert json_value('{"a": "\ud800"}') == json.loads('{"a": "\ud800"}') == {"a": "\ud800"}
