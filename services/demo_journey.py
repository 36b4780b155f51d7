"""`make demo-journey`: a programme through simulated months, on the real components (issue 18).

It starts what `make demo` starts (the broker, the three services and a local email server), with the
registry's and the notifier's clocks moved on by a file only this demo names (services/common/demo_clock.py;
`make run` never does). Then it runs STEPS in order: a round is published; two people who have not answered
are reminded; everyone paired is asked "Did you meet?" (one answers "we need help", which becomes a task for
the team) and then gets a check-in; a pair ends and both people are told kindly; the next round pairs them
first; the first round is closed with a message telling everyone what difference the pairs made. It prints
a plain-English timeline and leaves every message in a folder, one folder for each step.

Each step is a `Step` in STEPS, placed where it happens in the programme's months.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy as email_policy
from email.parser import BytesHeaderParser, BytesParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from rich.console import Console

from services.common.demo_clock import move_to
from services.demo import NO_QUIET_HOURS
from services.demo_refs import EventRefs
from services.launcher import Stack
from services.notifier.domain.check_ins import CHECK_IN, MET_QUESTION, NEED_HELP, check_in_day, met_question_on, question_key
from services.registry.client import RegistryClient

LONDON = ZoneInfo("Europe/London")
console = Console()

# What happened because of the pairs' work, as the programme's manager writes it when the first round closes.
FEEDBACK = (
    "Because of your work, the hospital now books interpreters before the first visit. "
    "Carers now get a named contact on every ward.\n"
    "Two of your ideas are now part of how new staff are trained."
)


def _leader(number: str, name: str, role: str, windows: list[tuple[str, str, str]], **more: Any) -> dict[str, Any]:
    """One made-up person: everyone meets by video, so only their free times decide who fits whom."""
    first, last = name.lower().split(" ", 1)
    professional = role in ("clinical_leader", "managerial_leader")
    leader: dict[str, Any] = {
        "id": f"{'cl' if professional else 'pl'}-j{number}",
        "name": name,
        "role": role,
        "email": f"{first}.{last.replace(' ', '')}@example.org",
        "system": "QHM",
        "location": {"lat": 54.97, "lon": -1.61},
        "meeting_modes": ["video"],
        "topics": ["discharge", "mental health"],
        "experience": "some",
        "min_notice_days": 7,
        "availability": [{"day": d, "start": s, "end": e} for d, s, e in windows],
    }
    if professional:
        leader |= {"organisation": "Newcastle Hospitals", "capacity": 1, "release_confirmed": True}
    return leader | more


# Each pair of the first round shares a time nobody else has, so the pairs are the same every run. Joy is
# free when no professional is, so she is not paired. Elaine and Femi are also free at times that fit
# Kofi and Ian in the next round, where Lena competes with Elaine for Kofi.
CAST: list[dict[str, Any]] = [
    _leader("01", "Amira Ahmed", "patient_leader", [("mon", "10:00", "12:00")]),
    _leader("01", "Ben Bell", "clinical_leader", [("mon", "10:00", "12:00")]),
    _leader("02", "Chloe Carter", "patient_leader", [("tue", "10:00", "12:00")], information_format="easy_read"),
    _leader("02", "Dev Davies", "clinical_leader", [("tue", "10:00", "12:00")]),
    _leader("03", "Elaine Evans", "carer_leader", [("wed", "10:00", "12:00"), ("fri", "10:00", "12:00")]),
    _leader(
        "03",
        "Femi Farah",
        "managerial_leader",
        [("mon", "14:00", "16:00"), ("wed", "10:00", "12:00")],
        information_format="large_print_24",
    ),
    _leader("04", "Grace Green", "patient_leader", [("thu", "10:00", "12:00")], contact_method="sms", phone="07700 900404"),
    _leader(
        "04",
        "Harpreet Hughes",
        "clinical_leader",
        [("thu", "10:00", "12:00")],
        contact_method="letter",
        postal_address="4 Example Street, Newcastle upon Tyne, NE1 4AA",
    ),
    _leader("05", "Joy Jones", "patient_leader", [("fri", "16:00", "17:00")]),
]
NEWCOMERS: list[dict[str, Any]] = [
    _leader("06", "Ian Iqbal", "patient_leader", [("mon", "14:00", "16:00"), ("fri", "10:00", "12:00")]),
    _leader("05", "Kofi Khan", "clinical_leader", [("fri", "10:00", "12:00")]),
    _leader("07", "Lena Lewis", "patient_leader", [("fri", "10:00", "12:00")], information_format="easy_read"),
]
FIRST_ROUND, NEXT_ROUND = "journey-round-1", "journey-round-2"
NOT_ANSWERING = ("cl-j01", "pl-j02")  # Ben (standard email) and Chloe (easy read): reminded
ENDED_PAIR = ("pl-j03", "cl-j03")  # Elaine and Femi
NEEDS_HELP = "pl-j01"  # Amira (standard email) answers "Did you meet?" with "we need help"

FORMAT_WORDS = {"standard": "standard", "easy_read": "easy-read", "large_print_24": "large-print"}


def format_of(leader: dict[str, Any]) -> str:
    """How a person's message is filed: their format and channel, like "easy-read.email"."""
    channel = {"sms": "text-message", "letter": "letter"}.get(leader.get("contact_method", "email"), "email")
    return f"{FORMAT_WORDS.get(leader.get('information_format', 'standard'), 'standard')}.{channel}"


@dataclass
class Journey:
    """What the steps share: the running product, the simulated date, the timeline and the messages so far."""

    stack: Stack
    client: RegistryClient
    folder: Path  # every message, one folder for each step
    clock_file: Path
    started: dt.date
    people: dict[str, dict[str, Any]] = field(default_factory=dict)
    timeline: list[tuple[dt.date, str]] = field(default_factory=list)
    filed: set[Path] = field(default_factory=set)
    answers: int = 0  # answers and endings published on responses.v1 so far
    step_number: int = 0
    day: int = 0
    published_on: dict[str, dt.date] = field(default_factory=dict)  # each round's, as the notifier heard of it
    refs: EventRefs = field(init=False)  # whose each message is, read once for each person

    def __post_init__(self) -> None:
        self.refs = EventRefs(self.stack)

    @property
    def today(self) -> dt.date:
        return self.started + dt.timedelta(days=self.day)

    def move_on(self, day: int) -> None:
        """Both services' clocks to the morning of the journey's day `day`, 10:30 in London, once the notifier
        has heard every answer so far: a reminder falling due as an answer arrives would cross it in the post."""
        self.wait_for_answers()
        self.day = day
        move_to(self.clock_file, dt.datetime.combine(self.today, dt.time(10, 30), tzinfo=LONDON))

    def say(self, what: str) -> None:
        self.timeline.append((self.today, what))
        console.print(f"[bold]{self.today:%a %d %b %Y}[/bold]  {what}")

    def name(self, leader_id: str) -> str:
        return self.people[leader_id]["name"]

    def answer_yes(self, round_id: str, leader_id: str, partner_id: str) -> None:
        answer = {"leader_id": leader_id, "partner_id": partner_id, "answer": "accept", "via": "phone"}
        self.client.record_answer(round_id, answer | {"received_on": dt.date.today().isoformat()})
        self.answers += 1

    def wait_for_answers(self, seconds: float = 60) -> None:
        """Until the notifier has handled as many events from responses.v1 as the journey has caused."""
        url = f"http://127.0.0.1:{self.stack.ops_ports['notifier']}/metrics"
        deadline = time.monotonic() + seconds
        while (heard := handled_answers(httpx.get(url, timeout=5).text)) < self.answers:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the notifier handled {heard:.0f} of {self.answers} answers in {seconds:.0f} seconds")
            time.sleep(0.2)

    def new_messages(self, only: set[str] | None = None) -> list[tuple[str, Path]]:
        """Messages written since the last look, each with the id of the person it is for; with `only`, just
        the messages caused by those events (by event id)."""
        found: list[tuple[str, Path]] = []  # event reference, message
        for path in sorted((self.stack.mail_dir / "new").glob("*")):
            if path not in self.filed:
                with path.open("rb") as handle:
                    key = BytesHeaderParser().parse(handle)["X-Pairing-Key"] or ""  # event id:reference:channel
                parts = "".join(key.split()).split(":")  # a long header is folded onto a line of its own
                if len(parts) >= 3 and (only is None or parts[0] in only):
                    found.append((parts[1], path))
        for folder in ("letters", "sms", "for_a_person"):
            for path in sorted((self.stack.data_dir / folder).glob("*")):
                parts = path.stem.split("_")  # event id, event reference, channel
                if path not in self.filed and len(parts) >= 3 and (only is None or parts[0] in only):
                    found.append((parts[1], path))
        ids = self.refs.ids_of(ref for ref, _ in found)  # messages name people by their event reference
        return [(ids.get(ref, ""), path) for ref, path in found]

    def file_messages(self, slug: str, expected: int, seconds: float = 60, only: set[str] | None = None) -> list[Path]:
        """Wait for `expected` new messages, then copy them into this step's folder, named by person and format;
        with `only`, just the messages those events caused (the rest wait for their own step)."""
        deadline = time.monotonic() + seconds
        while len(self.new_messages(only)) < expected and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)  # anything else this step sends
        self.step_number += 1
        into = self.folder / f"{self.step_number:02d}-{slug}"
        into.mkdir(parents=True, exist_ok=True)
        copied = []
        for leader_id, path in self.new_messages(only):
            self.filed.add(path)
            person = self.people.get(leader_id)
            who = slug_of(person["name"]) if person else "for-a-person"
            kind = "task" if path.parent.name == "for_a_person" else format_of(person) if person else "message"
            suffix = path.suffix if path.suffix in (".pdf", ".txt", ".md", ".json") else ".eml"
            target = into / f"{who}.{kind}{suffix}"
            number = 2
            while target.exists():
                target = into / f"{who}.{kind}.{number}{suffix}"
                number += 1
            shutil.copy2(path, target)
            copied.append(target)
        if len(copied) < expected:
            raise RuntimeError(f"only {len(copied)} of the {expected} messages expected came for the step '{slug}'")
        return copied


def handled_answers(metrics: str) -> float:
    """How many events from responses.v1 the notifier has finished handling, from its Prometheus metrics."""
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith("pairing_received_processed_messages_total{") and "responses.v1" in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


@dataclass(frozen=True)
class Step:
    slug: str  # names the step's folder of messages
    run: Callable[[Journey], None]


def register_and_pair(journey: Journey, round_id: str, people: list[dict[str, Any]], leader_ids: list[str]) -> dict:
    client = journey.client
    for leader in people:
        client.register_leader(leader)
        journey.people[leader["id"]] = leader
    client.launch_round({"id": round_id, "leader_ids": leader_ids, "min_shared_hours_per_week": 1.0, "time_limit_seconds": 10})
    view = client.wait_for_round(round_id, {"proposed", "failed"}, seconds=120)
    if view["status"] == "failed":
        raise RuntimeError(f"the round {round_id} could not be solved: {view['failure']}")
    client.approve(round_id, "Journey manager")
    client.publish(round_id)
    journey.published_on[round_id] = journey.today  # the day the notifier hears of it, which its questions count from
    return view


def publish(journey: Journey) -> None:
    journey.move_on(0)
    view = register_and_pair(journey, FIRST_ROUND, CAST, [leader["id"] for leader in CAST])
    pairs = ", ".join(
        f"{journey.name(p['lived_experience_id'])} with {journey.name(p['professional_id'])}" for p in view["pairs"]
    )
    left = ", ".join(journey.name(person["id"]) for person in view["unmatched"])
    journey.say(f"The programme publishes its first round: {pairs}. Not paired this time: {left}.")
    journey.file_messages("published", expected=len(CAST))
    journey.move_on(2)
    for pair in view["pairs"]:
        for me, partner in (
            (pair["lived_experience_id"], pair["professional_id"]),
            (pair["professional_id"], pair["lived_experience_id"]),
        ):
            if me not in NOT_ANSWERING:
                journey.answer_yes(FIRST_ROUND, me, partner)
    others = " and ".join(journey.name(who) for who in NOT_ANSWERING)
    journey.say(f"Everyone paired says yes by phone, except {others}, who have not answered yet.")


def reminder(journey: Journey) -> None:
    """Day by day until the reminders are due (3 working days before the answer date), then they answer."""
    for day in range(7, 25):
        journey.move_on(day)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and len(journey.new_messages()) < len(NOT_ANSWERING):
            time.sleep(0.2)
        if len(journey.new_messages()) >= len(NOT_ANSWERING):
            break
    others = " and ".join(journey.name(who) for who in NOT_ANSWERING)
    journey.say(f"Three working days before the answer date, {others} each get one reminder, in their own format.")
    journey.file_messages("reminder", expected=len(NOT_ANSWERING))
    view = journey.client.read_round(FIRST_ROUND)
    for pair in view["pairs"]:
        for me, partner in (
            (pair["lived_experience_id"], pair["professional_id"]),
            (pair["professional_id"], pair["lived_experience_id"]),
        ):
            if me in NOT_ANSWERING:
                journey.answer_yes(FIRST_ROUND, me, partner)
    journey.say(f"After their reminder, {others} say yes. Nobody is ever turned down for not answering.")


def questions(journey: Journey, kind: str, number: int, round_id: str = FIRST_ROUND) -> set[str]:
    """The event ids of one question to everyone paired in a round (the notifier's own keys:
    services/notifier/domain/check_ins.py), so its messages can be told from the others that week."""
    return {str(question_key(round_id, me, partner, kind, number)) for me, partner, _ in paired_in(journey, round_id)}


def paired_in(journey: Journey, round_id: str) -> list[tuple[str, str, dict]]:
    """Each person paired in the round, by event reference, with their partner's and the pair's details."""
    pairs = journey.client.read_round(round_id)["pairs"]
    refs = journey.refs.refs_of(who for pair in pairs for who in (pair["lived_experience_id"], pair["professional_id"]))
    one, other = "lived_experience_id", "professional_id"
    return [(refs[p[a]], refs[p[b]], p) for p in pairs for a, b in ((one, other), (other, one))]


def asked_by_now(journey: Journey, round_id: str) -> set[str]:
    """The event ids of the round's questions whose day has come: "Did you meet?" and each check-in due."""
    published_on, asked = journey.published_on[round_id], set()
    for me, partner, pair in paired_in(journey, round_id):
        meeting = (pair.get("first_meeting") or {}).get("date")
        met_on = met_question_on(dt.date.fromisoformat(meeting) if meeting else None, published_on)
        due = [(MET_QUESTION, 0)] if met_on <= journey.today else []
        due += [(CHECK_IN, n) for n in range(1, 100) if check_in_day(published_on, 30, 60, n) <= journey.today]
        asked |= {str(question_key(round_id, me, partner, kind, number)) for kind, number in due}
    return asked


def until_messages(journey: Journey, asked: set[str], last_day: int) -> None:
    """Day by day until every one of these questions has come (or the day `last_day`)."""
    for day in range(journey.day + 1, last_day + 1):
        journey.move_on(day)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and len(journey.new_messages(asked)) < len(asked):
            time.sleep(0.2)
        if len(journey.new_messages(asked)) >= len(asked):
            return


def did_you_meet(journey: Journey) -> None:
    """The working day after each pair's suggested first meeting, both people are asked whether they met.
    One says "we need help" from the link in their message: the programme team gets a task at once."""
    asked = questions(journey, MET_QUESTION, 0)
    until_messages(journey, asked, last_day=60)
    journey.say(
        "By the working day after each pair's suggested first meeting, everyone paired has been asked one question: "
        "did you meet? (yes, not yet, or we need help), in their own format."
    )
    messages = journey.file_messages("did-you-meet", expected=len(asked), only=asked)
    helped = NEEDS_HELP
    code = answer_code([path for path in messages if path.name.startswith(slug_of(journey.name(helped)))])
    url = f"{journey.stack.base_url}/a/{code}/met"
    answered = httpx.post(url, data={"answer": "need_help"}, timeout=30, follow_redirects=True)  # on to the thank-you page
    answered.raise_for_status()
    journey.answers += 1  # FollowUpAnswered goes on responses.v1
    journey.say(
        f"{journey.name(helped)} answers from the link: we need help. The programme team gets a task to contact them "
        "at once; their partner is not told."
    )
    journey.file_messages("did-you-meet-help", expected=1, only=questions(journey, NEED_HELP, 0))


def check_in(journey: Journey) -> None:
    """30 days after publishing (the programme's default), everyone paired is asked how it is going."""
    asked = questions(journey, CHECK_IN, 1)
    until_messages(journey, asked, last_day=60)
    journey.say("A month after publishing, everyone paired gets a check-in: how is it going?")
    journey.file_messages("check-in", expected=len(asked), only=asked)


def slug_of(name: str) -> str:
    return re.sub(r"[^a-z]+", "-", name.lower())


def answer_code(messages: list[Path]) -> str:
    """The code in the "Did you meet?" link of a person's email."""
    for path in messages:
        found = re.search(r"/a/([A-Za-z0-9]+)/met", email_text(path))
        if found:
            return found.group(1)
    raise RuntimeError("no link to answer 'Did you meet?' in their message")


def email_text(path: Path) -> str:
    with path.open("rb") as handle:
        message = BytesParser(policy=email_policy.default).parse(handle)
    body = message.get_body(("plain",))  # an EmailMessage under the default policy
    return body.get_content() if body is not None else ""


def pair_ended(journey: Journey) -> None:
    journey.move_on(journey.day + 21)
    carer, manager = ENDED_PAIR
    ending = {"leader_id": carer, "partner_id": manager, "reason": "circumstances_changed", "asked_by": "programme_team"}
    journey.client.end_pair(FIRST_ROUND, ending)
    journey.answers += 1  # PairEnded goes on responses.v1 too
    journey.say(
        f"The pair of {journey.name(carer)} and {journey.name(manager)} is not working out, and the programme team "
        "ends it. Both are told kindly that it is not their fault, and that they will be offered a new partner."
    )
    journey.file_messages("pair-ended", expected=2)


def next_round(journey: Journey) -> None:
    journey.move_on(journey.day + 7)
    people = [*ENDED_PAIR, *(leader["id"] for leader in NEWCOMERS)]
    view = register_and_pair(journey, NEXT_ROUND, NEWCOMERS, people)
    pairs = ", ".join(
        f"{journey.name(p['lived_experience_id'])} with {journey.name(p['professional_id'])}" for p in view["pairs"]
    )
    left = ", ".join(journey.name(person["id"]) for person in view["unmatched"])
    first = " and ".join(journey.name(who) for who in ENDED_PAIR)
    why = sorted({r for p in view["pairs"] for r in p["reasons"] if r.startswith("We paired you first")})
    journey.say(
        f"The next round pairs {first} first, as their pair ended: {pairs}. Not paired this time: {left} "
        f"(first in the round after). The matcher's reason: {' '.join(why) or 'none given'}"
    )
    journey.file_messages("paired-again-first", expected=len(people))
    for pair in view["pairs"]:
        for me, partner in (
            (pair["lived_experience_id"], pair["professional_id"]),
            (pair["professional_id"], pair["lived_experience_id"]),
        ):
            journey.answer_yes(NEXT_ROUND, me, partner)
    journey.say("Everyone in the new pairs says yes.")


def closing_feedback(journey: Journey) -> None:
    # The next round's own questions and check-ins come in the weeks between: kept in a folder of their own.
    journey.move_on(89)
    asked = asked_by_now(journey, NEXT_ROUND)  # all of them, before the round closes: none mixed with its messages
    journey.file_messages("meanwhile", expected=len(asked), only=asked)
    journey.say(
        "Meanwhile the next round's pairs are asked, each on its day, whether they met; their first check-in comes "
        "a month after that round was published."
    )
    journey.client.close(FIRST_ROUND, FEEDBACK)
    journey.say(
        f"Three months on, the manager closes the first round and tells all {len(CAST)} people in it, paired or not, "
        "what difference the pairs made, each in their own format."
    )
    journey.file_messages("closing-feedback", expected=len(CAST))


# In the order they happen.
STEPS: list[Step] = [
    Step("published", publish),
    Step("reminder", reminder),
    Step("did-you-meet", did_you_meet),
    Step("check-in", check_in),
    Step("pair-ended", pair_ended),
    Step("paired-again-first", next_round),
    Step("closing-feedback", closing_feedback),
]


def run_journey(data_dir: Path, port: int, kafka_bootstrap: str | None = None, steps: list[Step] | None = None) -> Journey:
    """Start everything in `data_dir`, run the steps, stop everything; the messages stay in data_dir/messages."""
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    clock_file = (data_dir / "clock-ahead-seconds").resolve()
    clock_file.write_text("0\n")
    env = {
        **NO_QUIET_HOURS,
        "REGISTRY_DEMO_CLOCK_FILE": str(clock_file),
        "NOTIFIER_DEMO_CLOCK_FILE": str(clock_file),
        "NOTIFIER_SCHEDULER_POLL_SECONDS": "0.5",
    }
    report = lambda line: console.print(line)  # noqa: E731
    with Stack(data_dir=data_dir, http_port=port, kafka_bootstrap=kafka_bootstrap, extra_env=env, report=report) as stack:
        client = RegistryClient(stack.base_url, auth=stack.api_token, timeout=30)
        journey = Journey(stack, client, data_dir / "messages", clock_file, dt.datetime.now(LONDON).date())
        console.print("\n[bold]The programme's months, simulated[/bold]")
        for step in steps or STEPS:
            step.run(journey)
    write_timeline(journey)
    return journey


def write_timeline(journey: Journey) -> None:
    lines = [f"{day:%A %d %B %Y}: {what}" for day, what in journey.timeline]
    (journey.folder / "timeline.txt").write_text("\n".join(lines) + "\n")


def demo_journey(port: int, data_dir: Path) -> None:
    console.print(
        "This runs a programme through simulated months on the real services. The services' clocks are moved "
        "on by this demo only; `make run` keeps real time. Quiet hours are off, so text messages come at once."
    )
    journey = run_journey(data_dir, port)
    console.print(f"\nEvery message, one folder for each step, each file named by person and format: {journey.folder}")
    for step_folder in sorted(p for p in journey.folder.iterdir() if p.is_dir()):
        console.print(f"  {step_folder.name}: {len(list(step_folder.iterdir()))} messages")
    console.print(f"The timeline is also in {journey.folder / 'timeline.txt'}")
