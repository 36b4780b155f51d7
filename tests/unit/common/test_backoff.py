"""The one backoff formula: consumers between tries of an event, the notifier's scheduler between tries of a message."""

import pytest

from services.common.kafka import backoff_seconds, jittered_backoff
from services.common.settings import ReliabilitySettings

pytestmark = pytest.mark.unit


def test_the_wait_doubles_with_jitter_up_to_the_most():
    waits = {attempt: [jittered_backoff(attempt, 30, 1800) for _ in range(50)] for attempt in (1, 2, 3, 20)}
    assert all(15 <= w <= 30 for w in waits[1])
    assert all(30 <= w <= 60 for w in waits[2])
    assert all(60 <= w <= 120 for w in waits[3])
    assert all(900 <= w <= 1800 for w in waits[20]), "never more than the most"
    assert len(set(waits[1])) > 1, "jitter: two instances that failed together do not try again together"


def test_a_consumer_waits_by_the_same_formula_from_its_settings():
    reliability = ReliabilitySettings(first_backoff_seconds=1, max_backoff_seconds=4)
    assert all(1 <= backoff_seconds(2, reliability) <= 2 for _ in range(50))
    assert all(2 <= backoff_seconds(5, reliability) <= 4 for _ in range(50))
