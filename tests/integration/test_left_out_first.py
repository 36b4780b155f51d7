"""People left out in a programme's earlier round are marked to be paired first in the next
round's request to the matcher (issue 18), on a real database and the real broker."""

from __future__ import annotations

import uuid

import pytest

from schemas.events import RoundRequested
from schemas.topics import ROUNDS
from services.registry.adapters.orm import ResponseRow
from services.registry.sample import sample_leaders
from tests.integration.conftest import event_refs_of, unique, with_ids
from tests.integration.test_publishing import publish_two_pairs
from tests.kafka_reading import read_topic

pytestmark = pytest.mark.integration


async def request_of(registry, kafka_settings, round_id: str) -> RoundRequested:
    """The round's request on the broker, its people's event references read back as registry ids."""
    records = await read_topic(
        kafka_settings.bootstrap_servers,
        ROUNDS,
        keep=lambda r: r.key == round_id.encode() and b"RoundRequested" in r.value,
        expected=1,
        timeout_s=20,
    )
    assert len(records) == 1, "the round's request reached the broker"
    return with_ids(RoundRequested.model_validate_json(records[0].value), await event_refs_of(registry.store))


async def test_people_not_paired_or_said_no_to_in_a_round_are_paired_first_in_the_next(registry, kafka_settings):
    alone = unique({**sample_leaders()[0], "availability": []})
    first, professional, signs, carer = await publish_two_pairs(registry, not_paired=alone)
    # The professional says no to one of their two partners; their other pair goes ahead.
    async with registry.store.unit_of_work() as uow:
        uow.session.add(
            ResponseRow(
                nonce=uuid.uuid4().hex, round_id=first, leader_id=professional["id"], partner_id=signs["id"], answer="decline"
            )
        )
        await uow.commit()
    assert (await request_of(registry, kafka_settings, first)).data.left_out_before == [], (
        "nobody was left out before the first round"
    )

    second = f"r-{uuid.uuid4().hex[:6]}"
    people = [alone["id"], signs["id"], carer["id"], professional["id"]]
    assert (await registry.post("/rounds", json={"id": second, "leader_ids": people})).status_code == 202
    request = await request_of(registry, kafka_settings, second)
    assert request.data.left_out_before == sorted([alone["id"], signs["id"]])
