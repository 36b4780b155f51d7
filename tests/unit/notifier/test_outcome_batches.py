"""The outcomes subscriber's poll interval outlasts the longest a batch of outcomes can take: a consumer
that does not come back for more within it is taken out of its group, and another instance is then
given the same batch while the first is still sending it. And how a batch is cut into fews."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import cast

import pytest

from services.common.crypto import new_key
from services.notifier.app import OUTCOME_BATCH, outcome_batches
from services.notifier.batch_groups import FEW, in_few
from services.notifier.config import NotifierSettings
from services.notifier.notices import OutcomeNotice

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


def test_a_persons_messages_are_never_in_two_fews_next_to_each_other():
    # A few is claimed while the one before is sent: a person's later message must not be claimed
    # before their earlier one is all sent (it waits behind it if that fails).
    notices = [SimpleNamespace(leader_id=leader) for leader in ("pl-1", "pl-2", "pl-1", "pl-1", *(f"x-{i}" for i in range(FEW)))]

    groups = in_few(cast(list[OutcomeNotice], notices))

    where = [[at for at, group in enumerate(groups) for notice in group if notice is mine] for mine in notices]
    assert [at for [at] in where[:4]] == [0, 0, 2, 4]  # pl-1's in the batch's order, a few apart
    assert all(len(group) <= FEW for group in groups)
    assert sorted(id(notice) for group in groups for notice in group) == sorted(id(notice) for notice in notices)
