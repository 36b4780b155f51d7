"""The outcomes subscriber's poll interval outlasts the longest a batch of outcomes can take: a consumer
that does not come back for more within it is taken out of its group, and another instance is then
given the same batch while the first is still sending it."""

from __future__ import annotations

import math

import pytest

from services.common.crypto import new_key
from services.notifier.app import OUTCOME_BATCH, outcome_batches
from services.notifier.batch_groups import FEW
from services.notifier.config import NotifierSettings

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("workers", "timeout"), [(1, 10), (3, 10), (3, 60), (32, 10)])
def test_the_poll_interval_outlasts_a_batch_whose_every_email_times_out_twice(workers, timeout):
    key = new_key()
    settings = NotifierSettings(encryption_keys=key, event_keys=key, workers=workers, smtp_timeout_seconds=timeout)
    # Each email gives up after the timeout and is tried once more; at most `workers` go at once.
    slowest_ms = math.ceil(OUTCOME_BATCH / workers) * 2 * timeout * 1000

    assert outcome_batches(settings)["max_poll_interval_ms"] > slowest_ms


def test_with_notify_the_poll_interval_outlasts_a_batch_whose_every_message_times_out_twice():
    key = new_key()
    templates = {f"notify_{kind}_template_id": f"template-{kind}" for kind in ("email", "sms", "letter")}
    settings = NotifierSettings(
        encryption_keys=key, event_keys=key, channel="notify", notify_api_key="k", notify_timeout_seconds=30, **templates
    )
    # Notify takes a few messages at once (FEW); the few go one after another.
    slowest_ms = math.ceil(OUTCOME_BATCH / FEW) * 2 * 30 * 1000

    assert outcome_batches(settings)["max_poll_interval_ms"] > slowest_ms
