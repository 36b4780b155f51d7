"""Publishing an approved round (one outcome for each person, each pair a first meeting),
and recording how each person heard it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

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
    ResponseRow,
    RoundRow,
    UnmatchedRow,
)
from services.registry.domain import answers as answer_codes
from services.registry.domain.approval import ApprovalRefused, refuse_publishing_unless_approved
from services.registry.domain.leaders import Consent, consent_given
from services.registry.domain.meetings import (
    MeetingNeeds,
    MeetingRules,
    Nation,
    PairToMeet,
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
from services.registry.domain.publication import access_arrangements, who_is_told
from services.registry.domain.rounds import RoundStatus
from services.registry.handlers.common import (
    Conflict,
    audit,
    event,
    get_round,
    move_round,
)
from services.registry.handlers.programmes import programme_terms
from services.registry.handlers.rounds import (
    carried_pairs,
    refuse_pairs_with_erased_people,
)
from services.registry.work_queue import task_from_report


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
            uow.session.add(
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
    said_no = (
        await uow.session.execute(
            select(ResponseRow.leader_id, ResponseRow.partner_id).where(
                ResponseRow.round_id == round_id, ResponseRow.answer == "decline"
            )
        )
    ).all()
    return {who for pair in said_no for who in pair}


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
    try:
        refuse_publishing_unless_approved(bool(p.approved_by) for p in pairs)
    except ApprovalRefused as refused:
        raise Conflict(str(refused)) from None
    people = await read_needs(uow, publishing.cipher, pairs, actor, round_id)
    respond_by = answer_date(
        today + dt.timedelta(days=publishing.response_days), set(people.nations.values()) or {"england_and_wales"}, terms.closures
    )
    spec = RoundSpec.model_validate(row.spec)
    rules = MeetingRules(
        publishing.meeting_notice_days, publishing.meeting_minutes, school_holidays=spec.school_holidays, closures=terms.closures
    )
    to_meet = [
        PairToMeet(p.lived_experience_id, p.professional_id, [Window.model_validate(w) for w in p.shared_windows]) for p in pairs
    ]
    slots = plan_first_meetings(to_meet, people.meeting_needs, today, respond_by, rules)
    partners: dict[tuple[str, str], Partner] = {}
    for pair, slot in zip(pairs, slots, strict=True):
        pair.first_meeting = (
            {"date": slot[0].isoformat(), "start": slot[1].strftime("%H:%M"), "end": slot[2].strftime("%H:%M")} if slot else None
        )
        for me, partner in ((pair.lived_experience_id, pair.professional_id), (pair.professional_id, pair.lived_experience_id)):
            arrangements = access_arrangements(me, partner, people.access, people.shares)
            partners[me, partner] = partner_news(pair, partner, slot, arrangements, publishing.links(uow, round_id, me, partner))
    # In a follow-up round, pairs carried over from the first round were told already, and the
    # people whose partner said no or left are told this is a new partner.
    let_down = await people_whose_partner_said_no(uow, row.parent_round_id) if row.parent_round_id else set()
    about = terms.outcome_fields(spec.sessions)
    for news in who_is_told([(p.lived_experience_id, p.professional_id) for p in pairs], carried_pairs(row), let_down):
        mine = [partners[news.leader_id, partner] for partner in news.partner_ids]
        outcome = Outcome(
            round_id=round_id,
            leader_id=news.leader_id,
            outcome="paired",
            partners=mine,
            respond_by=respond_by,
            pairing_again=news.pairing_again,
            **about,
        )
        uow.publish(OUTCOMES, news.leader_id, event(OutcomePublished, outcome, round_id, cause))
    await tell_the_unmatched(uow, round_id, about, cause)
    return row


@dataclass(frozen=True)
class PeopleToMeet:
    """What planning first meetings and telling people needs about the people of a round's pairs."""

    access: dict[str, list[str]]
    nations: dict[str, Nation]
    meeting_needs: dict[str, MeetingNeeds]
    shares: dict[str, bool]  # whether each agreed to share their details with their partner


async def read_needs(uow: UnitOfWork, cipher: Cipher, pairs, actor: str, round_id: str) -> PeopleToMeet:
    people = {p.lived_experience_id for p in pairs} | {p.professional_id for p in pairs}
    leaders = {row.id: row for row in (await uow.session.scalars(select(LeaderRow).where(LeaderRow.id.in_(people)))).all()}
    access: dict[str, list[str]] = {}
    nations: dict[str, Nation] = {}
    for leader_id, leader in leaders.items():
        # Access needs are special-category data: this read is audited like any other.
        sealed = cipher.open(leader.sealed)
        access[leader_id] = sealed.get("access_needs") or []
        nations[leader_id] = nation_of_leader(leader, sealed)
        audit(uow, actor, "read access needs", leader_id, f"plan the first meeting and its arrangements for round {round_id}")
    needs = {leader_id: meeting_needs(leader, access[leader_id], nations[leader_id]) for leader_id, leader in leaders.items()}
    shares = {leader_id: shares_with_partner(leader) for leader_id, leader in leaders.items()}
    return PeopleToMeet(access, nations, needs, shares)


def partner_news(pair: PairRow, partner: str, slot, arrangements: list[str], links: dict[str, str]) -> Partner:
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


async def tell_the_unmatched(uow: UnitOfWork, round_id: str, about: dict, cause: str) -> None:
    unmatched = (
        await uow.session.scalars(select(UnmatchedRow).where(UnmatchedRow.round_id == round_id).order_by(UnmatchedRow.id))
    ).all()
    for person in unmatched:
        outcome = Outcome(
            round_id=round_id, leader_id=person.leader_id, outcome="unmatched", unmatched_reason=person.reason, **about
        )
        uow.publish(OUTCOMES, person.leader_id, event(OutcomePublished, outcome, round_id, cause))


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
        uow.session.add(
            DeliveryRow(round_id=d.round_id, leader_id=d.leader_id, channel=d.channel, status=d.status, detail=d.detail)
        )
    else:
        row.status, row.detail = d.status, d.detail
