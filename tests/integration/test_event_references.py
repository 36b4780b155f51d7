"""A round's events name people by their event references only: no registry id (often a reference a
manager typed, which may name the person) is on any topic, and the registry reads the matcher's
answer back to its own ids. On a real database and the real broker."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from sqlalchemy import text

from schemas.cohort import CohortResult, PairResult, SolveStats, UnmatchedResult
from schemas.events import OutcomePublished, RoundRequested, RoundSolved
from schemas.topics import LEADER_CONTACTS, LEADER_KEYS, LEADER_PROFILES, OUTCOMES, RESPONSES, ROUNDS
from services.common.store import handle_once
from services.registry import event_refs
from services.registry.handlers import rounds as round_handlers
from services.registry.sample import sample_leaders
from tests.integration.conftest import event_refs_of, unique, with_references
from tests.kafka_reading import read_topic

pytestmark = pytest.mark.integration

PERSON_TOPICS = (LEADER_PROFILES, LEADER_CONTACTS, LEADER_KEYS, ROUNDS, OUTCOMES, RESPONSES)


def raw(record) -> bytes:
    return (record.key or b"") + (record.value or b"") + b"".join(k.encode() + (v or b"") for k, v in record.headers)


async def records_naming(kafka_settings, wanted: list[str]) -> dict[str, int]:
    """How many records on each topic about people hold any of `wanted`, in key, value or headers."""
    found: dict[str, int] = {}
    for topic in PERSON_TOPICS:
        for record in await read_topic(kafka_settings.bootstrap_servers, topic, timeout_s=20):
            if any(w.encode() in raw(record) for w in wanted):
                found[topic.name] = found.get(topic.name, 0) + 1
    return found


async def test_a_rounds_events_carry_event_references_and_never_a_registry_id(registry, kafka_settings):
    by_role = {leader["role"]: leader for leader in sample_leaders()}
    lived, carer = unique(by_role["patient_leader"]), unique(by_role["carer_leader"])
    clinical = unique({**by_role["clinical_leader"], "capacity": 1})
    manager = unique({**by_role["managerial_leader"], "do_not_pair_with": [carer["id"]]})
    people = [lived, carer, clinical, manager]
    for leader in people:
        assert (await registry.post("/leaders", json=leader)).status_code == 201
    ids = [p["id"] for p in people]
    refs = await event_refs_of(registry.store)
    assert all(event_refs.is_ref(refs[i]) for i in ids) and len({refs[i] for i in ids}) == 4, "each has their own"

    round_id = f"r-{uuid.uuid4().hex[:6]}"
    body = {
        "id": round_id,
        "leader_ids": ids,
        "locked_pairs": [[lived["id"], clinical["id"]]],
        "forbidden_pairs": [[carer["id"], clinical["id"]]],
    }
    assert (await registry.post("/rounds", json=body)).status_code == 202
    async with registry.store.engine.connect() as conn:
        request_id = (await conn.execute(text("select request_event_id from rounds where id = :id"), {"id": round_id})).scalar()

    # The matcher answers in references; the registry reads its own ids back, in the words too.
    pair = PairResult(
        lived_experience_id=lived["id"],
        professional_id=clinical["id"],
        score=60,
        meeting_modes=["video"],
        shared_windows=[],
        reasons=["You both care about cardiac care."],
        locked=True,
    )
    solved = with_references(
        RoundSolved(
            producer="matcher",
            correlation_id=round_id,
            causation_id=request_id,
            data=CohortResult(
                round_id=round_id,
                pairs=[pair],
                unmatched=[
                    UnmatchedResult(id=carer["id"], reason="Nobody is free when you are.", rule="availability"),
                    UnmatchedResult(id=manager["id"], reason="Nobody is free when you are.", rule="availability"),
                ],
                stats=SolveStats(status="optimal"),
            ),
        ),
        refs,
    )
    assert lived["id"] not in solved.model_dump_json()
    await handle_once(registry.store, "test.matches", solved, event_refs.translated(round_handlers.record_solution))
    view = (await registry.get(f"/rounds/{round_id}")).json()
    assert view["status"] == "proposed", view
    assert [(p["lived_experience_id"], p["professional_id"]) for p in view["pairs"]] == [(lived["id"], clinical["id"])]
    assert (await registry.post(f"/rounds/{round_id}/approve", json={"approved_by": "Test manager"})).status_code == 200
    assert (await registry.post(f"/rounds/{round_id}/publish")).status_code == 200

    outcomes: dict[str, OutcomePublished] = {}
    for _ in range(40):  # the relay publishes the outbox in the background
        records = await read_topic(kafka_settings.bootstrap_servers, OUTCOMES, timeout_s=20)
        outcomes = {
            r.key.decode(): OutcomePublished.model_validate_json(r.value) for r in records if round_id.encode() in r.value
        }
        if len(outcomes) == 4:
            break
        await asyncio.sleep(0.5)
    assert set(outcomes) == {refs[i] for i in ids}, "one outcome for each person, keyed by their reference"
    assert outcomes[refs[lived["id"]]].data.leader_id == refs[lived["id"]]
    assert [p.partner_id for p in outcomes[refs[lived["id"]]].data.partners] == [refs[clinical["id"]]]

    requests = [
        RoundRequested.model_validate_json(r.value)
        for r in await read_topic(kafka_settings.bootstrap_servers, ROUNDS, timeout_s=20)
        if r.key == round_id.encode() and b'"RoundRequested"' in r.value
    ]
    (request,) = requests
    assert set(request.data.leader_versions) == {refs[i] for i in ids}
    assert request.data.locked_pairs == [(refs[lived["id"]], refs[clinical["id"]])]
    assert (refs[carer["id"]], refs[clinical["id"]]) in request.data.forbidden_pairs, "the pair the manager ruled out"
    assert all(event_refs.is_ref(person) for pair in request.data.forbidden_pairs for person in pair)

    profiles = await read_topic(
        kafka_settings.bootstrap_servers, LEADER_PROFILES, lambda r: r.key == refs[manager["id"]].encode()
    )
    assert profiles and all(refs[carer["id"]].encode() in r.value for r in profiles), "kept apart, by reference"

    assert await records_naming(kafka_settings, ids) == {}, "no registry id on any topic about people"
    assert set(await records_naming(kafka_settings, [refs[lived["id"]]])) == {
        LEADER_PROFILES.name,
        LEADER_CONTACTS.name,
        LEADER_KEYS.name,
        ROUNDS.name,
        OUTCOMES.name,
    }


async def test_people_registered_before_references_get_one_are_shared_under_it_and_erased_under_both(
    database_url, kafka_settings
):
    from alembic import command

    from schemas.events import LeaderKeyShared
    from services.common.crypto import Cipher, new_key
    from services.common.migrations import alembic_config
    from services.common.sealing import new_data_key
    from services.common.store import make_engine
    from services.registry.domain.leaders import LeaderIn
    from services.registry.domain.registering import SEALED_FIELDS
    from tests.integration.conftest import running_registry

    at_rest, shared = new_key(), new_key()
    leader = LeaderIn.model_validate(unique(sample_leaders()[0]))
    public = leader.model_dump(mode="json")
    sealed = {field: public.pop(field) for field in SEALED_FIELDS}
    their_key = new_data_key()  # their contact records from before are sealed with it
    engine = make_engine(database_url)
    async with engine.begin() as conn:  # the registry's tables just before event references came
        await conn.run_sync(lambda sync: command.upgrade(alembic_config("registry", sync), "a1200000000b"))
        await conn.execute(
            text(
                "insert into leaders (id, role, system, status, version, public, sealed, created_at, updated_at) "
                "values (:id, :role, :system, 'active', 3, :public, :sealed, current_timestamp, current_timestamp)"
            ),
            {
                "id": leader.id,
                "role": leader.role,
                "system": leader.system,
                "public": json.dumps(public),
                "sealed": Cipher(at_rest).seal(sealed),
            },
        )
        await conn.execute(
            text("insert into person_keys (leader_id, sealed_key, created_at) values (:id, :key, current_timestamp)"),
            {"id": leader.id, "key": Cipher(at_rest).seal_bytes(their_key)},
        )
    await engine.dispose()

    async with running_registry(database_url, kafka_settings, encryption_keys=at_rest, event_keys=shared) as registry:
        async with registry.store.engine.connect() as conn:
            row = (
                await conn.execute(
                    text("select event_ref, keyed_by_id, shared_by_ref from leaders where id = :id"), {"id": leader.id}
                )
            ).one()
            outbox = (await conn.execute(text("select topic, key from outbox order by id"))).all()
        ref = row.event_ref
        assert event_refs.is_ref(ref) and row.keyed_by_id and row.shared_by_ref, "given a reference, and shared under it"
        assert [(topic, key) for topic, key in outbox] == [
            (LEADER_PROFILES.name, ref),
            (LEADER_KEYS.name, ref),
            (LEADER_CONTACTS.name, ref),
        ], "their profile, their same key and their contact record, once, under the reference"
        (record,) = await read_topic(kafka_settings.bootstrap_servers, LEADER_KEYS, lambda r: r.key == ref.encode(), expected=1)
        wrapped = LeaderKeyShared.model_validate_json(record.value).data.wrapped_key
        assert Cipher(shared).open_text(wrapped) == their_key, "the key their old records were sealed with"

        assert (await registry.delete(f"/leaders/{leader.id}")).status_code == 200
        async with registry.store.engine.connect() as conn:
            tombstones = (await conn.execute(text("select topic, key from outbox where value is null"))).all()
    assert sorted(tombstones) == sorted(
        (topic.name, key) for topic in (LEADER_PROFILES, LEADER_CONTACTS, LEADER_KEYS) for key in (ref, leader.id)
    ), "their records keyed by their id, from before, are erased too"


async def test_the_leaders_search_finds_someone_by_the_reference_a_task_quotes(registry):
    """A task the notifier wrote without their name quotes their event reference as the record number."""
    import re

    import httpx

    from tests.integration.conftest import ADMIN

    leader = unique(sample_leaders()[1])
    assert (await registry.post("/leaders", json=leader)).status_code == 201
    ref = (await event_refs_of(registry.store))[leader["id"]]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=registry._transport.app), base_url="http://registry") as pages:
        token = re.search(r'name="csrf_token" value="([^"]+)"', (await pages.get("/sign-in")).text).group(1)
        await pages.post("/sign-in", data={"csrf_token": token, "email": ADMIN[0], "password": ADMIN[1]})
        found = await pages.get("/manage/leaders", params={"q": ref})
    assert found.status_code == 200 and f'href="/manage/leaders/{leader["id"]}"' in found.text


async def test_never_pair_them_with_someone_who_registered_later_still_rules_the_pair_out(registry, kafka_settings):
    """A profile names the people it must never be paired with by their event references; someone named
    before they registered had none then, so the round's request names the pair again."""
    base = {leader["role"]: leader for leader in sample_leaders()}
    professional = unique({**base["clinical_leader"], "do_not_pair_with": []})
    lived = unique({**base["patient_leader"], "do_not_pair_with": [professional["id"]]})
    for leader in (lived, professional):  # the one who names the other registers first
        answer = await registry.post("/leaders", json=leader)
        assert answer.status_code in (200, 201), answer.text
    round_id = f"r-{uuid.uuid4().hex[:6]}"
    launched = await registry.post("/rounds", json={"id": round_id, "leader_ids": [lived["id"], professional["id"]]})
    assert launched.status_code in (200, 201, 202), launched.text
    refs = await event_refs_of(registry.store)
    records = await read_topic(
        kafka_settings.bootstrap_servers,
        ROUNDS,
        keep=lambda r: r.key == round_id.encode() and b'"RoundRequested"' in r.value,
        expected=1,
        timeout_s=20,
    )
    (request,) = [RoundRequested.model_validate_json(r.value) for r in records]
    assert (refs[lived["id"]], refs[professional["id"]]) in request.data.forbidden_pairs
