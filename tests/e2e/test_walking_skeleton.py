"""The whole path, as people use it: the three services as separate processes,
the real broker, a real SMTP server and the registry on PostgreSQL or SQLite."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

import pytest

from services.common.embedded import free_port, read_maildir
from services.launcher import Stack
from services.registry.client import RegistryClient, RegistryError
from services.registry.sample import SAMPLE_ROUND, sample_leaders

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def mail(tmp_path_factory) -> tuple[int, Path]:
    """A real SMTP server on loopback that keeps every message in a maildir, for the module."""
    from services.common.smtp_sink import start_sink

    port, maildir = free_port(), tmp_path_factory.mktemp("mail")
    controller = start_sink(maildir, port)
    yield port, maildir
    controller.stop()


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def stack(request, new_broker, postgres_database, mail, tmp_path_factory):
    smtp_port, _ = mail
    if request.param == "postgresql":
        urls = {service: postgres_database(service) for service in ("registry", "matcher", "notifier")}
    else:
        urls = {}  # the launcher's default: one SQLite file per service
    stack = Stack(
        data_dir=tmp_path_factory.mktemp(f"stack-{request.param}"),
        http_port=free_port(),
        database_urls=urls,
        kafka_bootstrap=new_broker(),
        smtp_port=smtp_port,
        start_smtp_sink=False,
        extra_env={"KAFKA_SESSION_TIMEOUT_MS": "2000", "KAFKA_HEARTBEAT_INTERVAL_MS": "500"},
        report=lambda _: None,
    )
    with stack:
        yield stack


def tag() -> str:
    return uuid.uuid4().hex[:6]


def test_every_participant_hears_back_exactly_once_and_pairs_are_readable(stack: Stack, mail) -> None:
    _, maildir = mail
    client = RegistryClient(stack.base_url, auth=stack.api_token)
    # Unique ids per test: the broker and the mail folder are shared.
    suffix = tag()
    reachable_by_email = [
        leader
        for leader in sample_leaders()
        if leader.get("contact_method", "email") == "email" and leader.get("information_format") not in ("braille", "audio")
    ]
    leaders = [
        {**leader, "id": f"{leader['id']}-{suffix}", "email": f"{leader['id']}-{suffix}@example.org"}
        for leader in reachable_by_email[:20]
    ]
    assert len(leaders) == 20
    for leader in leaders:
        assert client.register_leader(leader)["version"] == 1

    round_id = f"e2e-{suffix}"
    launched = client.launch_round({**SAMPLE_ROUND, "id": round_id, "leader_ids": [leader["id"] for leader in leaders]})
    assert launched == {"id": round_id, "status": "queued", "leader_count": len(leaders), "warnings": []}

    proposed = client.wait_for_round(round_id, {"proposed", "failed"}, seconds=90)
    assert proposed["status"] == "proposed", proposed.get("failure")
    paired_ids = [p["lived_experience_id"] for p in proposed["pairs"]] + [p["professional_id"] for p in proposed["pairs"]]
    unmatched_ids = [u["id"] for u in proposed["unmatched"]]
    assert proposed["pairs"], "the sample must give at least one pair"
    assert all(p["reasons"] for p in proposed["pairs"])
    assert all(u["reason"] for u in proposed["unmatched"])
    # Everyone is accounted for: paired (professionals may take two) or unmatched with a reason.
    assert set(paired_ids) | set(unmatched_ids) == {leader["id"] for leader in leaders}

    # Nobody is told before a person approves.
    with pytest.raises(RegistryError, match="cannot be published"):
        client.publish(round_id)
    client.approve(round_id, "Test manager")
    assert client.publish(round_id)["status"] == "published"

    view = client.wait_for_deliveries(round_id, len(leaders), seconds=90)
    assert view["deliveries"] == {"sent": len(leaders)}

    ours = {leader["email"] for leader in leaders}
    recipients = Counter(message["To"] for message in read_maildir(maildir) if message["To"] in ours)
    assert recipients == Counter(leader["email"] for leader in leaders), "each person gets exactly one message"

    by_email = {m["To"]: m for m in read_maildir(maildir)}
    # A pair whose patient or carer leader reads standard print: the wording checked below is the standard one
    # (which pair comes first depends on the solve, and some people read easy read).
    standard = {leader["id"] for leader in leaders if leader.get("information_format", "standard") == "standard"}
    first_pair = next(p for p in proposed["pairs"] if p["lived_experience_id"] in standard)
    message = by_email[f"{first_pair['lived_experience_id']}@example.org"]
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "we have found you a partner" in text.lower()
    accept, decline = answer_links(message)
    assert len(accept) <= 45 and len(decline) <= 45 and accept != decline, "short links that fit a text message"
    if unmatched_ids:
        message = by_email[f"{unmatched_ids[0]}@example.org"]
        text = message.get_body(preferencelist=("plain",)).get_content()
        reason = next(u["reason"] for u in proposed["unmatched"] if u["id"] == unmatched_ids[0])
        assert reason.split(":")[0] in text


def answer_links(message) -> tuple[str, str]:
    """The yes and no links: each on its own line, after the words "Yes, ..." or "No, ..."."""
    lines = [line.strip() for line in message.get_body(preferencelist=("plain",)).get_content().splitlines()]
    links = {lines[i - 1].split(",")[0]: line for i, line in enumerate(lines) if "/a/" in line and line.startswith("http")}
    return links["Yes"], links["No"]


def test_leaders_answer_once_from_the_links_in_their_message(stack: Stack, mail) -> None:
    import httpx

    _, maildir = mail
    client = RegistryClient(stack.base_url, auth=stack.api_token)
    suffix = tag()
    people = [
        {**leader, "id": f"{leader['id']}-a{suffix}", "email": f"{leader['id']}-a{suffix}@example.org"}
        for leader in sample_leaders()[:6]
    ]
    for person in people:
        client.register_leader(person)
    round_id = f"answers-{suffix}"
    client.launch_round({**SAMPLE_ROUND, "id": round_id, "leader_ids": [p["id"] for p in people]})
    proposed = client.wait_for_round(round_id, {"proposed"}, seconds=90)
    assert len(proposed["pairs"]) >= 2
    client.approve(round_id, "Test manager")
    client.publish(round_id)
    client.wait_for_deliveries(round_id, len(people), seconds=90)
    by_email = {m["To"]: m for m in read_maildir(maildir)}

    first, second = proposed["pairs"][:2]
    accept, _ = answer_links(by_email[f"{first['lived_experience_id']}@example.org"])
    _, decline = answer_links(by_email[f"{second['professional_id']}@example.org"])

    # Opening a link changes nothing: only sending the form records an answer.
    page = httpx.get(accept)
    assert page.status_code == 200 and "Do you want to work with" in page.text
    assert client.read_round(round_id)["responses"] == []

    path = accept
    assert "you said yes" in httpx.post(path, data={"answer": "accept"}).text
    again = httpx.post(path, data={"answer": "decline"})
    assert again.status_code == 409 and "already been recorded" in again.text
    assert "you said no" in httpx.post(decline, data={"answer": "decline", "reason": "I am in hospital"}).text

    answers = client.read_round(round_id)["responses"]
    assert {(a["leader_id"], a["answer"]) for a in answers} == {
        (first["lived_experience_id"], "accept"),
        (second["professional_id"], "decline"),
    }
    broken = httpx.post(path[:-5] + "xxxxx", data={"answer": "accept"})
    assert broken.status_code == 400 and "not complete" in broken.text


def test_people_whose_partner_said_no_are_paired_again_and_only_they_hear(stack: Stack, mail) -> None:
    import httpx

    _, maildir = mail
    client = RegistryClient(stack.base_url, auth=stack.api_token)
    suffix = tag()
    people = [
        {**leader, "id": f"{leader['id']}-n{suffix}", "email": f"{leader['id']}-n{suffix}@example.org"}
        for leader in sample_leaders()[:10]
    ]
    for person in people:
        client.register_leader(person)
    round_id = f"again-{suffix}"
    client.launch_round({**SAMPLE_ROUND, "id": round_id, "leader_ids": [p["id"] for p in people]})
    first = client.wait_for_round(round_id, {"proposed"}, seconds=90)
    assert len(first["pairs"]) >= 2
    early = client.http.post(f"/rounds/{round_id}/pair-again")
    assert early.status_code == 409 and "only after the round is published" in early.json()["detail"]
    client.approve(round_id, "Test manager")
    client.publish(round_id)
    client.wait_for_deliveries(round_id, len(people), seconds=90)
    nobody_said_no = client.http.post(f"/rounds/{round_id}/pair-again")
    assert nobody_said_no.status_code == 409 and "Nobody in this round has said no" in nobody_said_no.json()["detail"]

    said_no = first["pairs"][0]
    message = next(m for m in read_maildir(maildir) if m["To"] == f"{said_no['professional_id']}@example.org")
    _, decline = answer_links(message)
    assert "you said no" in httpx.post(decline, data={"answer": "decline"}).text

    before = len(read_maildir(maildir))
    started = client.http.post(f"/rounds/{round_id}/pair-again")
    assert started.status_code == 202, started.text
    follow_up = started.json()
    assert follow_up["parent_round_id"] == round_id
    second = client.wait_for_round(follow_up["id"], {"proposed"}, seconds=90)
    declined = (said_no["lived_experience_id"], said_no["professional_id"])
    kept = {(p["lived_experience_id"], p["professional_id"]) for p in first["pairs"][1:]}
    pairs = {(p["lived_experience_id"], p["professional_id"]): p for p in second["pairs"]}
    assert declined not in pairs, "a pair someone said no to is never proposed again"
    assert kept <= set(pairs) and all(pairs[k]["locked"] for k in kept), "every other pair is kept"
    assert client.read_round(round_id)["follow_up_rounds"] == [follow_up["id"]]

    client.approve(follow_up["id"], "Test manager")
    client.publish(follow_up["id"])
    in_kept_pairs = {who for pair in kept for who in pair}
    told = set(follow_up["leader_ids"]) - in_kept_pairs
    assert set(declined) <= told
    # Someone in a kept pair hears again only when they also have a new partner (a professional with places left).
    with_new_partner = {who for pair in set(pairs) - kept for who in pair}
    client.wait_for_deliveries(follow_up["id"], len(told | with_new_partner), seconds=90)
    written_to = {m["To"].split("@")[0] for m in read_maildir(maildir)[before:]}
    assert written_to == told | with_new_partner, "people whose pairs were kept are not written to again"


def test_a_round_that_cannot_be_solved_as_set_up_says_what_to_change(stack: Stack) -> None:
    client = RegistryClient(stack.base_url, auth=stack.api_token)
    suffix = tag()
    people = [{**leader, "id": f"{leader['id']}-m{suffix}"} for leader in sample_leaders()[:8]]
    for person in people:
        client.register_leader(person)
    area = people[0]["system"]
    round_id = f"minimums-{suffix}"
    client.launch_round(
        {**SAMPLE_ROUND, "id": round_id, "leader_ids": [p["id"] for p in people], "min_pairs_per_system": {area: 50}}
    )
    view = client.wait_for_round(round_id, {"proposed"}, seconds=90)
    assert view["stats"]["status"] == "infeasible" and view["pairs"] == []
    assert view["relaxations"] and view["relaxations"][0].startswith(f"Lower the minimum for area {area} from 50 to ")
    refused = client.http.post(f"/rounds/{round_id}/approve", json={"approved_by": "Test manager"})
    assert refused.status_code == 409 and "cannot be solved as it is set up" in refused.json()["detail"]


def test_a_manager_reviews_locks_rules_out_re_solves_and_cancels(stack: Stack) -> None:
    client = RegistryClient(stack.base_url, auth=stack.api_token)
    suffix = tag()
    people = [{**leader, "id": f"{leader['id']}-r{suffix}"} for leader in sample_leaders()[:8]]
    for person in people:
        client.register_leader(person)
    http = client.http
    assert http.post("/programmes", json={"id": f"prog-{suffix}", "name": "North East 2027"}).status_code == 201
    cohort = http.post(
        f"/programmes/prog-{suffix}/cohorts",
        json={"id": f"cohort-{suffix}", "name": "January", "leader_ids": [p["id"] for p in people]},
    ).json()
    assert len(cohort["leader_ids"]) == 8

    round_id = f"review-{suffix}"
    client.launch_round({**SAMPLE_ROUND, "id": round_id, "cohort_id": cohort["id"]})
    first = client.wait_for_round(round_id, {"proposed"}, seconds=90)
    assert first["leader_count"] == 8
    ruled_out = first["pairs"][0]
    choice = {"lived_experience_id": ruled_out["lived_experience_id"], "professional_id": ruled_out["professional_id"]}
    assert http.post(f"/rounds/{round_id}/forbid", json=choice).status_code == 200
    # A lived-experience leader cannot stand on the professional side.
    wrong = http.post(f"/rounds/{round_id}/lock", json={**choice, "professional_id": choice["lived_experience_id"]})
    assert wrong.status_code == 409 and "is not a clinical leader or managerial leader" in wrong.json()["detail"]

    assert http.post(f"/rounds/{round_id}/resolve").json()["status"] == "queued"
    second = client.wait_for_round(round_id, {"proposed"}, seconds=90)
    pairs = {(p["lived_experience_id"], p["professional_id"]) for p in second["pairs"]}
    assert (choice["lived_experience_id"], choice["professional_id"]) not in pairs
    assert second["forbidden_pairs"] == [[choice["lived_experience_id"], choice["professional_id"]]]

    assert http.post(f"/rounds/{round_id}/cancel").json()["status"] == "cancelled"
    refused = http.post(f"/rounds/{round_id}/approve", json={"approved_by": "Test manager"})
    assert refused.status_code == 409 and "cancelled" in refused.json()["detail"]


def test_every_service_answers_health_and_metrics(stack: Stack) -> None:
    import httpx

    client = RegistryClient(stack.base_url, auth=stack.api_token)
    suffix = tag()
    people = [{**leader, "id": f"{leader['id']}-m{suffix}"} for leader in sample_leaders()[:4]]
    for person in people:
        client.register_leader(person)
    client.launch_round({**SAMPLE_ROUND, "id": f"metrics-{suffix}", "leader_ids": [p["id"] for p in people]})
    client.wait_for_round(f"metrics-{suffix}", {"proposed"}, seconds=90)

    assert httpx.get(f"{stack.base_url}/health").status_code == 200
    assert httpx.get(f"{stack.base_url}/live").status_code == 200
    registry_metrics = httpx.get(f"{stack.base_url}/metrics/").text
    assert 'pairing_events_published_total{service="registry",topic="rounds.v1"}' in registry_metrics
    for service, port in stack.ops_ports.items():
        assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200, service
        assert httpx.get(f"http://127.0.0.1:{port}/live").status_code == 200, service
    matcher_metrics = httpx.get(f"http://127.0.0.1:{stack.ops_ports['matcher']}/metrics").text
    solved = [line for line in matcher_metrics.splitlines() if line.startswith("pairing_solve_seconds_count")]
    assert solved and float(solved[0].split()[-1]) >= 1
    assert "pairing_consumer_lag" in matcher_metrics and "pairing_outbox_backlog" in matcher_metrics

    # Logs are JSON lines; those about the round carry its id as the correlation id.
    import json

    entries = [json.loads(line) for line in (stack.log_dir / "matcher.log").read_text().splitlines() if line.startswith("{")]
    solving = [e for e in entries if e["message"].startswith(f"solving round metrics-{suffix}")]
    assert solving and solving[0]["correlation_id"] == f"metrics-{suffix}" and solving[0]["service"] == "matcher"

    # One trace follows the round through all three services.
    import time

    from services.common.tracing import spans_of

    client.approve(f"metrics-{suffix}", "Test manager")
    client.publish(f"metrics-{suffix}")
    client.wait_for_deliveries(f"metrics-{suffix}", len(people), seconds=90)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        services = {span["service"] for span in spans_of(f"metrics-{suffix}", stack.log_dir)}
        if services >= {"pairing-registry", "pairing-matcher", "pairing-notifier"}:
            break
        time.sleep(0.5)
    assert services >= {"pairing-registry", "pairing-matcher", "pairing-notifier"}


def test_the_queue_monitor_shows_a_service_that_has_stopped_and_its_return(stack: Stack) -> None:
    import time

    client = RegistryClient(stack.base_url, auth=stack.api_token)

    def states(until=lambda found: True, seconds: float = 60) -> dict:
        deadline = time.monotonic() + seconds
        while True:
            found = {s["name"]: s for s in client.http.get("/operations/services").json()["items"]}
            if until(found) or time.monotonic() > deadline:
                return found
            time.sleep(0.5)

    def all_working(found: dict) -> bool:
        return all(s["ready"] for s in found.values())

    before = states(all_working)
    assert set(before) == {"registry", "matcher", "notifier"} and all_working(before), before
    assert all(s["state"] == "Working" for s in before.values())
    stack.stop_service("notifier")
    try:
        stopped = states()
        assert not stopped["notifier"]["answering"] and stopped["notifier"]["state"].startswith("Not answering")
        assert stopped["matcher"]["ready"] and stopped["registry"]["ready"]
    finally:
        stack.restart_service("notifier")
    assert all_working(states(all_working)), "the notifier is back at work"


def test_erasure_removes_a_person_from_every_service_and_leaves_tombstones(stack: Stack, mail) -> None:
    import asyncio
    import time

    from sqlalchemy import inspect, text

    from schemas.topics import LEADER_CONTACTS, LEADER_PROFILES
    from services.common.store import make_engine
    from tests.kafka_reading import read_topic
    from tests.stack_refs import event_ref_of

    client = RegistryClient(stack.base_url, auth=stack.api_token)
    suffix = tag()
    people = [
        {**leader, "id": f"{leader['id']}-e{suffix}", "email": f"{leader['id']}-e{suffix}@example.org", "phone": "07700 900123"}
        for leader in sample_leaders()[:6]
    ]
    for person in people:
        client.register_leader(person)
    round_id = f"erase-{suffix}"
    client.launch_round({**SAMPLE_ROUND, "id": round_id, "leader_ids": [p["id"] for p in people]})
    client.wait_for_round(round_id, {"proposed"}, seconds=90)
    client.approve(round_id, "Test manager")
    client.publish(round_id)
    client.wait_for_deliveries(round_id, len(people), seconds=90)

    gone = people[0]
    ref = asyncio.run(event_ref_of(stack, gone["id"]))  # the matcher and the notifier know them only by it
    assert client.http.delete(f"/leaders/{gone['id']}", headers={"x-actor": "Test officer"}).status_code == 200
    personal = [gone["name"], gone["email"]]

    async def stored(service: str) -> dict[str, str]:
        """Every row of every table of the service's database, as text, by table."""
        url = stack.database_urls.get(service) or f"sqlite:///{(stack.data_dir / f'{service}.db').resolve()}"
        engine = make_engine(url)
        dump = {}
        async with engine.connect() as conn:
            for table in await conn.run_sync(lambda sync: inspect(sync).get_table_names()):
                dump[table] = repr((await conn.execute(text(f'select * from "{table}"'))).all())
        await engine.dispose()
        return dump

    async def values_for_key(topic) -> list:
        records = await read_topic(stack.kafka_bootstrap, topic, lambda r: r.key == ref.encode(), timeout_s=60)
        return [r.value for r in records]

    deadline = time.monotonic() + 30
    while True:  # the tombstones take a moment to reach the matcher and the notifier
        dumps = {service: asyncio.run(stored(service)) for service in ("registry", "matcher", "notifier")}
        found = {s: sorted({p for p in personal for t in tables.values() if p in t}) for s, tables in dumps.items()}
        in_projection = ref in dumps["matcher"]["profiles"] or ref in dumps["notifier"]["contacts"]
        if (not any(found.values()) and not in_projection) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert found == {"registry": [], "matcher": [], "notifier": []}
    assert not in_projection, "the matcher's and notifier's copies are gone"
    for log in stack.log_dir.glob("*.log"):
        content = log.read_text(errors="replace")
        assert not [p for p in personal if p in content], f"personal data in {log.name}"
    for topic in (LEADER_PROFILES, LEADER_CONTACTS):
        values = asyncio.run(values_for_key(topic))
        assert values and values[-1] is None, f"{topic.name} ends with a tombstone"


def test_the_terminal_launches_a_round_and_shows_the_queue(stack: Stack, tmp_path) -> None:
    import json
    import os
    import subprocess
    import sys

    client = RegistryClient(stack.base_url, auth=stack.api_token)
    suffix = tag()
    people = [{**leader, "id": f"{leader['id']}-t{suffix}"} for leader in sample_leaders()[:6]]
    for person in people:
        client.register_leader(person)
    spec = tmp_path / "round.json"
    spec.write_text(json.dumps({**SAMPLE_ROUND, "id": f"terminal-{suffix}", "leader_ids": [p["id"] for p in people]}))
    env = {**os.environ, "PAIRING_TOKEN": stack.api_token, "COLUMNS": "160"}

    def pairing(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "services.cli", *args, "--url", stack.base_url],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    launched = pairing("round", "launch", str(spec))
    assert launched.returncode == 0, launched.stderr
    assert "Proposed:" in launched.stdout and f"/manage/rounds/terminal-{suffix}" in launched.stdout
    shown = pairing("queue", "--once")
    assert shown.returncode == 0, shown.stderr
    assert "The match queue" in shown.stdout and f"terminal-{suffix}" in shown.stdout
    assert "Services" in shown.stdout and "notifier" in shown.stdout
    refused = subprocess.run(
        [sys.executable, "-m", "services.cli", "queue", "--once", "--url", stack.base_url, "--data", str(tmp_path)],
        env={**os.environ, "PAIRING_EMAIL": stack.admin[0], "PAIRING_PASSWORD": "wrong password!"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "401" in refused.stderr and "Traceback" not in refused.stderr
