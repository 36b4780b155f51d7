"""The operator's and manager's terminal: `pairing queue` and `pairing round launch`.

Both talk to the registry's API like any other program. They sign in with an
API token (PAIRING_TOKEN), with PAIRING_EMAIL and PAIRING_PASSWORD (a viewer's:
managers and admins need a token), or, on the machine running `make run`, with
the first admin's token that `make run` made (var/secrets.json).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from rich.console import Console, Group, JustifyMethod
from rich.live import Live
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from services.registry.client import RegistryClient, RegistryError
from services.registry.domain.rounds import progress_words

console = Console()
WAITING = ("queued", "solving")
FINISHED = ("proposed", "failed", "cancelled")


def sign_in(url: str, data_dir: Path) -> RegistryClient:
    if token := os.environ.get("PAIRING_TOKEN"):
        return RegistryClient(url, auth=token)
    email, password = os.environ.get("PAIRING_EMAIL"), os.environ.get("PAIRING_PASSWORD")
    secrets = data_dir / "secrets.json"
    if not (email and password) and secrets.exists() and (made := json.loads(secrets.read_text()).get("admin_api_token")):
        return RegistryClient(url, auth=made)
    if not (email and password):
        raise RegistryError(
            "Set PAIRING_TOKEN (an API token an admin made), or PAIRING_EMAIL and PAIRING_PASSWORD, to sign in to the registry."
        )
    return RegistryClient(url, auth=(email, password))


def queue_tables(client: RegistryClient) -> Group:
    rounds = client.http.get("/rounds", params={"limit": 30})
    if rounds.status_code != 200:
        raise RegistryError(f"The registry answered {rounds.status_code}: {rounds.text[:200]}")
    items = rounds.json()["items"]
    counts = Table(title="The match queue")
    for column in ("waiting to be solved", "waiting for review", "approved", "published", "failed"):
        counts.add_column(column, justify="right")
    by_status = {s: sum(1 for r in items if r["status"] == s) for s in {r["status"] for r in items}}
    counts.add_row(
        str(sum(by_status.get(s, 0) for s in WAITING)),
        str(by_status.get("proposed", 0)),
        str(by_status.get("approved", 0)),
        str(by_status.get("published", 0)),
        str(by_status.get("failed", 0)),
    )
    latest = Table(title="Latest rounds")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("round", "left"),
        ("status", "left"),
        ("people", "right"),
        ("pairs", "right"),
        ("told", "right"),
    )
    for column, justify in columns:
        latest.add_column(column, justify=justify)
    for r in items[:15]:
        told = f"{r['people_told']} of {r['leader_count']}" if r["status"] in ("published", "closed") else "-"
        latest.add_row(r["id"], r["status"], str(r["leader_count"]), str(r["pairs"]), told)
    services = Table(title="Services")
    columns = (("service", "left"), ("state", "left"), ("messages waiting", "right"), ("still to send", "right"))
    for column, justify in columns:
        services.add_column(column, justify=justify)
    answer = client.http.get("/operations/services")
    for s in answer.json()["items"] if answer.status_code == 200 else []:
        working = s["answering"] and s["ready"]
        services.add_row(
            s["name"],
            s["state"],
            # A topic whose lag the broker did not tell is null: then the total is not known either.
            str(sum(s["waiting"].values())) if working and None not in s["waiting"].values() else "not known",
            "not known" if s["unsent"] is None else str(s["unsent"]),
        )
    return Group(counts, latest, services)


def queue(url: str, data_dir: Path, once: bool) -> None:
    client = sign_in(url, data_dir)
    if once:
        console.print(queue_tables(client))
        return
    with Live(queue_tables(client), console=console, refresh_per_second=1) as live:
        try:
            while True:
                time.sleep(2)
                live.update(queue_tables(client))
        except KeyboardInterrupt:
            pass


def launch(url: str, data_dir: Path, spec_file: Path) -> None:
    """Launch a round from a JSON file (the same fields as POST /rounds) and follow it until it is proposed."""
    client = sign_in(url, data_dir)
    try:
        spec = json.loads(spec_file.read_text())
    except (OSError, ValueError) as exc:
        raise RegistryError(f"{spec_file} cannot be read as JSON: {exc}") from exc
    launched = client.launch_round(spec)
    round_id = launched["id"]
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task(f"Round {round_id} with {launched['leader_count']} people: queued", total=None)
        while (view := client.read_round(round_id))["status"] not in FINISHED:
            # While solving, the matcher's own report: what it is doing, the best so far, how far from the best possible.
            said = progress_words(view.get("progress")) or view["status"]
            progress.update(task, description=f"Round {round_id} with {launched['leader_count']} people: {said}")
            time.sleep(0.5)
    if view["status"] != "proposed":
        console.print(f"The round is {view['status']}. {view.get('failure') or ''}")
        return
    stats = view["stats"] or {}
    console.print(
        f"Proposed: {len(view['pairs'])} pairs, {len(view['unmatched'])} people not paired "
        f"({stats.get('status', '?')}, {stats.get('wall_seconds', 0):.2f} s). "
        f"Review and approve them at {url}/manage/rounds/{round_id}."
    )
