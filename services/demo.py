"""`make demo`: start the product, pair the built-in sample cohort, show the result."""

from __future__ import annotations

import shutil
from email.parser import BytesHeaderParser
from pathlib import Path

from rich.console import Console
from rich.table import Table

from services.launcher import Stack
from services.registry.client import RegistryClient
from services.registry.sample import SAMPLE_ROUND, sample_leaders

console = Console()


# Text messages and phone calls wait out quiet hours (20:00 to 09:00), so a demo run in the
# evening would show no text message. Equal times mean no quiet hours; `make run` keeps them.
NO_QUIET_HOURS = {"NOTIFIER_QUIET_HOURS_START": "00:00", "NOTIFIER_QUIET_HOURS_END": "00:00"}


def demo(port: int, data_dir: Path) -> None:
    # A fresh folder each time, so the messages shown are this run's only.
    shutil.rmtree(data_dir, ignore_errors=True)
    console.print(
        "Quiet hours are off for this demo, so you can see every text message now. "
        "`make run` keeps them: no texts or calls between 20:00 and 09:00."
    )
    with Stack(data_dir=data_dir, http_port=port, extra_env=NO_QUIET_HOURS, report=lambda line: console.print(line)) as stack:
        client = RegistryClient(stack.base_url, auth=stack.api_token)
        leaders = sample_leaders()
        console.print(f"\nRegistering {len(leaders)} sample leaders ...")
        names = {}
        for leader in leaders:
            client.register_leader(leader)
            names[leader["id"]] = leader["name"]
        console.print("Launching a pairing round ...")
        for warning in client.launch_round(SAMPLE_ROUND).get("warnings", []):
            console.print(f"[yellow]{warning}[/yellow]")
        view = client.wait_for_round(SAMPLE_ROUND["id"], {"proposed", "failed"})
        if view["status"] == "failed":
            console.print(f"[red]The round could not be solved: {view['failure']}[/red]")
            return
        show(view, names)
        console.print("\nA person must approve every pair before anyone is told. Approving as 'Demo manager' ...")
        client.approve(SAMPLE_ROUND["id"], "Demo manager")
        client.publish(SAMPLE_ROUND["id"])
        console.print("Published. Waiting for every person to be told ...")
        view = client.wait_for_deliveries(SAMPLE_ROUND["id"], len(leaders), seconds=60)
        summary = ", ".join(f"{count} {status.replace('_', ' ')}" for status, count in sorted(view["deliveries"].items()))
        console.print(f"Messages: {summary}.")
        console.print("\nWhere the messages are (one file each):")
        for folder, what in (
            (stack.mail_dir / "new", "emails (open with any text editor or mail program)"),
            (stack.data_dir / "letters", "letters to print and post (PDF)"),
            (stack.data_dir / "sms", "text messages"),
            (stack.data_dir / "for_a_person", "tasks for a person to deliver the message another way"),
        ):
            count = len(list(folder.glob("*"))) if folder.exists() else 0
            console.print(f"  {count:3d} {what}: {folder}")
        for person in view["needs_a_person"]:
            console.print(f"A person must contact {names[person['leader_id']]} ({person['leader_id']}). Why: {person['why']}.")
        show_formats(stack, leaders)


FORMATS = {
    "standard": "standard print",
    "easy_read": "easy read",
    "large_print_20": "large print (20 point)",
    "large_print_24": "large print (24 point)",
    "large_print_28": "large print (28 point)",
    "braille": "braille",
    "audio": "audio",
    "email": "email",
}
METHODS = {
    "email": "by email",
    "letter": "by letter",
    "sms": "by text message",
    "telephone": "by phone",
    "text_relay": "by text relay",
    "via_carer": "through someone they named",
}


def message_files(stack: Stack) -> dict[str, Path]:
    """Each person's message file, by leader id (their event reference is in every file's key)."""
    ids = stack.leader_ids_by_event_ref()
    files = {}
    for path in (stack.mail_dir / "new").glob("*"):
        with path.open("rb") as handle:
            key = "".join((BytesHeaderParser().parse(handle)["X-Pairing-Key"] or "").split())  # may be folded
        if key.count(":") >= 2:
            files[ids.get(key.split(":")[1], "")] = path
    for folder in ("letters", "sms", "for_a_person"):
        for path in (stack.data_dir / folder).glob("*"):
            parts = path.stem.split("_")  # event id, event reference, channel
            if len(parts) >= 3:
                files[ids.get(parts[1], "")] = path
    return files


def show_formats(stack: Stack, leaders: list[dict]) -> None:
    """One example of every format in the sample, so each can be opened and read."""
    files = message_files(stack)
    table = Table(title="Messages in the format each person asked for", show_lines=True)
    table.add_column("Leader")
    table.add_column("Asked for")
    table.add_column("Their message (open it to read it)", overflow="fold")
    shown: set[tuple[str, str]] = set()
    for leader in leaders:
        way = (leader.get("contact_method", "email"), leader.get("information_format", "standard"))
        if way in shown or leader["id"] not in files:
            continue
        shown.add(way)
        method = METHODS.get(way[0], way[0].replace("_", " "))
        table.add_row(f"{leader['name']}\n{leader['id']}", f"{FORMATS.get(way[1], way[1])}, {method}", str(files[leader["id"]]))
    console.print(table)


def show(view: dict, names: dict[str, str]) -> None:
    stats = view["stats"] or {}
    pairs = Table(title=f"Proposed pairs ({len(view['pairs'])}), solve status: {stats.get('status', '?')}", show_lines=True)
    pairs.add_column("Patient or carer leader")
    pairs.add_column("Professional")
    pairs.add_column("Fit", justify="right")
    pairs.add_column("Why")
    for pair in view["pairs"]:
        pairs.add_row(
            f"{names.get(pair['lived_experience_id'], '')}\n{pair['lived_experience_id']}",
            f"{names.get(pair['professional_id'], '')}\n{pair['professional_id']}",
            f"{pair['score']:.0f}",
            "\n".join(pair["reasons"]),
        )
    console.print(pairs)
    unmatched = Table(title=f"Not paired this time ({len(view['unmatched'])})", show_lines=True)
    unmatched.add_column("Leader")
    unmatched.add_column("Reason")
    for person in view["unmatched"]:
        unmatched.add_row(f"{names.get(person['id'], '')}\n{person['id']}", person["reason"])
    console.print(unmatched)
