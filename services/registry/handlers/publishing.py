"""Publishing an approved round (one outcome for each person, each pair a first meeting),
and recording how each person heard it."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from schemas.cohort import Location, RoundSpec, Window, is_for_the_team_only
from schemas.events import (
    MeetingSlot,
    NotificationStatusChanged,
    Outcome,
    OutcomePublished,
    Partner,
    RoundPublished,
    RoundRef,
)
from schemas.topics import OUTCOMES, ROUNDS
from services.common.crypto import Cipher
from services.common.store import UnitOfWork, utc_now
from services.registry.adapters.orm import (
    AnswerCodeRow,
    DeliveryRow,
    LeaderRow,
    PairRow,
    RoundRow,
)
from services.registry.domain import answers as answer_codes
from services.registry.domain.approval import ApprovalRefused, refuse_publishing_unless_approved
from services.registry.domain.leaders import Consent, consent_given
from services.registry.domain.meetings import (
    MeetingNeeds,
    MeetingRules,
    Nation,
    PairToMeet,
    Slot,
    answer_date,
    nation_of,
    plan_first_meetings,
)
from services.registry.domain.programmes import (
    ProgrammeDefaults,
    ProgrammeTerms,
    answers_without_internet,
    offline_contact_problem,
)
from services.registry.domain.publication import access_arrangements, both_ways, let_down_by, meeting_record, who_is_told
from services.registry.domain.rounds import RoundStatus
from services.registry.event_refs import refs_of
from services.registry.handlers.common import (
    Conflict,
    event,
    move_round,
)
from services.registry.handlers.rounds import (
    carried_pairs,
    refuse_pairs_with_erased_people,
)
from services.registry.handlers.store import Publications, round_in
from services.registry.work_queue import task_from_report

# record_delivery's rows for the transaction, written at commit (session.info, which lives as long as it does)
DELIVERIES_WAITING = "deliveries: rows to write"


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

    def links(self, rounds: Publications, round_id: str, leader_id: str, partner_id: str) -> dict[str, str]:
        """Short links for yes and for no (only a digest of each code is kept), and the reference
        people quote on the phone or a reply slip."""
        reference = unused_reference(rounds.taken_references(round_id))
        expires_at = utc_now() + dt.timedelta(days=self.link_days)
        found = {"reference": reference}
        for answer in ("accept", "decline"):
            code = answer_codes.new_code()
            rounds.add(
                AnswerCodeRow(
                    code_digest=answer_codes.code_digest(code),
                    round_id=round_id,
                    leader_id=leader_id,
                    partner_id=partner_id,
                    answer=answer,
                    reference=reference,
                    expires_at=expires_at,
                )
            )
            found[f"{answer}_url"] = answer_codes.answer_link(self.public_url, code)
        return found


def unused_reference(taken: set[str]) -> str:
    """A reference no other question in this round has (a round is published in one transaction)."""
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


async def refuse_without_offline_contact(rounds: Publications, row: RoundRow, terms: ProgrammeTerms, cipher: Cipher) -> None:
    """People who get letters, texts or a message from a member of staff must be told how to answer
    without the internet: the programme needs a phone number and a postal address for them."""
    if terms.contact.phone and terms.contact.postal_address:
        return
    leaders = await rounds.leaders(row.leader_ids)
    problem = offline_contact_problem(terms, sum(answers_without_internet(cipher.open(r.sealed)) for r in leaders))
    if problem:
        raise Conflict(problem)


def shares_with_partner(row: LeaderRow) -> bool:
    """The person's latest word on sharing their details with their partner, if they gave one."""
    consents = [Consent.model_validate(c) for c in row.public.get("consents") or []]
    return consent_given(consents, "sharing_details_with_partner")


async def people_whose_partner_said_no(rounds: Publications, round_id: str) -> set[str]:
    """Both people of each pair in the round that someone said no to (leaving counts as no)."""
    return let_down_by(await rounds.said_no(round_id))


async def publish_round(rounds: Publications, round_id: str, publishing: Publishing, today: dt.date, actor: str) -> RoundRow:
    """Release the approved outcome: every person in the round gets one outcome event, and each
    pair one suggested first meeting that suits both of them."""
    row = await round_in(rounds, round_id)
    move_round(rounds, row, RoundStatus.published)
    terms = await rounds.programme_terms(row.cohort_id, publishing.programme)
    await refuse_without_offline_contact(rounds, row, terms, publishing.cipher)
    published = event(RoundPublished, RoundRef(round_id=round_id), round_id)
    rounds.publish(ROUNDS, round_id, published)
    pairs = await pairs_to_publish(rounds, round_id)
    people = await read_needs(rounds, publishing.cipher, pairs, actor, round_id)
    respond_by, slots = first_meetings(row, pairs, people, terms, publishing, today)
    partners = news_of_partners(rounds, publishing, round_id, pairs, slots, people)
    # In a follow-up round, pairs carried over from the first round were told already, and the
    # people whose partner said no or left are told this is a new partner.
    let_down = await people_whose_partner_said_no(rounds, row.parent_round_id) if row.parent_round_id else set()
    about = terms.outcome_fields(RoundSpec.model_validate(row.spec).sessions)
    for outcome in paired_outcomes(row, pairs, partners, let_down, respond_by, about):
        rounds.publish(OUTCOMES, outcome.leader_id, event(OutcomePublished, outcome, round_id, str(published.event_id)))
    await tell_the_unmatched(rounds, round_id, about, str(published.event_id))
    return row


async def pairs_to_publish(rounds: Publications, round_id: str) -> Sequence[PairRow]:
    """The round's pairs, every one approved by a person and none with someone erased since the solve."""
    pairs = await rounds.pairs(round_id)
    refuse_pairs_with_erased_people(pairs, "Cancel this round and launch a new one for the people in it.")
    try:
        refuse_publishing_unless_approved(bool(p.approved_by) for p in pairs)
    except ApprovalRefused as refused:
        raise Conflict(str(refused)) from None
    return pairs


def first_meetings(
    row: RoundRow, pairs: Sequence[PairRow], people: PeopleToMeet, terms: ProgrammeTerms, publishing: Publishing, today: dt.date
) -> tuple[dt.date, list[Slot | None]]:
    """The date to answer by (not a bank holiday or closure for anyone in the round), and each pair's
    first meeting, in the order of the pairs (None where no time suits both)."""
    nations = set(people.nations.values()) or {"england_and_wales"}
    respond_by = answer_date(today + dt.timedelta(days=publishing.response_days), nations, terms.closures)
    spec = RoundSpec.model_validate(row.spec)
    rules = MeetingRules(
        publishing.meeting_notice_days, publishing.meeting_minutes, school_holidays=spec.school_holidays, closures=terms.closures
    )
    to_meet = [
        PairToMeet(p.lived_experience_id, p.professional_id, [Window.model_validate(w) for w in p.shared_windows]) for p in pairs
    ]
    return respond_by, plan_first_meetings(to_meet, people.meeting_needs, today, respond_by, rules)


def news_of_partners(
    rounds: Publications,
    publishing: Publishing,
    round_id: str,
    pairs: Sequence[PairRow],
    slots: list[Slot | None],
    people: PeopleToMeet,
) -> dict[tuple[str, str], Partner]:
    """What each person hears about each partner, by (person, partner), with the links to answer; each
    pair keeps its first meeting."""
    partners: dict[tuple[str, str], Partner] = {}
    for pair, slot in zip(pairs, slots, strict=True):
        pair.first_meeting = meeting_record(slot)
        for me, partner in both_ways(pair.lived_experience_id, pair.professional_id):
            arrangements = access_arrangements(me, partner, people.access, people.shares)
            partners[me, partner] = partner_news(
                pair, partner, slot, arrangements, publishing.links(rounds, round_id, me, partner)
            )
    return partners


def paired_outcomes(
    row: RoundRow,
    pairs: Sequence[PairRow],
    partners: dict[tuple[str, str], Partner],
    let_down: set[str],
    respond_by: dt.date,
    about: dict,
) -> list[Outcome]:
    """One outcome for everyone with a partner they have not heard about yet (domain/publication.py)."""
    news = who_is_told([(p.lived_experience_id, p.professional_id) for p in pairs], carried_pairs(row), let_down)
    return [
        Outcome(
            round_id=row.id,
            leader_id=told.leader_id,
            outcome="paired",
            partners=[partners[told.leader_id, partner] for partner in told.partner_ids],
            respond_by=respond_by,
            pairing_again=told.pairing_again,
            **about,
        )
        for told in news
    ]


@dataclass(frozen=True)
class PeopleToMeet:
    """What planning first meetings and telling people needs about the people of a round's pairs."""

    access: dict[str, list[str]]
    nations: dict[str, Nation]
    meeting_needs: dict[str, MeetingNeeds]
    shares: dict[str, bool]  # whether each agreed to share their details with their partner


async def read_needs(rounds: Publications, cipher: Cipher, pairs: Sequence[PairRow], actor: str, round_id: str) -> PeopleToMeet:
    people = {p.lived_experience_id for p in pairs} | {p.professional_id for p in pairs}
    leaders = {row.id: row for row in await rounds.leaders(people)}
    access: dict[str, list[str]] = {}
    nations: dict[str, Nation] = {}
    for leader_id, leader in leaders.items():
        sealed = cipher.open(leader.sealed)
        access[leader_id] = sealed.get("access_needs") or []
        nations[leader_id] = nation_of_leader(leader, sealed)
    # Access needs are special-category data: each person's read is audited like any other (one statement for all).
    purpose = f"plan the first meeting and its arrangements for round {round_id}"
    await rounds.audit_many(actor, "read access needs", list(leaders), purpose)
    needs = {leader_id: meeting_needs(leader, access[leader_id], nations[leader_id]) for leader_id, leader in leaders.items()}
    shares = {leader_id: shares_with_partner(leader) for leader_id, leader in leaders.items()}
    return PeopleToMeet(access, nations, needs, shares)


def partner_news(pair: PairRow, partner: str, slot: Slot | None, arrangements: list[str], links: dict[str, str]) -> Partner:
    """What a person is told about one partner, with the links to answer."""
    return Partner(
        partner_id=partner,
        reasons=[reason for reason in pair.reasons if not is_for_the_team_only(reason)],
        shared_windows=pair.shared_windows,
        meeting_modes=pair.meeting_modes,
        first_meeting=MeetingSlot(date=slot[0], start=slot[1], end=slot[2]) if slot else None,
        access_arrangements=arrangements,
        **links,
    )


async def tell_the_unmatched(rounds: Publications, round_id: str, about: dict, cause: str) -> None:
    for person in await rounds.unmatched(round_id):
        outcome = Outcome(
            round_id=round_id, leader_id=person.leader_id, outcome="unmatched", unmatched_reason=person.reason, **about
        )
        rounds.publish(OUTCOMES, person.leader_id, event(OutcomePublished, outcome, round_id, cause))


async def record_delivery(uow: UnitOfWork, changed: NotificationStatusChanged) -> None:
    """The read model of how each person heard their round's outcome.

    A report comes for each message sent, a batch at a time (services/common/projection.py): the person
    is found in what the batch's preload read (event_refs' caches), and the rows are written at commit
    with one statement, not read and written one by one."""
    d = changed.data
    if not await refs_of(uow, [d.leader_id]):
        return  # a report that came after the person was erased: nothing about them is kept
    await task_from_report(uow, changed)  # a task for a person joins the managers' work queue
    if d.about != "outcome":
        return  # messages about a partner declining are in the notifier's own delivery log
    waiting = uow.session.info.get(DELIVERIES_WAITING)
    if waiting is None:
        waiting = uow.session.info[DELIVERIES_WAITING] = {}
        uow.before_commit(functools.partial(write_deliveries, uow))
    waiting[(d.round_id, d.leader_id, d.channel)] = (d.status, d.detail)  # a later report on the same message wins


async def write_deliveries(uow: UnitOfWork) -> None:
    """The transaction's delivery rows, new or changed, in one statement."""
    waiting = uow.session.info.pop(DELIVERIES_WAITING)
    table = cast(Table, DeliveryRow.__table__)  # a declarative class's table is a Table
    upsert = (postgresql_insert if uow.store.is_postgres else sqlite_insert)(table)
    now = utc_now()
    await uow.session.execute(
        upsert.on_conflict_do_update(
            index_elements=[table.c.round_id, table.c.leader_id, table.c.channel],
            set_={"status": upsert.excluded.status, "detail": upsert.excluded.detail, "updated_at": upsert.excluded.updated_at},
        ),
        [
            {"round_id": r, "leader_id": leader, "channel": c, "status": status, "detail": detail, "updated_at": now}
            for (r, leader, c), (status, detail) in waiting.items()
        ],
    )
