"""One function per command or event. Each runs inside a unit of work that the
caller commits, so database changes and the events they cause land together."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass, field

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import Text, cast, delete, func, or_, select, update

from schemas.cohort import Location, RoundSpec, Window
from schemas.events import (
    Envelope,
    LeaderContactChanged,
    LeaderProfile,
    LeaderProfileChanged,
    NotificationStatusChanged,
    Outcome,
    OutcomePublished,
    RoundCancelled,
    RoundStatusChanged,
    StatusChange,
    PairAccepted,
    PairAnswer,
    PairDeclined,
    MeetingSlot,
    Partner,
    RoundRef,
    RoundPublished,
    RoundRequest,
    RoundRequested,
    RoundSolved,
    RoundProgress,
    RoundSolveFailed,
)
from schemas.topics import LEADER_CONTACTS, LEADER_KEYS, LEADER_PROFILES, OUTCOMES, RESPONSES, ROUNDS
from services.common.crypto import Cipher
from services.common.kafka import PermanentError
from services.common.store import UnitOfWork, utc_now
from services.registry.adapters.orm import (
    AnswerCodeRow,
    AuditRow,
    CohortMemberRow,
    CohortRow,
    ProgrammeRow,
    DeliveryRow,
    LeaderRow,
    PairRow,
    ResponseRow,
    RoundRow,
    UnmatchedRow,
)
from services.registry.domain import answers as answer_codes
from services.registry.person_keys import PersonKeys
from services.registry.domain.commands import ApproveRound, LaunchRound, NewCohort, NewProgramme, PairChoice, ProgrammeChange
from services.registry.domain.importing import RowProblem
from services.registry.domain.leaders import Consent, LeaderIn, consent_given, merged_consents
from services.registry.domain.meetings import (
    MeetingNeeds,
    MeetingRules,
    Nation,
    PairToMeet,
    answer_date,
    nation_of,
    plan_first_meetings,
    session_warnings,
)
from services.registry.domain.programmes import (
    ProgrammeDefaults,
    ProgrammeDetails,
    ProgrammeTerms,
    answers_without_internet,
    offline_contact_problem,
    terms_of,
)
from services.registry.domain.review import default_round_name
from services.registry.domain.rounds import RoundStatus, transition
from services.registry.work_queue import task_from_report

PRODUCER = "registry"
SEALED_FIELDS = (
    "name",
    "pronouns",
    "email",
    "phone",
    "postal_address",
    "contact_method",
    "information_format",
    "communication_professional",
    "communication_support",
    "proxy",  # the carer or other person who gets their messages: their contact details
    "access_needs",
    "challenge",
)


class NotFound(PermanentError):
    """Nothing with that id: answered 404 over HTTP; an event about it is dead-lettered without retrying."""


class Conflict(Exception):
    pass


def event(cls: type[Envelope], data: object, correlation_id: str, causation_id: str | None = None) -> Envelope:
    return cls(producer=PRODUCER, data=data, correlation_id=correlation_id, causation_id=causation_id)


def move_round(uow: UnitOfWork, row: RoundRow, target: RoundStatus, by: str | None = None) -> None:
    """Change a round's status if the lifecycle allows it; every change is itself an event."""
    before = row.status
    row.status = transition(before, target)
    change = StatusChange(round_id=row.id, from_status=before, to_status=target, by=by)
    uow.publish(ROUNDS, row.id, event(RoundStatusChanged, change, row.id))


# ---- leaders ----


async def register_leader(
    uow: UnitOfWork, cipher: Cipher, leader: LeaderIn, known: dict[str, LeaderRow] | None = None, *, keys: PersonKeys
) -> tuple[LeaderRow, str]:
    """Create or update a leader and share the new profile and contact views.

    Returns the row and what happened: created, updated or unchanged. An
    unchanged leader keeps its version and sends no events, so importing the
    same file twice changes nothing. `known` holds rows already loaded, for bulk imports.
    """
    leader = leader.with_id()
    assert leader.id
    if problem := leader.contact_problem():
        raise Conflict(problem)
    row = known.get(leader.id) if known is not None else await uow.session.get(LeaderRow, leader.id)
    data = leader.model_dump(mode="json")
    sealed = {k: data.pop(k) for k in SEALED_FIELDS}
    if row is not None and row.public == data and cipher.open(row.sealed) == sealed:
        return row, "unchanged"
    outcome = "updated" if row is not None else "created"
    was_active = row is not None and row.status == "active"
    if row is None:
        row = LeaderRow(id=leader.id, version=0)
        uow.session.add(row)
        if known is not None:
            known[leader.id] = row
    row.version += 1
    row.role, row.system, row.status = leader.role, leader.system, leader.status
    row.public = data
    row.sealed = cipher.seal(sealed)
    profile = LeaderProfile(version=row.version, status=leader.status, profile=leader.matching_profile())
    uow.publish(LEADER_PROFILES, leader.id, event(LeaderProfileChanged, profile, leader.id))
    # The contact record travels sealed with the leader's own key, so erasing them makes every copy unreadable.
    contact = await keys.sealed_contact(uow, leader.contact(row.version))
    uow.publish(LEADER_CONTACTS, leader.id, event(LeaderContactChanged, contact, leader.id))
    if was_active and leader.status == "withdrawn":
        await decline_open_pairs(uow, leader.id)
    return row, outcome


async def replace_leader(
    uow: UnitOfWork, cipher: Cipher, leader_id: str, leader: LeaderIn, *, keys: PersonKeys
) -> tuple[LeaderRow, str]:
    """Replace an existing leader's record: the same events as any other change to a leader."""
    if await uow.session.get(LeaderRow, leader_id) is None:
        raise NotFound(f"there is no leader called {leader_id}; to add a new leader, send them to POST /leaders")
    return await register_leader(uow, cipher, leader.model_copy(update={"id": leader_id}), keys=keys)


async def decline_open_pairs(uow: UnitOfWork, leader_id: str) -> None:
    """Someone who leaves the programme has in effect said no to every pair still open,
    so each partner is told at once, and can be paired again (Always Event 4)."""
    pairs = (
        await uow.session.scalars(
            select(PairRow)
            .join(RoundRow, RoundRow.id == PairRow.round_id)
            .where(RoundRow.status == RoundStatus.published)
            .where((PairRow.lived_experience_id == leader_id) | (PairRow.professional_id == leader_id))
        )
    ).all()
    for pair in pairs:
        partner = pair.professional_id if pair.lived_experience_id == leader_id else pair.lived_experience_id
        answered = await uow.session.scalar(
            select(ResponseRow).where(
                ResponseRow.round_id == pair.round_id,
                ResponseRow.leader_id == leader_id,
                ResponseRow.partner_id == partner,
                ResponseRow.answer == "decline",
            )
        )
        if answered is not None:
            continue  # they said no already, and their partner was told then
        uow.session.add(ResponseRow(nonce=f"left-{uuid.uuid4().hex}", round_id=pair.round_id, leader_id=leader_id, partner_id=partner, answer="decline"))
        data = PairAnswer(round_id=pair.round_id, leader_id=leader_id, partner_id=partner)
        uow.publish(RESPONSES, pair.round_id, event(PairDeclined, data, pair.round_id))


async def import_leaders(
    uow: UnitOfWork, cipher: Cipher, leaders: list[tuple[int, LeaderIn]], *, keys: PersonKeys
) -> tuple[dict[str, int], list[RowProblem]]:
    """Store every valid row; a row whose details conflict is reported, the others still land."""
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    problems: list[RowProblem] = []
    # One query for the rows that exist and one flush at the end, instead of a round trip per row.
    ids = [leader.id for _, leader in leaders if leader.id]
    known: dict[str, LeaderRow] = {}
    for chunk in range(0, len(ids), 1000):
        rows = await uow.session.scalars(select(LeaderRow).where(LeaderRow.id.in_(ids[chunk : chunk + 1000])))
        known.update({row.id: row for row in rows})
    await keys.load(uow, ids)
    with uow.session.no_autoflush:
        for number, leader in leaders:
            if (row := known.get(leader.id or "")) is not None:
                stored = [Consent.model_validate(c) for c in row.public.get("consents") or []]
                leader = leader.model_copy(update={"consents": merged_consents(stored, list(leader.consents))})
            try:
                _, outcome = await register_leader(uow, cipher, leader, known, keys=keys)
            except Conflict as exc:
                problems.append(RowProblem(number, "contact_method", str(exc)))
                continue
            counts[outcome] += 1
    await uow.session.flush()
    return counts, problems


def audit(uow: UnitOfWork, actor: str, action: str, leader_id: str, purpose: str) -> None:
    uow.session.add(AuditRow(actor=actor, action=action, leader_id=leader_id, purpose=purpose))


async def read_leader(uow: UnitOfWork, cipher: Cipher, leader_id: str, actor: str, purpose: str) -> dict:
    """The leader as entered, including special-category data; the read is written to the audit log."""
    row = await uow.session.get(LeaderRow, leader_id)
    if row is None:
        raise NotFound(f"there is no leader called {leader_id}")
    audit(uow, actor, "read", leader_id, purpose)
    return {**row.public, **cipher.open(row.sealed), "id": row.id, "version": row.version}


# Stands for an erased person in a round's history; the id pattern refuses brackets, so no leader has it.
ERASED = "(erased)"


async def erase_leader(uow: UnitOfWork, leader_id: str, actor: str, purpose: str) -> None:
    """Remove a person everywhere: here, and (through tombstones) from the matcher and the notifier."""
    row = await uow.session.get(LeaderRow, leader_id)
    if row is None:
        raise NotFound(f"there is no leader called {leader_id}")
    outbox = uow.store.outbox
    await uow.session.delete(row)
    # Events already sent still sit in the outbox with their contents: remove them too.
    await uow.session.execute(delete(outbox).where(outbox.key == leader_id))
    await uow.session.execute(
        delete(ResponseRow).where(or_(ResponseRow.leader_id == leader_id, ResponseRow.partner_id == leader_id))
    )
    await uow.session.execute(delete(DeliveryRow).where(DeliveryRow.leader_id == leader_id))
    await uow.session.execute(
        delete(AnswerCodeRow).where(or_(AnswerCodeRow.leader_id == leader_id, AnswerCodeRow.partner_id == leader_id))
    )
    await uow.session.execute(delete(UnmatchedRow).where(UnmatchedRow.leader_id == leader_id))
    # Their partners' pairs stay in the round's history, without the erased person's id.
    await uow.session.execute(
        update(PairRow).where(PairRow.lived_experience_id == leader_id).values(lived_experience_id=ERASED)
    )
    await uow.session.execute(update(PairRow).where(PairRow.professional_id == leader_id).values(professional_id=ERASED))
    await uow.session.execute(delete(CohortMemberRow).where(CohortMemberRow.leader_id == leader_id))
    await forget_in_rounds(uow, leader_id)
    # Every other table about a person (the work queue's tasks, and any added later) goes too; the audit stays.
    for table in LeaderRow.metadata.sorted_tables:
        if table.name != AuditRow.__tablename__ and "leader_id" in table.c:
            await uow.session.execute(delete(table).where(table.c.leader_id == leader_id))
    # Their data key went with the tables above; its tombstone tells the notifier to delete its copy,
    # so their contact records left on the topic, in logs or dead letters can no longer be read.
    for topic in (LEADER_PROFILES, LEADER_CONTACTS, LEADER_KEYS):
        uow.tombstone(topic, leader_id, str(uuid.uuid4()))
    # The audit keeps the pseudonymous id only, so the erasure itself can be shown.
    audit(uow, actor, "erased", leader_id, purpose)


async def forget_in_rounds(uow: UnitOfWork, leader_id: str) -> None:
    """Take an erased person out of every round's people and its kept and ruled-out pairs."""
    # The id is removed, not kept as a placeholder: managers choose ids, and one may name the person.
    quoted = f'"{leader_id}"'  # how the id appears in the stored JSON text, on PostgreSQL and SQLite alike
    mentions = [cast(column, Text).contains(quoted, autoescape=True) for column in (RoundRow.leader_ids, RoundRow.locked_pairs, RoundRow.forbidden_pairs)]
    for row in (await uow.session.scalars(select(RoundRow).where(or_(*mentions)))).all():
        kept = [p for p in row.locked_pairs or [] if leader_id not in p]
        ruled_out = [p for p in row.forbidden_pairs or [] if leader_id not in p]
        if leader_id in row.leader_ids or kept != (row.locked_pairs or []) or ruled_out != (row.forbidden_pairs or []):
            row.leader_ids = [i for i in row.leader_ids if i != leader_id]
            row.locked_pairs, row.forbidden_pairs = kept, ruled_out


# ---- rounds ----


async def launch_round(
    uow: UnitOfWork, command: LaunchRound, today: dt.date, defaults: ProgrammeDefaults = ProgrammeDefaults()
) -> RoundRow:
    round_id = command.id or f"round-{today.isoformat()}-{uuid.uuid4().hex[:6]}"
    if await uow.session.get(RoundRow, round_id) is not None:
        raise Conflict(f"a round called {round_id} already exists; choose another id")
    query = select(LeaderRow.id, LeaderRow.version, LeaderRow.status, LeaderRow.system)
    if command.leader_ids is not None:
        query = query.where(LeaderRow.id.in_(command.leader_ids))
    elif command.cohort_id is not None:
        await get_cohort(uow, command.cohort_id)
        members = select(CohortMemberRow.leader_id).where(CohortMemberRow.cohort_id == command.cohort_id)
        query = query.where(LeaderRow.id.in_(members), LeaderRow.status == "active")
    else:
        query = query.where(LeaderRow.status == "active")
    rows = (await uow.session.execute(query)).all()
    found = {lid: (version, status) for lid, version, status, _ in rows}
    if command.leader_ids is not None:
        missing = sorted(set(command.leader_ids) - set(found))
        if missing:
            raise NotFound(f"leader_ids: these leaders are not registered: {', '.join(missing[:20])}")
        inactive = sorted(lid for lid, (_, status) in found.items() if status != "active")
        if inactive:
            raise Conflict(f"leader_ids: these leaders are paused or withdrawn: {', '.join(inactive[:20])}")
    if not found:
        raise Conflict("there are no active leaders to pair; register leaders first")
    for field in ("locked_pairs", "forbidden_pairs"):
        for pair in getattr(command, field):
            unknown = [who for who in pair if who not in found]
            if unknown:
                raise Conflict(f"{field}: {', '.join(unknown)} is not in this round")

    spec = RoundSpec(
        id=round_id,
        launch_date=command.launch_date or today,
        **command.model_dump(
            include={
                "sessions",
                "school_holidays",
                "min_shared_hours_per_week",
                "allow_cross_system_remote",
                "time_limit_seconds",
                "seed",
                "weights",
                "min_pairs_per_system",
            },
            by_alias=True,
        ),
    )
    row = RoundRow(
        id=round_id,
        name=command.name or await round_name(uow, command, spec.launch_date, {system for *_, system in rows}),
        status=RoundStatus.draft,
        spec=spec.model_dump(mode="json", by_alias=True),
        leader_ids=sorted(found),
        cohort_id=command.cohort_id,
        locked_pairs=[list(p) for p in command.locked_pairs],
        forbidden_pairs=[list(p) for p in command.forbidden_pairs],
        warnings=session_warnings(spec.sessions, (await programme_terms(uow, command.cohort_id, defaults)).closures),
    )
    uow.session.add(row)
    move_round(uow, row, RoundStatus.queued)
    await request_solve(uow, row)
    return row


async def round_name(uow: UnitOfWork, command: LaunchRound, launch_date: dt.date, systems: set[str]) -> str:
    """The default name: the programme and cohort, the one area of a list of people, or everyone; and the month."""
    if command.cohort_id is not None:
        cohort = await get_cohort(uow, command.cohort_id)
        programme = await uow.session.get(ProgrammeRow, cohort.programme_id)
        return default_round_name(launch_date, programme.name if programme else None, cohort.name)
    if command.leader_ids is not None:
        return default_round_name(launch_date, area=next(iter(systems)) if len(systems) == 1 else None, chosen=True)
    return default_round_name(launch_date)


async def request_solve(uow: UnitOfWork, row: RoundRow) -> None:
    """Ask the matcher to solve the round as it stands now, with the leaders' current versions."""
    versions = dict(
        (await uow.session.execute(select(LeaderRow.id, LeaderRow.version).where(LeaderRow.id.in_(row.leader_ids)))).all()
    )
    request = RoundRequest(
        round=RoundSpec.model_validate(row.spec),
        leader_versions=dict(sorted(versions.items())),
        locked_pairs=[tuple(p) for p in row.locked_pairs],
        forbidden_pairs=[tuple(p) for p in row.forbidden_pairs],
        previous_pairs=await previous_pairs(uow, set(versions)),
    )
    requested = event(RoundRequested, request, row.id)
    row.request_event_id = str(requested.event_id)
    row.progress = None  # a new solve reports afresh
    uow.publish(ROUNDS, row.id, requested)


async def previous_pairs(uow: UnitOfWork, leaders: set[str]) -> list[tuple[str, str]]:
    """Pairs from earlier published rounds: the same two people are not paired again."""
    rows = await uow.session.execute(
        select(PairRow.lived_experience_id, PairRow.professional_id)
        .join(RoundRow, RoundRow.id == PairRow.round_id)
        .where(RoundRow.status.in_([RoundStatus.published, RoundStatus.closed]))
    )
    return sorted({(a, b) for a, b in rows.all() if a in leaders and b in leaders})


async def get_round(uow: UnitOfWork, round_id: str) -> RoundRow:
    row = await uow.session.get(RoundRow, round_id)
    if row is None:
        raise NotFound(f"there is no round called {round_id}")
    return row


WAITING_FOR_MATCHER = (RoundStatus.queued, RoundStatus.solving)


def is_stale(row: RoundRow, answer: Envelope) -> bool:
    """A result for an earlier request, or for a round no longer waiting for one (cancelled, or
    already proposed, approved or published: a repeated answer must not undo a person's review)."""
    return row.status not in WAITING_FOR_MATCHER or answer.causation_id != row.request_event_id


async def record_solution(uow: UnitOfWork, solved: RoundSolved) -> None:
    result = solved.data
    row = await get_round(uow, result.round_id)
    if is_stale(row, solved):
        return
    move_round(uow, row, RoundStatus.proposed)
    row.stats = result.stats.model_dump(mode="json")
    row.relaxations = list(result.relaxations)
    await uow.session.execute(delete(PairRow).where(PairRow.round_id == row.id))
    await uow.session.execute(delete(UnmatchedRow).where(UnmatchedRow.round_id == row.id))
    # Someone erased while the matcher worked is no longer in the round: their id is not kept, and a
    # pair with them cannot be approved until the round is solved again.
    present = set(row.leader_ids)

    def kept(leader_id: str) -> str:
        return leader_id if leader_id in present else ERASED

    for pair in result.pairs:
        uow.session.add(
            PairRow(
                round_id=row.id,
                lived_experience_id=kept(pair.lived_experience_id),
                professional_id=kept(pair.professional_id),
                score=pair.score,
                meeting_modes=list(pair.meeting_modes),
                shared_windows=[w.model_dump(mode="json") for w in pair.shared_windows],
                reasons=pair.reasons,
                locked=pair.locked,
            )
        )
    for person in (p for p in result.unmatched if p.id in present):
        uow.session.add(UnmatchedRow(round_id=row.id, leader_id=person.id, reason=person.reason, rule=person.rule))


async def record_progress(uow: UnitOfWork, progress: RoundProgress) -> None:
    """The matcher is working on the round: show how far it has got."""
    row = await get_round(uow, progress.data.round_id)
    if is_stale(row, progress):
        return
    if row.status == RoundStatus.queued:
        move_round(uow, row, RoundStatus.solving)
    row.progress = progress.data.model_dump(mode="json")


async def record_failure(uow: UnitOfWork, failed: RoundSolveFailed) -> None:
    row = await get_round(uow, failed.data.round_id)
    if is_stale(row, failed):
        return
    move_round(uow, row, RoundStatus.failed)
    row.failure = failed.data.reason


async def approve_round(uow: UnitOfWork, round_id: str, command: ApproveRound) -> RoundRow:
    """A person checks the proposed pairs before anyone is told (no solely automated decision)."""
    row = await get_round(uow, round_id)
    if row.relaxations and row.status == RoundStatus.proposed:
        raise Conflict(
            "This round cannot be solved as it is set up, so nobody would be paired: "
            + " ".join(row.relaxations)
            + " Cancel it and launch it again with these changes."
        )
    pairs = (await uow.session.scalars(select(PairRow).where(PairRow.round_id == round_id))).all()
    refuse_pairs_with_erased_people(pairs, "Solve the round again first (the pairs you chose to keep stay).")
    move_round(uow, row, RoundStatus.approved, by=command.approved_by)
    row.approved_by = command.approved_by
    return row


@dataclass(frozen=True)
class Publishing:
    """What publishing a round needs besides the database: where links point, how they are
    signed, the keys to the stored needs, and the programme's rules for replies and first meetings."""

    public_url: str
    signer: URLSafeTimedSerializer
    cipher: Cipher
    response_days: int = 14
    meeting_notice_days: int = 14
    meeting_minutes: int = 60
    programme: ProgrammeDefaults = field(default_factory=ProgrammeDefaults)  # for rounds outside any programme

    @property
    def link_days(self) -> int:
        """How long answer links work: the time to answer, and a week's grace for the post."""
        return self.response_days + 7

    def links(self, uow: UnitOfWork, round_id: str, leader_id: str, partner_id: str) -> dict[str, str]:
        """Short links for yes and for no (only a digest of each code is kept), and the reference
        people quote on the phone or a reply slip."""
        reference = unused_reference(uow, round_id)
        expires_at = utc_now() + dt.timedelta(days=self.link_days)
        found = {"reference": reference}
        for answer in ("accept", "decline"):
            code = answer_codes.new_code()
            uow.session.add(AnswerCodeRow(
                code_digest=answer_codes.code_digest(code), round_id=round_id, leader_id=leader_id, partner_id=partner_id,
                answer=answer, reference=reference, expires_at=expires_at,
            ))
            found[f"{answer}_url"] = answer_codes.answer_link(self.public_url, code)
        return found


def unused_reference(uow: UnitOfWork, round_id: str) -> str:
    """A reference no other question in this round has (a round is published in one transaction)."""
    taken = uow.session.info.setdefault(("answer references", round_id), set())
    while (reference := answer_codes.new_reference()) in taken:
        pass
    taken.add(reference)
    return reference


def meeting_needs(row: LeaderRow, access_needs: list[str], nation: Nation = "england_and_wales") -> MeetingNeeds:
    return MeetingNeeds(
        notice_days=int(row.public.get("min_notice_days") or 0),
        cannot_meet_on=frozenset(dt.date.fromisoformat(d) for d in row.public.get("unavailable_dates") or []),
        term_time_only=bool(row.public.get("term_time_only")),
        needs_interpreter="bsl_interpreter" in access_needs,
        nation=nation,
    )


def nation_of_leader(row: LeaderRow, sealed: dict) -> Nation:
    """Whose bank holidays a person has: from their postcode, area code or location."""
    where = row.public.get("location")
    return nation_of(sealed.get("postal_address"), row.system, Location.model_validate(where) if where else None)


async def programme_terms(uow: UnitOfWork, cohort_id: str | None, defaults: ProgrammeDefaults) -> ProgrammeTerms:
    """The programme of the round's cohort, or the registry's own for a round for everyone or an area."""
    cohort = await uow.session.get(CohortRow, cohort_id) if cohort_id else None
    return terms_of(await uow.session.get(ProgrammeRow, cohort.programme_id) if cohort else None, defaults)


async def refuse_without_offline_contact(uow: UnitOfWork, row: RoundRow, terms: ProgrammeTerms, cipher: Cipher) -> None:
    """People who get letters, texts or a message from a member of staff must be told how to answer
    without the internet: the programme needs a phone number and a postal address for them."""
    if terms.contact.phone and terms.contact.postal_address:
        return
    leaders = (await uow.session.scalars(select(LeaderRow).where(LeaderRow.id.in_(row.leader_ids)))).all()
    problem = offline_contact_problem(terms, sum(answers_without_internet(cipher.open(r.sealed)) for r in leaders))
    if problem:
        raise Conflict(problem)


def shares_with_partner(row: LeaderRow) -> bool:
    """The person's latest word on sharing their details with their partner, if they gave one."""
    consents = [Consent.model_validate(c) for c in row.public.get("consents") or []]
    return consent_given(consents, "sharing_details_with_partner")


async def people_whose_partner_said_no(uow: UnitOfWork, round_id: str) -> set[str]:
    """Both people of each pair in the round that someone said no to (leaving counts as no)."""
    said_no = (await uow.session.execute(
        select(ResponseRow.leader_id, ResponseRow.partner_id).where(ResponseRow.round_id == round_id, ResponseRow.answer == "decline")
    )).all()
    return {who for pair in said_no for who in pair}


def refuse_pairs_with_erased_people(pairs, what_to_do: str) -> None:
    """A pair with someone erased since the round was solved would tell their partner about nobody."""
    if any(ERASED in (p.lived_experience_id, p.professional_id) for p in pairs):
        raise Conflict(
            "Someone in a proposed pair has been erased since this round was solved, so their partner would be "
            f"told about nobody. {what_to_do}"
        )


def carried_pairs(row: RoundRow) -> set[frozenset[str]]:
    """A follow-up round's pairs kept from the round before: their people heard about them then."""
    return {frozenset(p) for p in row.locked_pairs} if row.parent_round_id else set()


async def publish_round(uow: UnitOfWork, round_id: str, publishing: Publishing, today: dt.date, actor: str) -> RoundRow:
    """Release the approved outcome: every person in the round gets one outcome event, and each
    pair one suggested first meeting that suits both of them."""
    row = await get_round(uow, round_id)
    move_round(uow, row, RoundStatus.published)
    terms = await programme_terms(uow, row.cohort_id, publishing.programme)
    await refuse_without_offline_contact(uow, row, terms, publishing.cipher)
    published = event(RoundPublished, RoundRef(round_id=round_id), round_id)
    uow.publish(ROUNDS, round_id, published)
    cause = str(published.event_id)

    pairs = (await uow.session.scalars(select(PairRow).where(PairRow.round_id == round_id).order_by(PairRow.id))).all()
    refuse_pairs_with_erased_people(pairs, "Cancel this round and launch a new one for the people in it.")
    people = {p.lived_experience_id for p in pairs} | {p.professional_id for p in pairs}
    leaders = {
        row.id: row for row in (await uow.session.scalars(select(LeaderRow).where(LeaderRow.id.in_(people)))).all()
    }
    access: dict[str, list[str]] = {}
    nations: dict[str, Nation] = {}
    for leader_id, leader in leaders.items():
        # Access needs are special-category data: this read is audited like any other.
        sealed = publishing.cipher.open(leader.sealed)
        access[leader_id] = sealed.get("access_needs") or []
        nations[leader_id] = nation_of_leader(leader, sealed)
        audit(uow, actor, "read access needs", leader_id, f"plan the first meeting and its arrangements for round {round_id}")
    needs = {leader_id: meeting_needs(leader, access[leader_id], nations[leader_id]) for leader_id, leader in leaders.items()}
    respond_by = answer_date(
        today + dt.timedelta(days=publishing.response_days), set(nations.values()) or {"england_and_wales"}, terms.closures
    )
    spec = RoundSpec.model_validate(row.spec)
    slots = plan_first_meetings(
        [PairToMeet(p.lived_experience_id, p.professional_id, [Window.model_validate(w) for w in p.shared_windows]) for p in pairs],
        needs,
        today,
        respond_by,
        MeetingRules(
            publishing.meeting_notice_days, publishing.meeting_minutes, school_holidays=spec.school_holidays, closures=terms.closures
        ),
    )
    about = terms.outcome_fields(spec.sessions)
    partners: dict[str, list[Partner]] = {}
    for pair, slot in zip(pairs, slots):
        pair.first_meeting = {"date": slot[0].isoformat(), "start": slot[1].strftime("%H:%M"), "end": slot[2].strftime("%H:%M")} if slot else None
        for me, partner in ((pair.lived_experience_id, pair.professional_id), (pair.professional_id, pair.lived_experience_id)):
            theirs = access.get(partner, []) if partner in leaders and shares_with_partner(leaders[partner]) else []
            partners.setdefault(me, []).append(
                Partner(
                    partner_id=partner,
                    reasons=pair.reasons,
                    shared_windows=pair.shared_windows,
                    meeting_modes=pair.meeting_modes,
                    first_meeting=MeetingSlot(date=slot[0], start=slot[1], end=slot[2]) if slot else None,
                    access_arrangements=sorted(set(access.get(me, [])) | set(theirs)),
                    **publishing.links(uow, round_id, me, partner),
                )
            )
    # In a follow-up round, pairs carried over from the first round were told already, and the
    # people whose partner said no or left are told this is a new partner.
    carried = carried_pairs(row)
    let_down = await people_whose_partner_said_no(uow, row.parent_round_id) if row.parent_round_id else set()
    for me, mine in partners.items():
        mine = [p for p in mine if frozenset((me, p.partner_id)) not in carried]
        if not mine:
            continue
        outcome = Outcome(
            round_id=round_id, leader_id=me, outcome="paired", partners=mine, respond_by=respond_by, pairing_again=me in let_down,
            **about,
        )
        uow.publish(OUTCOMES, me, event(OutcomePublished, outcome, round_id, cause))
    unmatched = (
        await uow.session.scalars(select(UnmatchedRow).where(UnmatchedRow.round_id == round_id).order_by(UnmatchedRow.id))
    ).all()
    for person in unmatched:
        outcome = Outcome(
            round_id=round_id, leader_id=person.leader_id, outcome="unmatched", unmatched_reason=person.reason, **about
        )
        uow.publish(OUTCOMES, person.leader_id, event(OutcomePublished, outcome, round_id, cause))
    return row


async def load_deliveries(uow: UnitOfWork, leader_ids: list[str]) -> None:
    """The delivery rows of a batch's people, read at once (record_delivery then finds them in the session)."""
    await uow.session.scalars(select(DeliveryRow).where(DeliveryRow.leader_id.in_(leader_ids)))
    await uow.session.scalars(select(LeaderRow).where(LeaderRow.id.in_(leader_ids)))


async def record_delivery(uow: UnitOfWork, changed: NotificationStatusChanged) -> None:
    """The read model of how each person heard their round's outcome."""
    d = changed.data
    if await uow.session.get(LeaderRow, d.leader_id) is None:
        return  # a report that came after the person was erased: nothing about them is kept
    await task_from_report(uow, changed)  # a task for a person joins the managers' work queue
    if d.about != "outcome":
        return  # messages about a partner declining are in the notifier's own delivery log
    row = await uow.session.get(DeliveryRow, (d.round_id, d.leader_id, d.channel))
    if row is None:
        uow.session.add(DeliveryRow(round_id=d.round_id, leader_id=d.leader_id, channel=d.channel, status=d.status, detail=d.detail))
    else:
        row.status, row.detail = d.status, d.detail


async def list_rounds(uow: UnitOfWork, status: str | None, limit: int) -> list[dict]:
    """Rounds, newest first, with how far each has got."""
    query = select(RoundRow).order_by(RoundRow.created_at.desc()).limit(limit)
    if status:
        query = query.where(RoundRow.status == status)
    rows = (await uow.session.scalars(query)).all()
    ids = [r.id for r in rows]
    pairs = dict(
        (await uow.session.execute(
            select(PairRow.round_id, func.count()).where(PairRow.round_id.in_(ids)).group_by(PairRow.round_id)
        )).all()
    )
    told = dict(
        (await uow.session.execute(
            select(DeliveryRow.round_id, func.count()).where(DeliveryRow.round_id.in_(ids)).group_by(DeliveryRow.round_id)
        )).all()
    )
    return [
        {
            "id": r.id,
            "name": r.name or r.id,
            "status": r.status,
            "leader_count": len(r.leader_ids),
            "pairs": pairs.get(r.id, 0),
            "people_told": told.get(r.id, 0),
            "created_at": r.created_at.isoformat() if r.created_at else None,
            "updated_at": r.updated_at.isoformat() if r.updated_at else None,
        }
        for r in rows
    ]


def before_publishing(row: RoundRow, terms: ProgrammeTerms) -> str | None:
    """A reminder, before a round is published, that its programme cannot yet be reached without the internet."""
    missing = [w for w, v in (("a phone number", terms.contact.phone), ("a postal address", terms.contact.postal_address)) if not v]
    if not missing or row.status not in (RoundStatus.proposed, RoundStatus.approved):
        return None
    return (
        f"The programme's contact details have no {' and no '.join(m.removeprefix('a ') for m in missing)}. "
        "If anyone in this round gets a letter, a text message or a message a member of staff gives them, "
        f"the round cannot be published until you add {' and '.join(missing)} {terms.where_to_add}."
    )


async def round_view(uow: UnitOfWork, round_id: str, defaults: ProgrammeDefaults = ProgrammeDefaults()) -> dict:
    row = await get_round(uow, round_id)
    terms = await programme_terms(uow, row.cohort_id, defaults)
    pairs = (await uow.session.scalars(select(PairRow).where(PairRow.round_id == round_id).order_by(PairRow.id))).all()
    unmatched = (
        await uow.session.scalars(select(UnmatchedRow).where(UnmatchedRow.round_id == round_id).order_by(UnmatchedRow.id))
    ).all()
    deliveries = (
        await uow.session.execute(
            select(DeliveryRow.status, func.count()).where(DeliveryRow.round_id == round_id).group_by(DeliveryRow.status)
        )
    ).all()
    for_a_person = (
        await uow.session.scalars(
            select(DeliveryRow)
            .where(DeliveryRow.round_id == round_id, DeliveryRow.status == "needs_a_person")
            .order_by(DeliveryRow.leader_id)
        )
    ).all()
    return {
        "id": row.id,
        "name": row.name or row.id,
        "status": row.status,
        "spec": row.spec,
        "leader_count": len(row.leader_ids),
        "cohort_id": row.cohort_id,
        "parent_round_id": row.parent_round_id,
        "follow_up_rounds": list(
            (await uow.session.scalars(select(RoundRow.id).where(RoundRow.parent_round_id == row.id).order_by(RoundRow.created_at))).all()
        ),
        "locked_pairs": row.locked_pairs,
        "forbidden_pairs": row.forbidden_pairs,
        "stats": row.stats,
        "relaxations": row.relaxations or [],
        "warnings": row.warnings or [],
        "before_publishing": before_publishing(row, terms),
        "progress": row.progress,
        "failure": row.failure,
        "approved_by": row.approved_by,
        "pairs": [
            {
                "lived_experience_id": p.lived_experience_id,
                "professional_id": p.professional_id,
                "score": p.score,
                "meeting_modes": p.meeting_modes,
                "shared_windows": p.shared_windows,
                "reasons": p.reasons,
                "locked": p.locked,
                "first_meeting": p.first_meeting,
            }
            for p in pairs
        ],
        "unmatched": [{"id": u.leader_id, "reason": u.reason, "rule": u.rule} for u in unmatched],
        "deliveries": {status: count for status, count in deliveries},
        "needs_a_person": [{"leader_id": d.leader_id, "why": d.detail} for d in for_a_person],
        "responses": [
            {
                "leader_id": r.leader_id, "partner_id": r.partner_id, "answer": r.answer, "given_by": r.given_by, "via": r.via,
                "checked_with_leader": r.checked_with_leader, "recorded_by": r.recorded_by,
                "received_on": r.received_on.isoformat() if r.received_on else None,
            }
            for r in (
                await uow.session.scalars(
                    select(ResponseRow).where(ResponseRow.round_id == round_id).order_by(ResponseRow.answered_at)
                )
            ).all()
        ],
    }


# ---- leaders' answers ----

NOT_TAKING_ANSWERS = "This round is no longer taking answers. Please contact the programme team."
LEFT_THE_PROGRAMME = (
    "This link no longer works because you have left the programme. "
    "If you want to take part again, please contact the programme team."
)
ALREADY_ANSWERED = (
    "An answer has already been recorded for this pair, so this link no longer works. "
    "If you want to change the answer, please contact the programme team."
)


class LinkProblem(Exception):
    """A response link that cannot be used, with what to do instead."""


@dataclass(frozen=True)
class ResponseLink:
    """The question a link or a reference opens: one person, one proposed partner, in one round."""

    round_id: str
    leader_id: str
    partner_id: str
    answer: str | None = None  # the answer a short link was sent for, chosen already on its page


@dataclass(frozen=True)
class Answered:
    """Who gave an answer and how it reached the programme: from a link, or recorded by a manager."""

    given_by: str = "leader"
    via: str = "link"
    checked_with_leader: bool | None = None
    recorded_by: str | None = None
    received_on: dt.date | None = None


def read_link(signer: URLSafeTimedSerializer, token: str, max_age_days: int) -> ResponseLink:
    """A long signed link from a message sent before links were short: it works for its lifetime."""
    try:
        data = signer.loads(token, max_age=max_age_days * 86400)
        return ResponseLink(data["round"], data["leader"], data["partner"])
    except SignatureExpired as exc:
        raise LinkProblem("This link has expired. Please contact the programme team and they will help you.") from exc
    except (BadSignature, KeyError, TypeError) as exc:
        raise LinkProblem(
            "This link is not complete. Please copy the whole link from your message, or contact the programme team."
        ) from exc


async def read_code(uow: UnitOfWork, typed: str, now: dt.datetime) -> ResponseLink:
    """The question behind a short link's code, while the link lasts."""
    code = answer_codes.read_code(typed)
    row = await uow.session.get(AnswerCodeRow, answer_codes.code_digest(code)) if code else None
    if row is None:
        raise LinkProblem(
            "This link is not complete. Please copy the whole link from your message, or contact the programme team."
        )
    expires_at = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=dt.timezone.utc)
    if expires_at <= now:
        raise LinkProblem("This link has expired. Please contact the programme team and they will help you.")
    return ResponseLink(row.round_id, row.leader_id, row.partner_id, row.answer)


def named_person(leader: LeaderRow, sealed: dict) -> str | None:
    """The carer or other person who gets this leader's messages, when they asked for that and agreed."""
    consents = [Consent.model_validate(c) for c in leader.public.get("consents") or []]
    proxy = sealed.get("proxy")
    if proxy and sealed.get("contact_method") == "via_carer" and consent_given(consents, "contact_via_proxy"):
        return proxy.get("name")
    return None


async def earlier_answer(uow: UnitOfWork, link: ResponseLink) -> ResponseRow | None:
    return await uow.session.scalar(
        select(ResponseRow).where(
            ResponseRow.round_id == link.round_id, ResponseRow.leader_id == link.leader_id, ResponseRow.partner_id == link.partner_id
        ).limit(1)
    )


async def link_view(uow: UnitOfWork, cipher: Cipher, link: ResponseLink) -> dict:
    """What the answer page shows: the partner's name and role, any earlier answer, and, when the
    leader's messages go to a person they named, the leader's name and that person's."""
    round_row = await uow.session.get(RoundRow, link.round_id)
    if round_row is None or round_row.status != RoundStatus.published:
        raise Conflict(NOT_TAKING_ANSWERS)
    partner = await uow.session.get(LeaderRow, link.partner_id)
    leader = await uow.session.get(LeaderRow, link.leader_id)
    if partner is None or leader is None:
        raise LinkProblem("We cannot find this pair any more. Please contact the programme team.")
    if leader.status == "withdrawn":
        raise Conflict(LEFT_THE_PROGRAMME)
    sealed = cipher.open(leader.sealed)
    earlier = await earlier_answer(uow, link)
    return {
        "partner_name": cipher.open(partner.sealed)["name"],
        "partner_role": partner.role,
        "already": earlier.answer if earlier else None,
        "leader_name": sealed.get("name"),
        "named_person": named_person(leader, sealed),
    }


async def record_response(
    uow: UnitOfWork, cipher: Cipher, link: ResponseLink, answer: str, reason: str | None, how: Answered = Answered()
) -> ResponseRow:
    """One answer per person and partner, only while the round is published; a no is told to the partner."""
    if await earlier_answer(uow, link) is not None:
        raise Conflict(ALREADY_ANSWERED)
    round_row = await get_round(uow, link.round_id)
    if round_row.status != RoundStatus.published:
        raise Conflict(NOT_TAKING_ANSWERS)
    pair = await uow.session.scalar(
        select(PairRow).where(
            PairRow.round_id == link.round_id,
            PairRow.lived_experience_id.in_([link.leader_id, link.partner_id]),
            PairRow.professional_id.in_([link.leader_id, link.partner_id]),
        )
    )
    if pair is None:
        raise LinkProblem("We cannot find this pair any more. Please contact the programme team.")
    row = ResponseRow(
        # The same key for every answer to this question: two sent at once cannot both be stored.
        nonce=hashlib.sha256(f"{link.round_id}\0{link.leader_id}\0{link.partner_id}".encode()).hexdigest(),
        round_id=link.round_id,
        leader_id=link.leader_id,
        partner_id=link.partner_id,
        answer=answer,
        sealed_reason=cipher.seal({"reason": reason}) if reason else None,
        given_by=how.given_by,
        via=how.via,
        checked_with_leader=how.checked_with_leader,
        recorded_by=how.recorded_by,
        received_on=how.received_on,
    )
    uow.session.add(row)
    cls = PairAccepted if answer == "accept" else PairDeclined
    data = PairAnswer(
        round_id=link.round_id, leader_id=link.leader_id, partner_id=link.partner_id, given_by=how.given_by,
        via=how.via, checked_with_leader=how.checked_with_leader, recorded_by=how.recorded_by,
    )
    uow.publish(RESPONSES, link.round_id, event(cls, data, link.round_id))
    return row


# ---- reviewing a proposed round ----


async def _proposed_round_with(uow: UnitOfWork, round_id: str, choice: PairChoice) -> RoundRow:
    row = await get_round(uow, round_id)
    if row.status != RoundStatus.proposed:
        raise Conflict(f"This round is {row.status}; pairs can be locked or ruled out only while it is proposed.")
    roles = dict(
        (await uow.session.execute(
            select(LeaderRow.id, LeaderRow.role).where(LeaderRow.id.in_([choice.lived_experience_id, choice.professional_id]))
        )).all()
    )
    for field, leader_id, side in (
        ("lived_experience_id", choice.lived_experience_id, ("patient_leader", "carer_leader")),
        ("professional_id", choice.professional_id, ("clinical_leader", "managerial_leader")),
    ):
        if leader_id not in row.leader_ids:
            raise Conflict(f"{field}: {leader_id} is not in this round")
        if roles.get(leader_id) not in side:
            raise Conflict(f"{field}: {leader_id} is not a {' or '.join(r.replace('_', ' ') for r in side)}")
    return row


async def lock_pair(uow: UnitOfWork, round_id: str, choice: PairChoice) -> RoundRow:
    """Keep this pair in every re-solve, even if a rule would forbid it (a pre-formed pair)."""
    row = await _proposed_round_with(uow, round_id, choice)
    pair = [choice.lived_experience_id, choice.professional_id]
    row.forbidden_pairs = [p for p in row.forbidden_pairs if p != pair]
    if pair not in row.locked_pairs:
        row.locked_pairs = [*row.locked_pairs, pair]
    return row


async def forbid_pair(uow: UnitOfWork, round_id: str, choice: PairChoice) -> RoundRow:
    """Never propose this pair again in this round."""
    row = await _proposed_round_with(uow, round_id, choice)
    pair = [choice.lived_experience_id, choice.professional_id]
    row.locked_pairs = [p for p in row.locked_pairs if p != pair]
    if pair not in row.forbidden_pairs:
        row.forbidden_pairs = [*row.forbidden_pairs, pair]
    return row


async def resolve_round(uow: UnitOfWork, round_id: str) -> RoundRow:
    """Solve the round again with the manager's locks and exclusions."""
    row = await get_round(uow, round_id)
    move_round(uow, row, RoundStatus.queued)
    await request_solve(uow, row)
    return row


async def pair_again(uow: UnitOfWork, round_id: str, today: dt.date) -> RoundRow:
    """A follow-up round for the people whose partner said no or has left (and those not paired before).

    Every other pair is kept as a locked pair, so those people keep their partner
    and their places; the pairs that were declined are never proposed again. When
    the follow-up round is published, only the people with something new to hear
    are written to.
    """
    parent = await get_round(uow, round_id)
    if parent.status not in (RoundStatus.published, RoundStatus.closed):
        raise Conflict(f"This round is {parent.status}. People can be paired again only after the round is published.")
    pairs = [(p.lived_experience_id, p.professional_id) for p in (await uow.session.scalars(select(PairRow).where(PairRow.round_id == round_id))).all()]
    said_no = {
        frozenset((r.leader_id, r.partner_id))
        for r in (await uow.session.scalars(select(ResponseRow).where(ResponseRow.round_id == round_id, ResponseRow.answer == "decline"))).all()
    }
    unmatched = set((await uow.session.scalars(select(UnmatchedRow.leader_id).where(UnmatchedRow.round_id == round_id))).all())
    everyone = {who for pair in pairs for who in pair} | unmatched
    active = set((await uow.session.scalars(select(LeaderRow.id).where(LeaderRow.id.in_(everyone), LeaderRow.status == "active"))).all())
    declined = [pair for pair in pairs if frozenset(pair) in said_no]
    # A pair whose partner has been paused or has left is broken too.
    kept = [pair for pair in pairs if frozenset(pair) not in said_no and set(pair) <= active]
    broken = [pair for pair in pairs if pair not in kept]
    if not broken:
        raise Conflict("Nobody in this round has said no to their partner or left, so there is nobody to pair again.")
    in_kept = {who for pair in kept for who in pair}
    affected = (({who for pair in broken for who in pair} | unmatched) & active) - in_kept
    if not affected:
        raise Conflict("Everyone whose partner said no or left has since been paused or has left the programme.")
    follow_ups = (await uow.session.scalar(select(func.count()).select_from(RoundRow).where(RoundRow.parent_round_id == round_id))) or 0
    spec = RoundSpec.model_validate(parent.spec).model_copy(update={"launch_date": today})
    command_id = f"{round_id[:90]}-again-{follow_ups + 1}"
    never = sorted(set(declined) | {tuple(p) for p in parent.forbidden_pairs})
    row = RoundRow(
        id=command_id,
        name=f"{parent.name or parent.id}: pairing again{f' ({follow_ups + 1})' if follow_ups else ''}"[-200:],
        status=RoundStatus.draft,
        spec=spec.model_copy(update={"id": command_id}).model_dump(mode="json", by_alias=True),
        leader_ids=sorted(affected | in_kept),
        cohort_id=parent.cohort_id,
        parent_round_id=round_id,
        locked_pairs=[list(pair) for pair in kept],
        forbidden_pairs=[list(p) for p in never],
    )
    uow.session.add(row)
    move_round(uow, row, RoundStatus.queued)
    await request_solve(uow, row)
    return row


async def close_round(uow: UnitOfWork, round_id: str, by: str | None = None) -> RoundRow:
    """Finish a published round: its answer links stop taking answers, and a person leaving
    no longer counts as saying no to a pair in it. Its pairs are still never proposed again,
    and the people whose partner said no can still be paired again."""
    row = await get_round(uow, round_id)
    move_round(uow, row, RoundStatus.closed, by=by)
    return row


async def cancel_round(uow: UnitOfWork, round_id: str) -> RoundRow:
    """Stop a round. Before publishing nobody has been told anything; after it, everyone who
    was told is told again that it will not go ahead (their answer links stop working too)."""
    row = await get_round(uow, round_id)
    was_published = row.status == RoundStatus.published
    move_round(uow, row, RoundStatus.cancelled)
    cancelled = event(RoundCancelled, RoundRef(round_id=round_id), round_id)
    uow.publish(ROUNDS, round_id, cancelled)
    if was_published:
        for leader_id in await people_paired(uow, row):
            outcome = Outcome(round_id=round_id, leader_id=leader_id, outcome="cancelled")
            uow.publish(OUTCOMES, leader_id, event(OutcomePublished, outcome, round_id, str(cancelled.event_id)))
    return row


async def people_paired(uow: UnitOfWork, row: RoundRow) -> list[str]:
    """Everyone a published round told about a partner (less those whose pair was carried over from
    an earlier round: that pair still stands). People it could not pair keep their news."""
    pairs = (await uow.session.scalars(select(PairRow).where(PairRow.round_id == row.id))).all()
    carried = carried_pairs(row)
    return sorted(
        {who for p in pairs if frozenset((p.lived_experience_id, p.professional_id)) not in carried
         for who in (p.lived_experience_id, p.professional_id)} - {ERASED}
    )


# ---- programmes and cohorts ----


def _new_id(prefix: str, given: str | None) -> str:
    return given or f"{prefix}-{uuid.uuid4().hex[:8]}"


PROGRAMME_FIELDS = ("name", *ProgrammeDetails.model_fields)


async def create_programme(uow: UnitOfWork, command: NewProgramme, actor: str = "registry") -> ProgrammeRow:
    programme_id = _new_id("programme", command.id)
    if await uow.session.get(ProgrammeRow, programme_id) is not None:
        raise Conflict(f"a programme called {programme_id} already exists; choose another id")
    row = ProgrammeRow(id=programme_id, **command.model_dump(include=set(PROGRAMME_FIELDS)))
    uow.session.add(row)
    uow.session.add(AuditRow(actor=actor, action="added programme", leader_id=None, purpose=f"programme {programme_id}"))
    return row


async def get_programme(uow: UnitOfWork, programme_id: str) -> ProgrammeRow:
    row = await uow.session.get(ProgrammeRow, programme_id)
    if row is None:
        raise NotFound(f"there is no programme called {programme_id}")
    return row


async def change_programme(uow: UnitOfWork, programme_id: str, change: ProgrammeChange, actor: str) -> ProgrammeRow:
    """Replace a programme's name and details; the audit log says who changed which of them."""
    row = await get_programme(uow, programme_id)
    changed = [f for f in PROGRAMME_FIELDS if getattr(row, f) != getattr(change, f)]
    for field in changed:
        setattr(row, field, getattr(change, field))
    if changed:
        words = ", ".join(f.replace("_", " ") for f in changed)
        uow.session.add(AuditRow(actor=actor, action="changed programme", leader_id=None, purpose=f"programme {programme_id}: {words}"))
    return row


def programme_view(row: ProgrammeRow) -> dict:
    return {"id": row.id, **{f: getattr(row, f) for f in PROGRAMME_FIELDS}}


async def get_cohort(uow: UnitOfWork, cohort_id: str) -> CohortRow:
    row = await uow.session.get(CohortRow, cohort_id)
    if row is None:
        raise NotFound(f"there is no cohort called {cohort_id}")
    return row


async def create_cohort(uow: UnitOfWork, programme_id: str, command: NewCohort) -> CohortRow:
    if await uow.session.get(ProgrammeRow, programme_id) is None:
        raise NotFound(f"there is no programme called {programme_id}")
    cohort_id = _new_id("cohort", command.id)
    if await uow.session.get(CohortRow, cohort_id) is not None:
        raise Conflict(f"a cohort called {cohort_id} already exists; choose another id")
    row = CohortRow(id=cohort_id, programme_id=programme_id, name=command.name)
    uow.session.add(row)
    await uow.session.flush()
    if command.leader_ids:
        await add_members(uow, cohort_id, command.leader_ids)
    return row


async def add_members(uow: UnitOfWork, cohort_id: str, leader_ids: list[str]) -> int:
    await get_cohort(uow, cohort_id)
    known = set((await uow.session.scalars(select(LeaderRow.id).where(LeaderRow.id.in_(leader_ids)))).all())
    missing = sorted(set(leader_ids) - known)
    if missing:
        raise NotFound(f"leader_ids: these leaders are not registered: {', '.join(missing[:20])}")
    present = set(
        (await uow.session.scalars(select(CohortMemberRow.leader_id).where(CohortMemberRow.cohort_id == cohort_id))).all()
    )
    new = sorted(known - present)
    uow.session.add_all(CohortMemberRow(cohort_id=cohort_id, leader_id=lid) for lid in new)
    return len(new)


async def cohort_view(uow: UnitOfWork, cohort_id: str) -> dict:
    row = await get_cohort(uow, cohort_id)
    members = (
        await uow.session.scalars(
            select(CohortMemberRow.leader_id).where(CohortMemberRow.cohort_id == cohort_id).order_by(CohortMemberRow.leader_id)
        )
    ).all()
    return {"id": row.id, "programme_id": row.programme_id, "name": row.name, "leader_ids": list(members)}
