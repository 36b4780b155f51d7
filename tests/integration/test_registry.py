"""The registry's API on a real database (PostgreSQL and SQLite) and the real broker."""

from __future__ import annotations

import asyncio
import io
import json
import uuid

import httpx
import pytest
from openpyxl import Workbook
from sqlalchemy import text

from services.registry.domain.importing import COLUMNS
from services.registry.event_refs import translated
from services.registry.sample import sample_leaders
from tests.integration.conftest import ADMIN, event_refs_of, unique, with_references

pytestmark = pytest.mark.integration


def csv_file(rows: list[dict]) -> bytes:
    lines = [",".join(COLUMNS)]
    for row in rows:
        lines.append(",".join(f'"{row.get(c, "")}"' for c in COLUMNS))
    return ("\n".join(lines) + "\n").encode()


def a_row(ident: str, **changes: str) -> dict:
    row = {
        "id": ident,
        "name": "Grace Green",
        "role": "carer_leader",
        "email": f"{ident}@example.org",
        "system": "QHM",
        "latitude": "54.97",
        "longitude": "-1.61",
        "meeting_modes": "video; phone",
        "availability": "mon 09:30-11:30",
        "term_time_only": "yes",
        "access_needs": "bsl_interpreter; quiet_room",
        "topics": "mental health",
    }
    return {**row, **changes}


async def test_import_stores_valid_rows_reports_bad_ones_and_a_second_import_changes_nothing(registry):
    tag = uuid.uuid4().hex[:6]
    rows = [
        a_row(f"imp-{tag}-1"),
        a_row(f"imp-{tag}-2", role="nurse"),
        a_row(f"imp-{tag}-3", availability="mornings"),
        a_row(f"imp-{tag}-4", email="not-an-address"),
        a_row(f"imp-{tag}-5", latitude="", longitude="", town="York"),
    ]
    content = csv_file(rows)
    first = (await registry.post("/leaders/import", files={"file": ("leaders.csv", content, "text/csv")})).json()
    assert (first["created"], first["updated"], first["unchanged"]) == (2, 0, 0)
    assert first["rows_with_problems"] == 3
    assert [(p["row"], p["column"]) for p in first["problems"]] == [(3, "role"), (4, "availability"), (5, "email")]
    assert all(p["message"] for p in first["problems"])

    york = (await registry.get(f"/leaders/imp-{tag}-5")).json()
    assert abs(york["location"]["lat"] - 53.96) < 0.05, "the town came from the offline gazetteer"

    second = (await registry.post("/leaders/import", files={"file": ("leaders.csv", content, "text/csv")})).json()
    assert (second["created"], second["updated"], second["unchanged"]) == (0, 0, 2)
    assert (await registry.get(f"/leaders/imp-{tag}-1")).json()["version"] == 1


async def test_an_import_that_cannot_be_read_is_a_plain_answer_never_a_server_error(registry):
    tag = uuid.uuid4().hex[:6]
    content = csv_file([a_row(f"long-{tag}-1")]) + b'"' + b"x" * 140_000 + b"\n" + csv_file([a_row(f"long-{tag}-2")])
    answer = await registry.post("/leaders/import", files={"file": ("leaders.csv", content, "text/csv")})
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("The file cannot be imported: row 3 has a cell longer than 131,072 characters")
    assert (await registry.get(f"/leaders/long-{tag}-1")).status_code == 404, "nothing from the file was stored"


async def test_import_reads_excel_workbooks_too(registry):
    tag = uuid.uuid4().hex[:6]
    book = Workbook()
    book.active.append(list(COLUMNS))
    book.active.append([a_row(f"xl-{tag}").get(c, "") for c in COLUMNS])
    buffer = io.BytesIO()
    book.save(buffer)
    result = (await registry.post("/leaders/import", files={"file": ("leaders.xlsx", buffer.getvalue())})).json()
    assert result["created"] == 1 and result["problems"] == []
    template = await registry.get("/leaders/import/template.xlsx")
    assert template.status_code == 200 and template.content[:2] == b"PK"


async def test_special_category_data_and_contact_details_are_encrypted_at_rest(registry):
    leader = unique(sample_leaders()[12])  # has a British Sign Language interpreter need
    leader["email"] = f"secret-{uuid.uuid4().hex[:6]}@example.org"
    assert (await registry.post("/leaders", json=leader)).status_code == 201
    for _ in range(100):  # until the relay has published the leader's two events
        async with registry.store.engine.connect() as conn:
            waiting = (await conn.execute(text("select count(*) from outbox where published_at is null"))).scalar()
        if waiting == 0:
            break
        await asyncio.sleep(0.1)
    assert waiting == 0
    stored = ""
    async with registry.store.engine.connect() as conn:
        for table in ("leaders", "outbox", "audit_log", "inbox"):
            stored += repr((await conn.execute(text(f"select * from {table}"))).all())
    assert leader["email"] not in stored and leader["name"] not in stored
    assert "bsl_interpreter" not in stored


async def test_every_read_of_a_leader_is_audited_with_who_and_why(registry):
    leader = unique(sample_leaders()[0])
    await registry.post("/leaders", json=leader)
    await registry.get(f"/leaders/{leader['id']}", params={"purpose": "checking access needs"})
    entries = (await registry.get("/audit", params={"leader_id": leader["id"]})).json()["items"]
    assert [(e["actor"], e["action"], e["purpose"]) for e in entries] == [(ADMIN[0], "read", "checking access needs")]


async def test_erasure_removes_the_person_and_leaves_tombstones_and_an_audit_entry(registry):
    leader = unique(sample_leaders()[2])
    await registry.post("/leaders", json=leader)
    ref = (await event_refs_of(registry.store))[leader["id"]]
    assert (await registry.delete(f"/leaders/{leader['id']}")).status_code == 200
    assert (await registry.get(f"/leaders/{leader['id']}")).status_code == 404
    async with registry.store.engine.connect() as conn:
        outbox = (await conn.execute(text("select topic, value from outbox where key = :ref"), {"ref": ref})).all()
        keys = (await conn.execute(text("select * from person_keys where leader_id = :id"), {"id": leader["id"]})).all()
        everything = []
        for table in ("leaders", "outbox", "responses", "deliveries", "unmatched"):
            everything += (await conn.execute(text(f"select * from {table}"))).all()
    assert sorted(row.topic for row in outbox) == ["leaders.contact.v1", "leaders.keys.v1", "leaders.profile.v1"]
    assert all(row.value is None for row in outbox), "three tombstones: profile, contact and the key that sealed the contact"
    assert keys == [], "their key is destroyed"
    dump = repr(everything)
    assert leader["name"] not in dump and leader["email"] not in dump
    assert leader["id"] not in dump, "the tombstones are keyed by their event reference, and it links to no one now"
    assert ref not in repr((await event_refs_of(registry.store)).values())
    entries = (await registry.get("/audit", params={"leader_id": leader["id"]})).json()["items"]
    assert entries[0]["action"] == "erased" and entries[0]["actor"] == ADMIN[0]


async def test_erasure_leaves_the_audit_trail_whole_but_naming_no_one(registry):
    gone = unique(sample_leaders()[2])
    # Another person whose id starts with theirs: a different person, left as they are.
    neighbour = {**sample_leaders()[3], "id": f"{gone['id']}0"}
    for leader in (gone, neighbour):
        await registry.post("/leaders", json=leader)
    await registry.get(f"/leaders/{gone['id']}", params={"purpose": "checking access needs"})
    await registry.get(f"/leaders/{neighbour['id']}", params={"purpose": f"before pairing with {gone['id']}."})
    erased = await registry.delete(f"/leaders/{gone['id']}", params={"purpose": f"{gone['id']} asked to be erased"})
    assert erased.status_code == 200

    entries = (await registry.get("/audit", params={"leader_id": gone["id"]})).json()["items"]
    assert [(e["action"], e["actor"]) for e in entries] == [("erased", ADMIN[0]), ("read", ADMIN[0])]
    marker = entries[0]["leader_id"]
    assert marker.startswith("(erased ") and {e["leader_id"] for e in entries} == {marker}
    assert [e["purpose"] for e in entries] == [f"{marker} asked to be erased", "checking access needs"]
    theirs = (await registry.get("/audit", params={"leader_id": neighbour["id"]})).json()["items"]
    assert [(e["leader_id"], e["purpose"]) for e in theirs] == [(neighbour["id"], f"before pairing with {marker}.")]
    async with registry.store.engine.connect() as conn:
        rows = (await conn.execute(text("select actor, action, leader_id, purpose from audit_log"))).all()
    named = [row for row in rows if gone["id"] in repr(row).replace(neighbour["id"], "")]
    assert named == [], "the table alone names no one who was erased"


async def test_erasure_takes_the_persons_id_out_of_cohorts_rounds_and_kept_or_ruled_out_pairs(registry):
    rounds = await Rounds.with_leaders(registry)
    gone, stays = rounds.lived
    first, second = rounds.professionals
    programme = (await registry.post("/programmes", json={"name": "North East"})).json()["id"]
    cohort = (await registry.post(f"/programmes/{programme}/cohorts", json={"name": "2027", "leader_ids": [gone, stays]})).json()[
        "id"
    ]
    round_id = await rounds.launch(locked_pairs=[[gone, first], [stays, second]], forbidden_pairs=[[gone, second]])
    await rounds.solve(round_id)  # the proposed pair is gone and first

    assert (await registry.delete(f"/leaders/{gone}")).status_code == 200
    assert (await registry.get(f"/cohorts/{cohort}")).json()["leader_ids"] == [stays]
    view = (await registry.get(f"/rounds/{round_id}")).json()
    assert view["leader_count"] == 3
    assert (view["locked_pairs"], view["forbidden_pairs"]) == ([[stays, second]], [])
    assert [(p["lived_experience_id"], p["professional_id"]) for p in view["pairs"]] == [("(erased)", first)]
    async with registry.store.engine.connect() as conn:
        kept = []
        for table in ("leaders", "rounds", "cohort_members", "pairs", "unmatched", "responses", "deliveries"):
            kept += (await conn.execute(text(f"select * from {table}"))).all()
    assert gone not in repr(kept), "only the audit log keeps the id, to show the erasure was done"
    # Their partner is never told about nobody: approving waits for the round to be solved again.
    refused = await rounds.post(round_id, "approve", approved_by="Test manager")
    assert refused.status_code == 409 and "has been erased since this round was solved" in refused.json()["detail"]
    # The round carries on without them.
    assert (await rounds.post(round_id, "resolve")).status_code == 202
    # An answer the matcher worked out before it heard of the erasure never brings their id back.
    await rounds.solve(round_id)
    view = (await registry.get(f"/rounds/{round_id}")).json()
    assert [(p["lived_experience_id"], p["professional_id"]) for p in view["pairs"]] == [("(erased)", first)]
    assert gone not in repr(view)
    assert (await rounds.post(round_id, "approve", approved_by="Test manager")).status_code == 409


async def test_illegal_round_changes_are_refused_in_plain_words(registry):
    leaders = [unique(leader) for leader in sample_leaders()[:4]]
    for leader in leaders:
        await registry.post("/leaders", json=leader)
    round_id = f"r-{uuid.uuid4().hex[:6]}"
    launched = await registry.post(
        "/rounds", json={"id": round_id, "launch_date": "2026-12-01", "leader_ids": [leader["id"] for leader in leaders]}
    )
    assert launched.status_code == 202
    again = await registry.post("/rounds", json={"id": round_id, "leader_ids": [leaders[0]["id"]]})
    assert again.status_code == 409 and "already exists" in again.json()["detail"]
    refused = await registry.post(f"/rounds/{round_id}/publish")
    assert refused.status_code == 409
    assert refused.json()["detail"].startswith("This round is queued, so it cannot be published.")
    unknown = await registry.post("/rounds", json={"leader_ids": ["nobody-here"]})
    assert unknown.status_code == 404 and "nobody-here" in unknown.json()["detail"]


async def test_bad_requests_name_the_field_and_never_give_a_server_error(registry):
    bad = await registry.post("/leaders", json={"name": "", "role": "nurse", "meeting_modes": "video", "extra": 1})
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.json()["errors"]}
    assert {"name", "role", "meeting_modes", "system", "extra"} <= fields
    assert (
        await registry.post("/leaders", content=b"{not json", headers={"content-type": "application/json"})
    ).status_code == 422
    assert (await registry.get("/leaders", params={"per_page": 100000})).status_code == 422
    assert (await registry.get("/rounds/does-not-exist")).status_code == 404


async def test_listing_filters_and_pages_without_special_category_data(registry):
    tag = uuid.uuid4().hex[:6]
    for i in range(3):
        await registry.post("/leaders", json={**sample_leaders()[1], "id": f"list-{tag}-{i}", "system": f"Z{tag[:4]}"})
    page = (await registry.get("/leaders", params={"system": f"Z{tag[:4]}", "per_page": 2, "page": 2})).json()
    assert page["total"] == 3 and len(page["items"]) == 1
    assert set(page["items"][0]) == {"id", "role", "system", "status", "version"}
    await asyncio.sleep(0)


async def test_consent_is_kept_per_purpose_with_its_time(registry):
    leader = unique(sample_leaders()[0])
    leader["consents"] = [
        {"purpose": "pairing", "given": True, "at": "2026-11-01T10:00:00+00:00"},
        {"purpose": "health_and_access_data", "given": False, "at": "2026-11-02T09:30:00+00:00"},
    ]
    assert (await registry.post("/leaders", json=leader)).status_code == 201
    stored = (await registry.get(f"/leaders/{leader['id']}")).json()["consents"]
    assert [(c["purpose"], c["given"]) for c in stored] == [("pairing", True), ("health_and_access_data", False)]
    bad = await registry.post("/leaders", json={**unique(leader), "consents": [{"purpose": "marketing", "given": True}]})
    assert bad.status_code == 422 and {e["field"] for e in bad.json()["errors"]} >= {"consents[0].purpose", "consents[0].at"}


async def test_every_change_of_a_round_is_an_event(registry):
    leaders = [unique(leader) for leader in sample_leaders()[:4]]
    for leader in leaders:
        await registry.post("/leaders", json=leader)
    round_id = f"r-{uuid.uuid4().hex[:6]}"
    await registry.post("/rounds", json={"id": round_id, "leader_ids": [leader["id"] for leader in leaders]})
    await registry.post(f"/rounds/{round_id}/cancel")
    async with registry.store.engine.connect() as conn:
        types = (
            await conn.execute(
                text("select headers from outbox where key = :id and topic = 'rounds.v1' order by id"), {"id": round_id}
            )
        ).all()
    kinds = [(h if isinstance(h, dict) else json.loads(h))["event_type"] for (h,) in types]
    assert kinds == ["RoundStatusChanged", "RoundRequested", "RoundStatusChanged", "RoundCancelled"]


async def test_the_matchers_progress_shows_the_round_being_solved(registry):
    from schemas.events import RoundProgress, SolveProgress
    from services.common.store import handle_once
    from services.registry.handlers import rounds as round_handlers

    leaders = [unique(leader) for leader in sample_leaders()[:4]]
    for leader in leaders:
        await registry.post("/leaders", json=leader)
    round_id = f"r-{uuid.uuid4().hex[:6]}"
    await registry.post("/rounds", json={"id": round_id, "leader_ids": [leader["id"] for leader in leaders]})
    async with registry.store.engine.connect() as conn:
        request_id = (await conn.execute(text("select request_event_id from rounds where id = :id"), {"id": round_id})).scalar()

    def progress(answering: str, seconds: float) -> RoundProgress:
        data = SolveProgress(
            round_id=round_id,
            stage="meeting the area minimums",
            objective={"paired_people": 2.0, "total_fit": 120.0},
            bound={"paired_people": 2.0, "total_fit": 130.0},
            gap=0.076923,
            elapsed_seconds=seconds,
        )
        return RoundProgress(producer="test", correlation_id=round_id, causation_id=answering, data=data)

    await handle_once(registry.store, "test.matches", progress(request_id, 1.0), round_handlers.record_progress)
    view = (await registry.get(f"/rounds/{round_id}")).json()
    assert view["status"] == "solving" and view["progress"]["elapsed_seconds"] == 1.0
    # A report for an earlier request of the same round is stale.
    await handle_once(registry.store, "test.matches", progress(str(uuid.uuid4()), 9.0), round_handlers.record_progress)
    assert (await registry.get(f"/rounds/{round_id}")).json()["progress"]["elapsed_seconds"] == 1.0
    from services.registry.domain.rounds import progress_words

    assert progress_words(view["progress"]) == (
        "Meeting the area minimums. Best so far: 2 pairs, with a total fit score of 120. "
        "The best possible is at most 7.69% better. 1 second so far."
    )


async def test_pairing_again_replaces_partners_who_said_no_or_left_and_keeps_the_rest(registry):
    from schemas.cohort import CohortResult, PairResult, SolveStats
    from schemas.events import RoundSolved
    from services.common.store import handle_once
    from services.registry.adapters.orm import ResponseRow
    from services.registry.handlers import rounds as round_handlers

    leaders = [unique(leader) for leader in sample_leaders()[:12]]
    for leader in leaders:
        assert (await registry.post("/leaders", json=leader)).status_code == 201
    lived = [leader["id"] for leader in leaders if leader["role"] in ("patient_leader", "carer_leader")][:3]
    professionals = [leader["id"] for leader in leaders if leader["role"] in ("clinical_leader", "managerial_leader")][:3]
    round_id = f"r-{uuid.uuid4().hex[:6]}"
    await registry.post("/rounds", json={"id": round_id, "leader_ids": lived + professionals})
    async with registry.store.engine.connect() as conn:
        request_id = (await conn.execute(text("select request_event_id from rounds where id = :id"), {"id": round_id})).scalar()
    # The matcher's answer, as the registry receives it: three pairs.
    pairs = [
        PairResult(
            lived_experience_id=a,
            professional_id=b,
            score=50,
            meeting_modes=["video"],
            shared_windows=[],
            reasons=["You both care about cardiac care."],
        )
        for a, b in zip(lived, professionals, strict=True)
    ]
    solved = RoundSolved(
        producer="test",
        correlation_id=round_id,
        causation_id=request_id,
        data=CohortResult(round_id=round_id, pairs=pairs, unmatched=[], stats=SolveStats(status="optimal")),
    )
    await handle_once(registry.store, "test.matches", solved, round_handlers.record_solution)
    assert (await registry.post(f"/rounds/{round_id}/pair-again")).status_code == 409, "not before the round is published"
    await registry.post(f"/rounds/{round_id}/approve", json={"approved_by": "Test manager"})
    assert (await registry.post(f"/rounds/{round_id}/publish")).status_code == 200
    nobody = await registry.post(f"/rounds/{round_id}/pair-again")
    assert nobody.status_code == 409 and "nobody to pair again" in nobody.json()["detail"]

    # The first pair's professional says no; the second pair's lived-experience leader leaves the programme.
    async with registry.store.unit_of_work() as uow:
        uow.session.add(
            ResponseRow(
                nonce=uuid.uuid4().hex, round_id=round_id, leader_id=professionals[0], partner_id=lived[0], answer="decline"
            )
        )
        await uow.commit()
    leaving = next(leader for leader in leaders if leader["id"] == lived[1])
    assert (await registry.post("/leaders", json={**leaving, "status": "withdrawn"})).status_code == 200
    # Leaving counts as saying no: the partner is told (the notifier reads responses.v1), once.
    assert (await registry.post("/leaders", json={**leaving, "status": "withdrawn", "name": "Renamed"})).status_code == 200
    async with registry.store.engine.connect() as conn:
        told = (
            await conn.execute(text("select headers from outbox where topic = 'responses.v1' and key = :id"), {"id": round_id})
        ).all()
    kinds = [(h if isinstance(h, dict) else json.loads(h))["event_type"] for (h,) in told]
    assert kinds == ["PairDeclined"]
    responses = (await registry.get(f"/rounds/{round_id}")).json()["responses"]
    assert {(r["leader_id"], r["answer"]) for r in responses} == {(professionals[0], "decline"), (lived[1], "decline")}

    started = await registry.post(f"/rounds/{round_id}/pair-again")
    assert started.status_code == 202, started.text
    follow_up = started.json()
    assert follow_up["id"] == f"{round_id}-again-1" and follow_up["parent_round_id"] == round_id
    assert follow_up["leader_ids"] == sorted({lived[0], professionals[0], professionals[1], lived[2], professionals[2]})
    view = (await registry.get(f"/rounds/{follow_up['id']}")).json()
    assert view["status"] == "queued"
    assert view["locked_pairs"] == [[lived[2], professionals[2]]], "the pair nobody said no to is kept"
    assert [lived[0], professionals[0]] in view["forbidden_pairs"], "the declined pair is never proposed again"
    assert (await registry.get(f"/rounds/{round_id}")).json()["follow_up_rounds"] == [follow_up["id"]]


# ---- every change of a round, made by the handler that makes it ----


async def event_types(registry, key: str, topic: str) -> list[str]:
    async with registry.store.engine.connect() as conn:
        rows = (
            await conn.execute(
                text("select headers from outbox where key = :key and topic = :topic order by id"), {"key": key, "topic": topic}
            )
        ).all()
    return [(h if isinstance(h, dict) else json.loads(h))["event_type"] for (h,) in rows]


class Rounds:
    """Launches rounds through the API and feeds them the matcher's answers as the registry receives them."""

    def __init__(self, registry, leaders: list[dict]):
        self.registry = registry
        self.refs: dict[str, str] = {}
        self.lived = [leader["id"] for leader in leaders if leader["role"] in ("patient_leader", "carer_leader")][:2]
        self.professionals = [leader["id"] for leader in leaders if leader["role"] in ("clinical_leader", "managerial_leader")][
            :2
        ]

    @classmethod
    async def with_leaders(cls, registry) -> Rounds:
        leaders = [unique(leader) for leader in sample_leaders()[:12]]
        for leader in leaders:
            assert (await registry.post("/leaders", json=leader)).status_code == 201
        return cls(registry, leaders)

    async def launch(self, **fields) -> str:
        round_id = f"r-{uuid.uuid4().hex[:6]}"
        body = {"id": round_id, "leader_ids": self.lived + self.professionals, **fields}
        assert (await self.registry.post("/rounds", json=body)).status_code == 202
        return round_id

    async def status(self, round_id: str) -> str:
        return (await self.registry.get(f"/rounds/{round_id}")).json()["status"]

    async def answer(self, round_id: str, make, handler) -> None:
        from services.common.store import handle_once

        async with self.registry.store.engine.connect() as conn:
            request_id = (
                await conn.execute(text("select request_event_id from rounds where id = :id"), {"id": round_id})
            ).scalar()
        # As the matcher sends it: people named by their event references (an erased person's too, as
        # the matcher knew it), turned back by the registry.
        self.refs.update(await event_refs_of(self.registry.store))
        sent = with_references(make(round_id, request_id), self.refs)
        await handle_once(self.registry.store, "test.matches", sent, translated(handler))

    async def progress(self, round_id: str) -> None:
        from schemas.events import RoundProgress, SolveProgress
        from services.registry.handlers import rounds as round_handlers

        def make(rid, cause):
            data = SolveProgress(round_id=rid, stage="pairing", elapsed_seconds=1.0)
            return RoundProgress(producer="test", correlation_id=rid, causation_id=cause, data=data)

        await self.answer(round_id, make, round_handlers.record_progress)

    def solved(self, round_id: str, cause: str):
        from schemas.cohort import CohortResult, PairResult, SolveStats
        from schemas.events import RoundSolved

        pair = PairResult(
            lived_experience_id=self.lived[0],
            professional_id=self.professionals[0],
            score=50,
            meeting_modes=["video"],
            shared_windows=[],
            reasons=["You both care about cardiac care."],
        )
        result = CohortResult(round_id=round_id, pairs=[pair], unmatched=[], stats=SolveStats(status="optimal"))
        return RoundSolved(producer="test", correlation_id=round_id, causation_id=cause, data=result)

    async def solve(self, round_id: str) -> None:
        from services.registry.handlers import rounds as round_handlers

        await self.answer(round_id, self.solved, round_handlers.record_solution)

    async def fail(self, round_id: str) -> None:
        from schemas.events import RoundFailure, RoundSolveFailed
        from services.registry.handlers import rounds as round_handlers

        def make(rid, cause):
            data = RoundFailure(round_id=rid, reason="The profiles of two leaders did not arrive in time.")
            return RoundSolveFailed(producer="test", correlation_id=rid, causation_id=cause, data=data)

        await self.answer(round_id, make, round_handlers.record_failure)

    async def post(self, round_id: str, action: str, **body) -> httpx.Response:
        return await self.registry.post(f"/rounds/{round_id}/{action}", json=body or None)

    async def act(self, round_id: str, step: str) -> None:
        if step in ("progress", "solve", "fail"):
            await getattr(self, step)(round_id)
            return
        body = {"approved_by": "Test manager"} if step == "approve" else {}
        answer = await self.post(round_id, step, **body)
        assert answer.status_code < 300, f"{step}: {answer.text}"


# How a round gets to each status, and which handler makes each change the lifecycle allows.
ON_THE_WAY = {
    "queued": [],
    "solving": ["progress"],
    "proposed": ["solve"],
    "approved": ["solve", "approve"],
    "published": ["solve", "approve", "publish"],
    "failed": ["fail"],
}
MADE_BY = {
    ("queued", "solving"): "progress",
    ("queued", "proposed"): "solve",
    ("queued", "failed"): "fail",
    ("queued", "cancelled"): "cancel",
    ("solving", "proposed"): "solve",
    ("solving", "failed"): "fail",
    ("solving", "cancelled"): "cancel",
    ("proposed", "approved"): "approve",
    ("proposed", "queued"): "resolve",
    ("proposed", "cancelled"): "cancel",
    ("approved", "published"): "publish",
    ("approved", "cancelled"): "cancel",
    ("published", "closed"): "close",
    ("published", "cancelled"): "cancel",
    ("failed", "queued"): "resolve",
    ("failed", "cancelled"): "cancel",
}


def test_every_change_the_lifecycle_allows_is_made_by_a_handler():
    from services.registry.domain.rounds import ALLOWED

    allowed = {(a.value, b.value) for a, targets in ALLOWED.items() for b in targets}
    # Launching makes the draft and queues it in one transaction, so nothing else ever sees a draft.
    assert allowed - {("draft", "queued"), ("draft", "cancelled")} == set(MADE_BY)


async def test_each_allowed_change_of_a_round_is_made_and_is_one_event(registry):
    rounds = await Rounds.with_leaders(registry)
    for (before, after), step in MADE_BY.items():
        round_id = await rounds.launch()
        for earlier in ON_THE_WAY[before]:
            await rounds.act(round_id, earlier)
        assert await rounds.status(round_id) == before, f"{before} -> {after}: did not reach {before}"
        changes = (await event_types(registry, round_id, "rounds.v1")).count("RoundStatusChanged")
        await rounds.act(round_id, step)
        assert await rounds.status(round_id) == after, f"{before} -> {after}: {step} did not make the change"
        now = (await event_types(registry, round_id, "rounds.v1")).count("RoundStatusChanged")
        assert now == changes + 1, f"{before} -> {after}: the change was not one RoundStatusChanged event"


async def test_changes_the_lifecycle_does_not_allow_are_refused_in_plain_words(registry):
    rounds = await Rounds.with_leaders(registry)
    published = await rounds.launch()
    for step in ON_THE_WAY["published"]:
        await rounds.act(published, step)
    approved = await rounds.launch()
    for step in ON_THE_WAY["approved"]:
        await rounds.act(approved, step)
    proposed = await rounds.launch()
    await rounds.solve(proposed)
    refused = {
        (
            proposed,
            "close",
        ): "This round is proposed, so it cannot be closed. From proposed it can go to: approved, cancelled, queued.",
        (
            approved,
            "resolve",
        ): "This round is approved, so it cannot be sent to the matcher. From approved it can go to: cancelled, published.",
        (
            published,
            "publish",
        ): "This round is published, so it cannot be published. From published it can go to: cancelled, closed.",
        (
            published,
            "resolve",
        ): "This round is published, so it cannot be sent to the matcher. From published it can go to: cancelled, closed.",
    }
    for (round_id, step), words in refused.items():
        answer = await rounds.post(round_id, step)
        assert (answer.status_code, answer.json()["detail"]) == (409, words), step
    assert (await rounds.post(published, "close")).status_code == 200
    again = await rounds.post(published, "close")
    assert again.status_code == 409 and again.json()["detail"].endswith("From closed it can go to: nothing: it is finished.")
    assert (await rounds.post("no-such-round", "close")).status_code == 404


async def test_a_repeated_answer_from_the_matcher_never_undoes_a_persons_approval(registry):
    from schemas.events import RoundFailure, RoundSolveFailed
    from services.common.store import handle_once
    from services.registry.handlers import rounds as round_handlers

    rounds = await Rounds.with_leaders(registry)
    round_id = await rounds.launch()
    await rounds.solve(round_id)
    await rounds.act(round_id, "approve")
    before = (await registry.get(f"/rounds/{round_id}")).json()
    assert before["status"] == "approved" and before["approved_by"]
    # The matcher answered the same request again (after a restart, say), under new event ids.
    async with registry.store.engine.connect() as conn:
        request_id = (await conn.execute(text("select request_event_id from rounds where id = :id"), {"id": round_id})).scalar()
    failed = RoundSolveFailed(
        producer="test",
        correlation_id=round_id,
        causation_id=request_id,
        data=RoundFailure(round_id=round_id, reason="The matcher stopped."),
    )
    assert await handle_once(registry.store, "test.matches", rounds.solved(round_id, request_id), round_handlers.record_solution)
    assert await handle_once(registry.store, "test.matches", failed, round_handlers.record_failure)
    assert (await registry.get(f"/rounds/{round_id}")).json() == before


async def test_a_closed_round_takes_no_more_answers_and_its_people_can_still_be_paired_again(registry):
    from services.registry.adapters.orm import ResponseRow

    rounds = await Rounds.with_leaders(registry)
    round_id = await rounds.launch()
    for step in ON_THE_WAY["published"]:
        await rounds.act(round_id, step)
    lived, professional = rounds.lived[0], rounds.professionals[0]
    async with registry.store.unit_of_work() as uow:
        uow.session.add(
            ResponseRow(nonce=uuid.uuid4().hex, round_id=round_id, leader_id=professional, partner_id=lived, answer="decline")
        )
        await uow.commit()
    closed = await rounds.post(round_id, "close")
    assert closed.json() == {"id": round_id, "status": "closed", "locked_pairs": [], "forbidden_pairs": []}

    token = registry.signer.dumps({"round": round_id, "leader": lived, "partner": professional, "nonce": uuid.uuid4().hex})
    late = await registry.post(f"/responses/{token}", data={"answer": "accept"})
    assert late.status_code == 409 and "no longer taking answers" in late.text
    again = await rounds.post(round_id, "pair-again")
    assert (
        again.status_code == 202
        and [lived, professional] in (await registry.get(f"/rounds/{again.json()['id']}")).json()["forbidden_pairs"]
    )


# ---- changing a leader ----


async def test_put_replaces_a_registered_leader_and_shares_the_change_like_any_update(registry):
    leader = unique(sample_leaders()[0])
    leader_id = leader["id"]
    first = await registry.post("/leaders", json=leader)
    assert (first.status_code, first.json()["outcome"], first.json()["version"]) == (201, "created", 1)
    changed = {k: v for k, v in leader.items() if k != "id"} | {"topics": ["stroke"], "name": "A new name"}

    replaced = await registry.put(f"/leaders/{leader_id}", json=changed)
    assert replaced.status_code == 200
    assert replaced.json() == {"id": leader_id, "version": 2, "status": "active", "outcome": "updated"}
    stored = (await registry.get(f"/leaders/{leader_id}")).json()
    assert (stored["name"], stored["topics"]) == ("A new name", ["stroke"])
    shared = ["LeaderProfileChanged", "LeaderContactChanged"]
    ref = (await event_refs_of(registry.store))[leader_id]  # events are keyed by their event reference
    assert await event_types(registry, ref, "leaders.profile.v1") + await event_types(registry, ref, "leaders.contact.v1") == [
        shared[0],
        shared[0],
        shared[1],
        shared[1],
    ], "two of each view: the registration and the change"

    same = await registry.put(f"/leaders/{leader_id}", json={**changed, "id": leader_id})
    assert (same.status_code, same.json()["outcome"], same.json()["version"]) == (200, "unchanged", 2)
    posted = await registry.post("/leaders", json={**changed, "id": leader_id, "topics": ["cancer"]})
    assert (posted.status_code, posted.json()["outcome"], posted.json()["version"]) == (200, "updated", 3)
    # Only what they are matched on changed: the matcher hears it, the notifier's contact record is still right.
    assert await event_types(registry, ref, "leaders.profile.v1") == [shared[0]] * 3
    assert await event_types(registry, ref, "leaders.contact.v1") == [shared[1]] * 2


async def test_put_refuses_an_unknown_leader_a_different_id_and_bad_fields_by_name(registry):
    leader = unique(sample_leaders()[0])
    await registry.post("/leaders", json=leader)
    body = {k: v for k, v in leader.items() if k != "id"}

    nobody = await registry.put("/leaders/nobody-here", json=body)
    assert nobody.status_code == 404 and nobody.json()["detail"].startswith("there is no leader called nobody-here")
    other = await registry.put(f"/leaders/{leader['id']}", json={**body, "id": "someone-else"})
    assert other.status_code == 422
    assert other.json()["errors"] == [
        {"field": "id", "message": f"must be {leader['id']}, the id at the end of the address, or be left out"}
    ]
    bad = await registry.put(f"/leaders/{leader['id']}", json={**body, "role": "nurse", "meeting_modes": []})
    assert bad.status_code == 422 and {e["field"] for e in bad.json()["errors"]} == {"role", "meeting_modes"}
    no_email = await registry.put(f"/leaders/{leader['id']}", json={**body, "contact_method": "email", "email": None})
    assert no_email.status_code == 409 and "email is needed" in no_email.json()["detail"]
    assert (await registry.get(f"/leaders/{leader['id']}")).json()["version"] == 1, "nothing refused was saved"
