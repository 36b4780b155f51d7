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
