import json
import logging

import pytest

from services.common.logs import JsonFormatter, correlation_id, correlation_of

pytestmark = pytest.mark.unit


def test_a_log_line_is_json_with_the_service_and_the_correlation_id():
    record = logging.LogRecord("pairing.matcher", logging.INFO, __file__, 1, "solving round %s", ("r-1",), None)
    token = correlation_id.set("r-1")
    try:
        line = json.loads(JsonFormatter("matcher").format(record))
    finally:
        correlation_id.reset(token)
    assert line["message"] == "solving round r-1"
    assert (line["service"], line["level"], line["correlation_id"]) == ("matcher", "info", "r-1")


def test_the_correlation_id_is_read_from_an_event_even_when_the_rest_is_bad():
    assert correlation_of(b'{"correlation_id": "round-7", "data": {}}') == "round-7"
    assert correlation_of(b"\\xff not json") is None
    assert correlation_of(None) is None
    assert correlation_of(b"[1, 2]") is None


def test_contact_details_quoted_by_a_library_never_reach_a_log_line_or_a_dead_letter():
    from services.common.kafka import describe_failure
    from services.common.logs import REMOVED, RedactingFormatter, redact

    refused = "(550, 'Requested action not taken: amira.ahmed@example.org unknown; call 07700 900123 or +44 7700 900124')"
    assert redact(refused) == f"(550, 'Requested action not taken: {REMOVED} unknown; call {REMOVED} or {REMOVED}')"
    for number in ("0044 7700 900123", "(020) 7946 0958", "+44 (0)20 7946 0958", "07700-900123"):
        assert redact(f"call {number} now") == f"call {REMOVED} now", number
    # Ids, dates and counts are kept.
    kept = "event 0b8a5c1e-2f1d-4c1e-9a1b-004512345678 on 2026-12-03, offset 123456789012, round r-1"
    assert redact(kept) == kept
    record = logging.LogRecord("pairing.notifier", logging.WARNING, __file__, 1, "send failed: %s", (refused,), None)
    for formatter in (JsonFormatter("notifier"), RedactingFormatter("%(message)s")):
        line = formatter.format(record)
        assert "amira" not in line and "900123" not in line and REMOVED in line
    assert "amira" not in describe_failure(OSError(refused))


def test_a_persons_id_is_left_out_of_correlation_ids_message_keys_and_span_attributes():
    from services.common.logs import names_a_person, without_person
    from services.common.tracing import without_people

    assert names_a_person("leaders.contact.v1", b"pl-7", "pl-7") and names_a_person("leaders.keys.v1", None, "pl-7")
    assert not names_a_person("outcomes.v1", b"pl-7", "round-3"), "outcomes are correlated by round"
    assert names_a_person("deadletter.v1", b"pl-7", "pl-7") and not names_a_person("deadletter.v1", b"pl-7", "round-3")
    assert without_person("1b2c-event:pl-7:sms") == "1b2c-event:sms" and without_person("1b2c-event:pl-7") == "1b2c-event"

    consumed = {
        "messaging.destination_publish.name": "leaders.profile.v1",
        "messaging.kafka.message.key": b"pl-7",
        "messaging.message.conversation_id": "pl-7",
        "pairing.correlation_id": "pl-7",
        "messaging.operation": "process",
    }
    assert without_people(consumed) == {
        "messaging.destination_publish.name": "leaders.profile.v1",
        "messaging.operation": "process",
    }
    outcome = {
        "messaging.destination_publish.name": "outcomes.v1",
        "messaging.kafka.message.key": b"pl-7",
        "pairing.correlation_id": "round-3",
    }
    assert without_people(outcome) == {"messaging.destination_publish.name": "outcomes.v1", "pairing.correlation_id": "round-3"}
