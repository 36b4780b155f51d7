"""Reading how a service is doing, for the queue monitor (services/registry/monitor.py)."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from services.registry.config import RegistrySettings
from services.registry.monitor import ServiceState, known_lag, read_metrics

pytestmark = pytest.mark.unit

METRICS = """# HELP pairing_consumer_lag Messages waiting for this service (high-water mark minus position)
# TYPE pairing_consumer_lag gauge
pairing_consumer_lag{service="notifier",topic="outcomes.v1"} 12.0
pairing_consumer_lag{service="notifier",topic="leaders.contact.v1"} 3.0
# HELP pairing_outbox_backlog Events written to the outbox but not yet published
# TYPE pairing_outbox_backlog gauge
pairing_outbox_backlog{service="notifier"} 4.0
"""


def test_waiting_messages_and_unsent_changes_are_read_from_the_metrics_page():
    assert read_metrics(METRICS) == ({"outcomes.v1": 12, "leaders.contact.v1": 3}, 4)
    assert read_metrics("") == ({}, None)


def test_a_lag_the_broker_did_not_tell_is_not_known_rather_than_a_number():
    text = METRICS + 'pairing_consumer_lag{service="notifier",topic="deliveries.v1"} NaN\n'
    waiting, _ = read_metrics(text)
    assert waiting == {"outcomes.v1": 12, "leaders.contact.v1": 3, "deliveries.v1": None}
    assert ServiceState("notifier", True, True, waiting).waiting_total is None
    assert known_lag({"outcomes.v1": 2.0, "rounds.v1": math.nan}) == {"outcomes.v1": 2, "rounds.v1": None}


def test_each_state_is_said_in_plain_words():
    assert ServiceState("matcher", True, True, {"rounds.v1": 2}).words == "Working"
    assert "Cannot reach its database or the message broker" in ServiceState("matcher", True, False).words
    assert ServiceState("notifier", False, False).words.startswith("Not answering")
    assert ServiceState("matcher", True, True, {"a": 2, "b": 3}).waiting_total == 5


def test_the_watch_list_is_checked_and_read():
    settings = RegistrySettings(
        encryption_keys="k",
        event_keys="k",
        token_secret="a secret of sixteen",
        watch="matcher=http://127.0.0.1:9101/, notifier=http://127.0.0.1:9102",
    )
    assert settings.watched == {"matcher": "http://127.0.0.1:9101", "notifier": "http://127.0.0.1:9102"}
    with pytest.raises(ValidationError, match="should be a name, an equals sign and an address"):
        RegistrySettings(encryption_keys="k", event_keys="k", token_secret="a secret of sixteen", watch="matcher:9101")


def test_managers_are_told_what_a_state_means_for_them_without_the_technical_detail():
    set_aside = ServiceState("registry", True, True, {}, 0, set_aside=2)
    assert set_aside.troubled and "dead letters" in set_aside.words
    assert set_aside.plain == "Working, but some changes could not be sent. An admin can see them on the operations page."
    stopped = ServiceState("matcher", False, False)
    assert stopped.troubled and stopped.plain == stopped.words
    assert not ServiceState("notifier", True, True, {"outcomes.v1": 3}).troubled


def test_the_monitor_summary_counts_in_words_that_change_when_the_work_does():
    from services.registry.web.queue import summary

    assert summary(1, 0, 2, {"queued": 1, "solving": 1}) == (
        "1 message to deliver by hand, 0 answers to chase, 2 rounds waiting for review, 2 rounds with the matcher."
    )
    assert summary(2, 1, 1, {}) != summary(2, 1, 0, {})
