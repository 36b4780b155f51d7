import pytest

from schemas.events import EVENT_TYPES, Envelope
from schemas.topics import ALL_TOPICS
from services.contract import ASYNCAPI_PATH, OPENAPI_PATH, asyncapi_yaml, openapi_json

pytestmark = pytest.mark.unit


def test_the_committed_asyncapi_document_matches_the_services():
    assert ASYNCAPI_PATH.read_text() == asyncapi_yaml(), "run `make asyncapi` and commit schemas/asyncapi.yaml"


def test_the_committed_openapi_document_matches_the_registry():
    assert OPENAPI_PATH.read_text() == openapi_json(), "run `make asyncapi` and commit schemas/registry-openapi.json"


def test_every_topic_is_named_once_and_versioned():
    names = [t.name for t in ALL_TOPICS]
    assert len(names) == len(set(names))
    assert all(name.endswith(".v1") for name in names)


def test_every_event_carries_the_envelope_and_is_past_tense():
    for name, cls in EVENT_TYPES.items():
        assert issubclass(cls, Envelope)
        assert set(Envelope.model_fields) <= set(cls.model_fields)
        assert name.endswith(("ed", "Changed")), name


def test_consumers_ignore_fields_added_later_in_the_same_version():
    cls = EVENT_TYPES["RoundPublished"]
    event = cls.model_validate(
        {"event_type": "RoundPublished", "producer": "x", "correlation_id": "r", "data": {"round_id": "r", "new": 1}, "extra": 2}
    )
    assert event.data.round_id == "r"
