"""Reasons for saying no, through the real registry on a real database and the real broker: shown
on the follow-up page and in its download to managers and admins only, sealed with the person's own
key, gone when the person is erased or their key destroyed, and deleted by the retention purge."""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select

from services.registry import retention
from services.registry.adapters.orm import AuditRow, PersonKeyRow, ResponseRow
from services.registry.decline_reasons import NO_LONGER_KEPT
from tests.integration.conftest import ADMIN
from tests.integration.helpers import pages_as, paired_outcomes, path_of, someone

pytestmark = pytest.mark.integration

HEALTH = "I start chemotherapy in May"
DISTANCE = "Too far to travel"


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    return list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))


async def test_a_reason_for_a_no_is_shown_to_managers_only_and_goes_with_erasure_and_retention(registry, kafka_settings):
    round_id, _professional, signs, carer, outcomes = await paired_outcomes(registry, kafka_settings)
    (theirs,) = outcomes[signs["id"]].data.partners
    said = await registry.post(path_of(theirs.decline_url), data={"answer": "decline", "reason": HEALTH})
    assert said.status_code == 200, said.text
    (carers,) = outcomes[carer["id"]].data.partners
    today = dt.datetime.now(ZoneInfo("Europe/London")).date()
    recorded = await registry.post(
        f"/rounds/{round_id}/answers",
        json={
            "reference": carers.reference,
            "answer": "decline",
            "via": "phone",
            "received_on": today.isoformat(),
            "reason": DISTANCE,
        },
    )
    assert recorded.status_code == 201, recorded.text
    follow_up = f"/manage/rounds/{round_id}/follow-up"
    cipher = registry._transport.app.state.registry.cipher

    # Sealed with the person's own key inside the registry's: the registry's key alone does not open it.
    async with registry.store.unit_of_work() as uow:
        stored = (await uow.session.scalars(select(ResponseRow.sealed_reason).where(ResponseRow.round_id == round_id))).all()
    assert len(stored) == 2 and all(HEALTH.encode() not in s and b"chemotherapy" not in s for s in stored)
    assert not any("chemotherapy" in str(cipher.open(s)) for s in stored)

    async with pages_as(registry, *ADMIN) as admin:
        page = (await admin.get(follow_up)).text
        assert "Reason for a no" in page and HEALTH in page and DISTANCE in page
        rows = csv_rows(await admin.get(f"/manage/rounds/{round_id}/export/follow-up.csv"))
        assert rows[0][-1] == "Reason for a no"
        assert sorted(r[-1] for r in rows[1:] if r[-1]) == sorted([HEALTH, DISTANCE])
    async with registry.store.unit_of_work() as uow:
        reads = (await uow.session.scalars(select(AuditRow).where(AuditRow.action == "read a reason for a no"))).all()
    assert {(r.actor, r.leader_id) for r in reads if round_id in r.purpose} == {(ADMIN[0], signs["id"]), (ADMIN[0], carer["id"])}
    assert any("export the follow-up (csv)" in r.purpose for r in reads)

    async with pages_as(registry, *(await someone(registry, "viewer"))) as viewer:
        page = (await viewer.get(follow_up)).text
        assert "4 rows." in page, "a viewer still sees every answer"
        assert "Reason for a no" not in page and HEALTH not in page and DISTANCE not in page
        rows = csv_rows(await viewer.get(f"/manage/rounds/{round_id}/export/follow-up.csv"))
        assert "Reason for a no" not in rows[0] and not any(HEALTH in c or DISTANCE in c for r in rows for c in r)

    # Erased: the carer's answer and its reason are gone, and the round's pages still work, naming them nowhere.
    assert (await registry.delete(f"/leaders/{carer['id']}")).status_code == 200
    async with pages_as(registry, *ADMIN) as admin:
        page = await admin.get(follow_up)
        assert page.status_code == 200 and HEALTH in page.text and DISTANCE not in page.text
        for path in (f"/manage/rounds/{round_id}", f"/manage/rounds/{round_id}/pairs", f"/manage/rounds/{round_id}/status"):
            shown = await admin.get(path)
            assert shown.status_code == 200 and carer["id"] not in shown.text and carer["name"] not in shown.text, path
    # The audit log keeps the answer the team recorded for them, and its reading, under a digest of their id.
    audit = (await registry.get("/audit")).json()["items"]
    assert carer["id"] not in repr(audit)
    theirs = (await registry.get("/audit", params={"leader_id": carer["id"]})).json()["items"]
    assert [e["action"] for e in theirs][:1] == ["erased"] and "recorded an answer" in [e["action"] for e in theirs]

    # Their key destroyed (as when a withdrawn person's last round closes): the reason can no longer be read.
    async with registry.store.unit_of_work() as uow:
        await uow.session.execute(delete(PersonKeyRow).where(PersonKeyRow.leader_id == signs["id"]))
        await uow.commit()
    async with pages_as(registry, *ADMIN) as admin:
        page = (await admin.get(follow_up)).text
        assert HEALTH not in page and NO_LONGER_KEPT in page

    # The round's retention period ends: the purge deletes the answers with their reasons.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=401)
    removed = await retention.purge(registry.store, cipher, later, keep_days=400, audit_days=2190)
    assert removed["answers"] >= 1
    async with registry.store.unit_of_work() as uow:
        left = (await uow.session.scalars(select(ResponseRow).where(ResponseRow.round_id == round_id))).all()
    assert left == []
    async with pages_as(registry, *ADMIN) as admin:
        page = (await admin.get(follow_up)).text
        assert NO_LONGER_KEPT not in page and ">No</td>" not in page and "Nothing yet" in page
