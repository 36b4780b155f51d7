"""People left out in a programme's earlier round are marked to be paired first in the next
round's request to the matcher (issue 18), on a real database and the real broker."""

from __future__ import annotations

import uuid

import pytest

from services.registry.adapters.orm import ResponseRow
from services.registry.sample import sample_leaders
from tests.integration.conftest import unique
from tests.integration.helpers import publish_two_pairs, request_of

pytestmark = pytest.mark.integration


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
