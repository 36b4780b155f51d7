"""Erasing someone in the middle of a round, on the whole running product (real broker, PostgreSQL
and SQLite, the three services as processes): their messages are waiting for the end of quiet
hours when they are erased. Afterwards their name, email, phone number and postal address are
found nowhere: not in any database (tables as text, and SQLite files as raw bytes), not on any
topic (dead letters included; their contact records are sealed with their own key, which the
erasure destroys, so nothing the services still hold opens them), not in the output folders, logs
or trace files. Their registry id is found on no topic (events name people by a random event
reference, and the tombstones are keyed by it), in no database table (the audit log keeps what was
done about them, the erasure included, under a keyed digest of their id) and no file the services
wrote, logs and traces included. Their event reference is left only as the key of tombstones, linked
to no one: the registry forgot it."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import inspect, text

from schemas.events import LeaderContactChanged, SealedContact
from schemas.topics import ALL_TOPICS, LEADER_CONTACTS, LEADER_KEYS
from services.common.crypto import Cipher, EncryptionKeyError
from services.common.embedded import free_port
from services.common.sealing import open_contact
from services.common.store import make_engine
from services.launcher import Stack, secrets_for
from services.registry.client import RegistryClient
from services.registry.sample import SAMPLE_ROUND, sample_leaders
from tests.kafka_reading import read_topic
from tests.stack_refs import event_ref_of

pytestmark = pytest.mark.e2e

LONDON = ZoneInfo("Europe/London")
# Where the id of an erased person may stay: nowhere (the audit log names them by a keyed digest).
ID_ALLOWED: set[tuple[str, str]] = set()
# Where their event reference may stay: the keys of the tombstones in the registry's outbox (that is
# how the other services hear of it). Nothing left there links it to them.
REF_ALLOWED = {("registry", "outbox")}


def quiet_now() -> dict[str, str]:
    """Quiet hours around the present moment, so every text message waits for the morning."""
    now = dt.datetime.now(LONDON)
    start, end = now - dt.timedelta(hours=1), now + dt.timedelta(hours=3)
    return {"NOTIFIER_QUIET_HOURS_START": start.strftime("%H:%M"), "NOTIFIER_QUIET_HOURS_END": end.strftime("%H:%M")}


@pytest.fixture(params=["postgresql", "sqlite"])
def stack(request, new_broker, postgres_database, smtp_server, tmp_path):
    port, _ = smtp_server
    urls = {s: postgres_database(s) for s in ("registry", "matcher", "notifier")} if request.param == "postgresql" else {}
    stack = Stack(
        data_dir=tmp_path / "stack",
        http_port=free_port(),
        database_urls=urls,
        kafka_bootstrap=new_broker(),
        smtp_port=port,
        start_smtp_sink=False,
        extra_env={"KAFKA_SESSION_TIMEOUT_MS": "2000", "KAFKA_HEARTBEAT_INTERVAL_MS": "500", **quiet_now()},
        report=lambda _: None,
    )
    with stack:
        yield stack


def texters(tag: str) -> list[dict]:
    """Six people who all get text messages, each with details found nowhere else."""
    people = []
    for i, leader in enumerate(sample_leaders()[:6]):
        people.append(
            {
                **leader,
                "id": f"{leader['id']}-x{tag}",
                "name": f"Ottoline Brackenridge {tag}{i}",
                "email": f"ottoline-{tag}{i}@example.org",
                "phone": f"07700 90{i}{tag[:3]}",
                "postal_address": f"{i + 40} Wintergreen Close {tag}, Hexham NE46 1AA",
                "contact_method": "sms",
                "information_format": "standard",
                "proxy": None,
            }
        )
    return people


async def tables(stack: Stack, service: str) -> dict[str, str]:
    """Every row of every table of the service's database, as text."""
    url = stack.database_urls.get(service) or f"sqlite:///{(stack.data_dir / f'{service}.db').resolve()}"
    engine = make_engine(url)
    dump = {}
    async with engine.connect() as conn:
        for table in await conn.run_sync(lambda sync: inspect(sync).get_table_names()):
            dump[table] = repr((await conn.execute(text(f'select * from "{table}"'))).all())
    await engine.dispose()
    return dump


def files_holding(folder: Path, wanted: list[str]) -> dict[str, list[str]]:
    """Every file under the folder (databases, logs, traces, letters, texts, tasks) as raw bytes."""
    found = {}
    for path in folder.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            hits = [w for w in wanted if w.encode() in content]
            if hits:
                found[str(path.relative_to(folder))] = hits
    return found


async def on_topics(stack: Stack, wanted: list[str]) -> dict[str, int]:
    """Records on any topic (every partition, dead letters included) holding any of `wanted` in the
    raw bytes of their key, value or headers."""
    found = {}
    for topic in ALL_TOPICS:
        for record in await read_topic(stack.kafka_bootstrap, topic, timeout_s=30):
            raw = (record.value or b"") + (record.key or b"") + b"".join(k.encode() + (v or b"") for k, v in record.headers)
            if any(w.encode() in raw for w in wanted):
                found[topic.name] = found.get(topic.name, 0) + 1
    return found


async def keys_held(stack: Stack, secrets: dict[str, str]) -> list[bytes]:
    """Every person's data key the registry and the notifier still hold, each opened with that service's own key."""
    held = []
    for service in ("registry", "notifier"):
        cipher = Cipher(secrets[f"{service}_encryption_keys"])
        url = stack.database_urls.get(service) or f"sqlite:///{(stack.data_dir / f'{service}.db').resolve()}"
        engine = make_engine(url)
        async with engine.connect() as conn:
            held += [cipher.open_bytes(sealed) for (sealed,) in await conn.execute(text("select sealed_key from person_keys"))]
        await engine.dispose()
    return held


def test_someone_erased_while_their_messages_wait_is_found_nowhere(stack: Stack) -> None:
    client = RegistryClient(stack.base_url, auth=stack.api_token)
    tag = uuid.uuid4().hex[:6]
    people = texters(tag)
    for person in people:
        client.register_leader(person)
    round_id = f"erase-all-{tag}"
    client.launch_round({**SAMPLE_ROUND, "id": round_id, "leader_ids": [p["id"] for p in people]})
    client.wait_for_round(round_id, {"proposed"}, seconds=90)
    client.approve(round_id, "Test manager")
    client.publish(round_id)
    waiting = client.wait_for_deliveries(round_id, len(people), seconds=90)
    assert waiting["deliveries"] == {"scheduled": len(people)}, "every text waits for the end of quiet hours"

    gone = people[0]
    ref = asyncio.run(event_ref_of(stack, gone["id"]))
    assert asyncio.run(on_topics(stack, [ref])), "their messages went out under their event reference"
    assert asyncio.run(on_topics(stack, [p["id"] for p in people])) == {}, "and no one's id was ever on a topic"
    assert client.http.delete(f"/leaders/{gone['id']}", headers={"x-actor": "Test officer"}).status_code == 200
    personal = [gone["name"], gone["email"], gone["phone"], gone["postal_address"]]

    deadline = time.monotonic() + 45
    while True:  # the tombstones take a moment to reach the matcher and the notifier
        dumps = {s: asyncio.run(tables(stack, s)) for s in ("registry", "matcher", "notifier")}
        in_tables = {
            (service, table): [w for w in [*personal, gone["id"], ref] if w in content]
            for service, found in dumps.items()
            for table, content in found.items()
        }
        in_tables = {where: hits for where, hits in in_tables.items() if hits}
        allowed = {where: {gone["id"]} for where in ID_ALLOWED} | {where: {ref} for where in REF_ALLOWED}
        leaks = {where: hits for where, hits in in_tables.items() if set(hits) - allowed.get(where, set())}
        if not leaks or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert leaks == {}, "no table holds their details, nor their id, nor their event reference"

    in_files = files_holding(stack.data_dir, personal)
    assert in_files == {}, "no database file, log, trace file, letter, text or task holds their details"
    # Nor does their id stay in any file the services wrote: letters, texts, tasks, logs and traces.
    output = [stack.data_dir / name for name in ("letters", "sms", "for_a_person", "logs")]
    assert {str(p): h for folder in output if folder.exists() for p, h in files_holding(folder, [gone["id"]]).items()} == {}

    found = asyncio.run(on_topics(stack, [*personal, gone["id"]]))
    assert found == {}, f"their details or their registry id on {found}"

    # The contact topic is compacted: the broker drops their older records behind the tombstone when it
    # compacts (the embedded broker never does). Until then they stay there, sealed with their own key.
    def mine(record) -> bool:
        return record.key == ref.encode()

    contacts = asyncio.run(read_topic(stack.kafka_bootstrap, LEADER_CONTACTS, mine))
    assert contacts and contacts[-1].value is None, "the contact topic ends with a tombstone for them"
    keys = asyncio.run(read_topic(stack.kafka_bootstrap, LEADER_KEYS, mine))
    assert keys and keys[-1].value is None, "the key topic ends with a tombstone for them"
    sealed = [LeaderContactChanged.model_validate_json(r.value).data for r in contacts if r.value is not None]
    assert sealed and all(isinstance(record, SealedContact) for record in sealed)
    secrets = secrets_for(stack.data_dir)
    at_rest = [secrets[f"{service}_encryption_keys"].encode() for service in ("registry", "notifier", "matcher")]
    held = [*asyncio.run(keys_held(stack, secrets)), *at_rest, secrets["event_keys"].encode()]
    for record in sealed:
        for key in held:
            with pytest.raises(EncryptionKeyError):
                open_contact(record, key)

    # The round carries on for everyone else, and its page still reads.
    view = client.http.get(f"/rounds/{round_id}").json()
    assert view["status"] == "published"
    assert all(gone["id"] not in (p["lived_experience_id"], p["professional_id"]) for p in view["pairs"])

    # The audit log still shows what was done about them, found by their id (the registry holds the key
    # of the digest that stands for it), and shows it without naming them.
    audit = client.http.get("/audit", params={"leader_id": gone["id"]}).json()["items"]
    assert audit[0]["action"] == "erased" and audit[0]["actor"], "who erased them, and when, stays"
    assert audit[0]["leader_id"].startswith("(erased ") and gone["id"] not in repr(audit)
