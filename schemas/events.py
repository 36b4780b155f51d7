"""Event contract between the registry, the matcher and the notifier.

Every event has the same envelope. Consumers ignore fields they do not know,
so a producer may add fields within a version; anything breaking is a new
`.v2` topic. Events are past tense and frozen.

Every field and key that names a person (leader_id, partner_id, a profile's id, the people and pairs
of a round request) holds that person's event reference: random and meaningless (for example
p-3f9c0a7d1e2b4c5d6e7f), made by the registry, and never the registry's own id, which a manager may
have typed and may name them. The registry forgets it when the person is erased, so a reference
left on a topic points to no one (services/registry/event_refs.py).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from schemas.cohort import (
    AccessNeed,
    CohortResult,
    LeaderId,
    LocalTime,
    MatchingProfile,
    MeetingMode,
    Pair,
    Role,
    RoundSpec,
    Session,
    Window,
)

# The description of every field that names a person.
PERSON = "The person's pseudonymous event reference (never the registry's id)"


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Envelope(BaseModel):
    # cache_strings="keys": pydantic keeps the short strings it reads from JSON in a process-wide cache of
    # 16,384, and events bring new ids and names all the time, so each service's memory grew with every
    # round (about 500 new strings a 200-person round in the registry) until up to about 1 MiB was held
    # there. Field names alone are kept (tests/unit/test_event_strings.py).
    model_config = ConfigDict(frozen=True, extra="ignore", cache_strings="keys")

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    event_type: str
    schema_version: int = 1
    occurred_at: dt.datetime = Field(default_factory=utc_now)
    producer: str
    correlation_id: str = Field(description="The round the whole flow is about, or the leader's event reference")
    causation_id: str | None = Field(default=None, description="event_id of the event that caused this one")


class Payload(BaseModel):
    # As Envelope's: a contact record read on its own holds names and addresses seen once.
    model_config = ConfigDict(frozen=True, extra="ignore", cache_strings="keys")


# ---- leaders.profile.v1 and leaders.contact.v1 (compacted, keyed by leader id) ----


class LeaderProfile(Payload):
    version: int = Field(ge=1, description="Grows with every change of this leader in the registry")
    status: Literal["active", "paused", "withdrawn"]
    profile: MatchingProfile


class LeaderProfileChanged(Envelope):
    event_type: Literal["LeaderProfileChanged"] = "LeaderProfileChanged"
    data: LeaderProfile


ContactMethod = Literal["email", "letter", "sms", "telephone", "text_relay", "via_carer"]
InformationFormat = Literal[
    "standard", "easy_read", "large_print_20", "large_print_24", "large_print_28", "braille", "audio", "email"
]


class ContactProxy(Payload):
    """Someone the leader asked us to send their messages to (a carer, a relative, a friend).

    Only ever in a contact record when the leader's consent to this is recorded."""

    name: str
    relationship: str | None = Field(default=None, description="How they know the leader, in a few words")
    email: str | None = None
    phone: str | None = None
    postal_address: str | None = None


class LeaderContact(Payload):
    leader_id: LeaderId = Field(description=PERSON)
    version: int = Field(ge=1)
    name: str
    pronouns: str | None = None
    role: Role
    organisation: str | None = None
    email: str | None = None
    phone: str | None = None
    postal_address: str | None = None
    contact_method: ContactMethod = "email"
    information_format: InformationFormat = "standard"
    communication_professional: str | None = None
    communication_support: str | None = None
    # Added later within v1: when this person does not want text messages or phone calls
    # (Europe/London time). Not set means the notifier's default quiet hours.
    quiet_hours_start: LocalTime | None = Field(default=None, description="No texts or calls from this time")
    quiet_hours_end: LocalTime | None = Field(default=None, description="Texts and calls again from this time")
    # Added later within v1: with contact_method via_carer, the person who gets their messages.
    # Present only when the leader has agreed (consent purpose contact_via_proxy); absent otherwise.
    proxy: ContactProxy | None = Field(
        default=None, description="Send their messages to this person instead (present only with the leader's consent)"
    )


class SealedContact(Payload):
    """A contact record sealed with the leader's own data key.

    Erasing the leader destroys the key, so no copy of this record, on the topic, in a log or a dead letter, opens again."""

    leader_id: LeaderId = Field(description=PERSON)
    version: int = Field(ge=1)
    sealed: str = Field(
        description="The whole LeaderContact as JSON, encrypted with this leader's own data key (a Fernet token: AES "
        "with an integrity check). The registry keeps one random key per leader and shares it on leaders.keys.v1, "
        "wrapped with a key only the registry and the notifier hold."
    )


class LeaderContactChanged(Envelope):
    event_type: Literal["LeaderContactChanged"] = "LeaderContactChanged"
    # Sealed since issue 14; records written before then are plain, and are still read.
    data: SealedContact | LeaderContact = Field(
        description="The contact record sealed with the leader's data key; older records are plain"
    )


# ---- leaders.keys.v1 (compacted, keyed by leader id) ----


class LeaderKey(Payload):
    leader_id: LeaderId = Field(description=PERSON)
    wrapped_key: str = Field(
        description="The leader's data key, encrypted with the key the registry and notifier share (*_EVENT_KEYS)"
    )


class LeaderKeyShared(Envelope):
    """A leader's data key for their sealed contact records; a tombstone (null) when they are erased."""

    event_type: Literal["LeaderKeyShared"] = "LeaderKeyShared"
    data: LeaderKey


# ---- rounds.v1 (keyed by round id) ----


class RoundRequest(Payload):
    round: RoundSpec
    leader_versions: dict[LeaderId, int] = Field(
        description="Profile version of each leader in the round, by their event reference; the matcher waits "
        "until it has at least these"
    )
    locked_pairs: list[Pair] = Field(default_factory=list, description="Pairs kept as they are, by event reference")
    forbidden_pairs: list[Pair] = Field(default_factory=list, description="Pairs never to make, by event reference")
    previous_pairs: list[Pair] = Field(default_factory=list, description="Pairs made before, by event reference")
    # Added within v1 (issue 18).
    left_out_before: list[LeaderId] = Field(
        default_factory=list,
        description=(
            "Leaders in the round (by event reference) who, in the programme's earlier published rounds, were not "
            "paired or whose pair ended or was declined: the matcher pairs as many of them as it can, once it has the most pairs"
        ),
    )


class RoundRequested(Envelope):
    event_type: Literal["RoundRequested"] = "RoundRequested"
    data: RoundRequest


class RoundRef(Payload):
    round_id: str


class RoundPublished(Envelope):
    event_type: Literal["RoundPublished"] = "RoundPublished"
    data: RoundRef


class RoundCancelled(Envelope):
    event_type: Literal["RoundCancelled"] = "RoundCancelled"
    data: RoundRef


class StatusChange(Payload):
    round_id: str
    from_status: str
    to_status: str
    by: str | None = Field(default=None, description="Who made the change, when a person did")


class RoundStatusChanged(Envelope):
    """Every change of a round's status, for the record and for anyone following rounds."""

    event_type: Literal["RoundStatusChanged"] = "RoundStatusChanged"
    data: StatusChange


class RoundFeedback(Payload):
    """What happened because of the pairs' work, in the words of the manager who closed the round (issue 18).

    Everyone in the round hears it in their own format, paired or not: co-production means telling people
    what difference their contribution made. Plain English, checked by the registry before it is sent."""

    round_id: str
    leader_ids: list[LeaderId] = Field(description="Everyone in the round, paired or not, who is told")
    message: str = Field(min_length=1, max_length=2000, description="The manager's words, in plain English")
    programme: ProgrammeContact | None = Field(default=None, description="The programme team's contact details")
    shared_by: str | None = Field(default=None, description="The staff member who closed the round and wrote it")


class RoundFeedbackShared(Envelope):
    """Added within v1: published with the RoundStatusChanged that closes the round, keyed by round id."""

    event_type: Literal["RoundFeedbackShared"] = "RoundFeedbackShared"
    data: RoundFeedback


RoundEvent = Annotated[
    RoundRequested | RoundPublished | RoundCancelled | RoundStatusChanged | RoundFeedbackShared,
    Field(discriminator="event_type"),
]


# ---- matches.v1 (keyed by round id) ----


class RoundSolved(Envelope):
    event_type: Literal["RoundSolved"] = "RoundSolved"
    data: CohortResult


class RoundFailure(Payload):
    round_id: str
    reason: str


class RoundSolveFailed(Envelope):
    event_type: Literal["RoundSolveFailed"] = "RoundSolveFailed"
    data: RoundFailure


class SolveProgress(Payload):
    """How a long solve is going: sent while it runs, so managers can watch it."""

    round_id: str
    stage: str = Field(description="What the matcher is doing now, in plain English")
    objective: dict[str, float] = Field(
        default_factory=dict, description="Best found so far: paired_people, total_fit, worst_pair_fit"
    )
    bound: dict[str, float] = Field(default_factory=dict, description="The best that is still possible, by the same measures")
    gap: float | None = Field(
        default=None, ge=0, le=1, description="Share of the bound not yet reached; none before a first solution"
    )
    elapsed_seconds: float = Field(ge=0)


class RoundProgress(Envelope):
    event_type: Literal["RoundProgress"] = "RoundProgress"
    data: SolveProgress


MatchEvent = Annotated[RoundSolved | RoundSolveFailed | RoundProgress, Field(discriminator="event_type")]


# ---- outcomes.v1 (keyed by leader id) ----


class MeetingSlot(Payload):
    """A date and time, Europe/London local time."""

    date: dt.date
    start: LocalTime
    end: LocalTime


class Partner(Payload):
    """One partner of a paired person, with why they were paired and how to answer."""

    partner_id: LeaderId = Field(description=PERSON)
    reasons: list[str] = Field(default_factory=list, description="Plain-English reasons for the pair")
    shared_windows: list[Window] = Field(default_factory=list)
    meeting_modes: list[MeetingMode] = Field(default_factory=list)
    accept_url: str
    decline_url: str
    # Added within v1, and no longer filled since the registry plans `first_meeting` itself: kept so
    # the contract only grows. Not sending them keeps a partner's unavailable dates out of the event.
    first_meeting_after: dt.date | None = Field(default=None, description="No longer filled: see first_meeting")
    cannot_meet_on: list[dt.date] = Field(default_factory=list, description="No longer filled: see first_meeting")
    # Added within v1: the registry plans the first meeting, as it sees both people's dates and
    # every pair a professional is in; the same slot goes to both partners.
    first_meeting: MeetingSlot | None = Field(
        default=None, description="The suggested first meeting; none when no shared time fits in the next weeks"
    )
    access_arrangements: list[AccessNeed] = Field(
        default_factory=list,
        description="What will be arranged for the pair's meetings: this person's own needs, and their "
        "partner's where the partner agreed to share them. Coded, never a diagnosis",
    )
    # Added within v1: a short reference people quote when they answer by phone, letter or text.
    reference: str | None = Field(default=None, description="Short reference for answering without the internet, e.g. K7P-4QX")


class ProgrammeContact(Payload):
    """How people reach the programme team, with or without the internet: every message gives it."""

    team: str = Field(description="The team's name as it reads in a sentence, for example: the patient leader programme team")
    person: str | None = Field(default=None, description="The named person to contact")
    phone: str | None = Field(default=None, description="A UK phone number people can call")
    email: str | None = None
    postal_address: str | None = Field(default=None, description="Where letters and reply slips go, one line per line")


class CheckInPlan(Payload):
    """When people in a pair are asked how it is going: days after publishing, then the gap between."""

    first_days: int = Field(default=30, ge=1, le=365, description="Days after publishing for the first check-in")
    every_days: int = Field(
        default=60, ge=1, le=365, description="Days between check-ins after the first, until the round closes"
    )


class Outcome(Payload):
    """Everything one person is told about one round, in one message."""

    round_id: str
    leader_id: LeaderId = Field(description=PERSON)
    # "cancelled" (added within v1): a round already published was stopped; nothing else is set.
    outcome: Literal["paired", "unmatched", "cancelled"]
    partners: list[Partner] = Field(default_factory=list, description="More than one for a professional with capacity")
    unmatched_reason: str | None = None
    respond_by: dt.date | None = None
    # Added within v1: a follow-up round pairs again people whose partner said no or left,
    # so their message says this is a new partner.
    pairing_again: bool = Field(default=False, description="A new partner, after an earlier partner said no or left")
    # Added within v1: who to contact and how, when and where the round's required sessions are,
    # and when people not paired this time get their next chance.
    programme: ProgrammeContact | None = Field(default=None, description="The programme team's contact details")
    sessions: list[Session] = Field(default_factory=list, description="The round's required sessions")
    next_round_on: dt.date | None = Field(default=None, description="When the programme next makes pairs, when set")
    # Added within v1 (issue 18): the programme's check-in schedule; none means the default (30, then every 60 days).
    check_ins: CheckInPlan | None = Field(default=None, description="When people in a pair are asked how it is going")


class OutcomePublished(Envelope):
    event_type: Literal["OutcomePublished"] = "OutcomePublished"
    data: Outcome


# ---- responses.v1 (keyed by round id) ----


class PairAnswer(Payload):
    round_id: str
    leader_id: LeaderId = Field(description="Who answered: " + PERSON)
    partner_id: LeaderId = Field(description=PERSON)
    # Added within v1: who gave the answer and how it reached the programme.
    given_by: Literal["leader", "named_person", "programme_team"] = Field(
        default="leader", description="The leader, the person they named to get their messages, or the programme team"
    )
    via: Literal["link", "phone", "letter", "text", "in_person", "email"] = Field(
        default="link", description="How the answer came: the link in the message, or told to the programme team"
    )
    checked_with_leader: bool | None = Field(
        default=None, description="From a named person: they confirmed they checked with the leader first"
    )
    recorded_by: str | None = Field(default=None, description="The staff member who recorded an answer given to them")


class PairAccepted(Envelope):
    event_type: Literal["PairAccepted"] = "PairAccepted"
    data: PairAnswer


class PairDeclined(Envelope):
    event_type: Literal["PairDeclined"] = "PairDeclined"
    data: PairAnswer


class TextReply(Payload):
    """A reply to a text message that the notifier read as a clear yes or no to the one question it
    asked that person by text. Never the phone number or the words of the reply."""

    round_id: str
    leader_id: LeaderId = Field(description="Who replied: " + PERSON)
    partner_id: LeaderId = Field(description=PERSON)
    # Widened within v1 (issue 18): the codes of FollowUpAnswer.answer, for a reply to "Did you meet?" or a check-in.
    answer: Literal["accept", "decline", "met", "not_yet", "going_well", "some_problems", "need_help"] = Field(
        description="accept or decline (question pair); otherwise as FollowUpAnswer.answer"
    )
    received_on: dt.date = Field(description="The day the reply reached GOV.UK Notify (London time)")
    # Added within v1 (issue 18): which question the text asked.
    question: Literal["pair", "met", "check_in"] = Field(
        default="pair", description='pair (yes or no to a partner), met ("Did you meet?") or check_in'
    )
    number: int = Field(default=0, ge=0, description="Which check-in, for question check_in")


class TextReplyReceived(Envelope):
    """From the notifier, for the registry to record as an answer given by text (the same rules as a link)."""

    event_type: Literal["TextReplyReceived"] = "TextReplyReceived"
    data: TextReply


class PairEnding(Payload):
    """A pair that was going ahead has ended. Both people can be paired again, and the pair is never
    proposed again. Why it ended is never here: the reason, and any words the person added, stay
    sealed in the registry for the programme team."""

    round_id: str
    leader_id: LeaderId = Field(
        description="Who asked to end it; when the programme team ended it, the lived experience leader of the pair. " + PERSON
    )
    partner_id: LeaderId = Field(description="The other person in the pair: told kindly that it is not their fault. " + PERSON)
    ended_by: Literal["leader", "programme_team"] = Field(
        description="The leader asked (by their link, or through the programme team), or the programme team ended it; "
        "then both people are told as partners, and neither is told the other asked"
    )
    via: Literal["link", "phone", "letter", "text", "in_person", "email", "programme_team"] = Field(
        default="link",
        description="How the request came: the leader's link, told to the programme team, or the team's own decision",
    )
    recorded_by: str | None = Field(default=None, description="The staff member who recorded it, when not from a link")


class PairEnded(Envelope):
    """Added within v1, keyed by round id like the answers, so it follows them in order."""

    event_type: Literal["PairEnded"] = "PairEnded"
    data: PairEnding


class FollowUpAnswer(Payload):
    """An answer to "Did you meet?" (question "met") or to a check-in (question "check_in"), coded.
    Any words the person added stay sealed in the registry for the programme team: never here."""

    round_id: str
    leader_id: LeaderId = Field(description="Who answered")
    partner_id: LeaderId = Field(description="The partner the question was about")
    question: Literal["met", "check_in"]
    number: int = Field(default=0, ge=0, description="Which check-in (1, 2, ...); 0 for the question about meeting")
    answer: Literal["met", "not_yet", "going_well", "some_problems", "need_help"] = Field(
        description="met or not_yet (to met); going_well or some_problems (to check_in); need_help (to either)"
    )
    reference: str | None = Field(default=None, description="The pair's short reference, for a task for the team")
    given_by: Literal["leader", "named_person", "programme_team"] = "leader"
    via: Literal["link", "phone", "letter", "text", "in_person", "email"] = "link"
    recorded_by: str | None = Field(default=None, description="The staff member who recorded an answer given to them")
    has_words: bool = Field(default=False, description="The person added words for the programme team (kept sealed)")
    meeting_on: dt.date | None = Field(
        default=None,
        description='With "not yet": the date they now plan to meet, when they gave one; they are asked again after it',
    )


class FollowUpAnswered(Envelope):
    """Added within v1 (issue 18), keyed by round id like the answers."""

    event_type: Literal["FollowUpAnswered"] = "FollowUpAnswered"
    data: FollowUpAnswer


# The answers the registry records; the topic also carries the notifier's text replies for the registry.
AnswerEvent = Annotated[PairAccepted | PairDeclined | PairEnded | FollowUpAnswered, Field(discriminator="event_type")]
ResponseEvent = Annotated[
    PairAccepted | PairDeclined | PairEnded | TextReplyReceived | FollowUpAnswered, Field(discriminator="event_type")
]


# ---- deliveries.v1 (keyed by leader id) ----

DeliveryStatus = Literal["sent", "delivered", "failed", "scheduled", "needs_a_person"]


class Delivery(Payload):
    round_id: str
    leader_id: LeaderId = Field(description=PERSON)
    outcome_event_id: uuid.UUID
    channel: str
    status: DeliveryStatus
    detail: str = ""
    # Added later within v1: which message this report is about. For "partner_declined",
    # outcome_event_id holds the PairDeclined event's id. For "reminder" (the one reminder to someone
    # who has not answered about a partner) and "no_answer" (the task for the programme team when the
    # answer date has passed), it holds an id of that reminder or task's own, the same on every report about it;
    # for "pair_ended" and "pair_ended_confirmed", an id made from the PairEnded event's id and the person's;
    # for "round_feedback", an id made from the RoundFeedbackShared event's id and the person's.
    about: str = Field(
        default="outcome",
        description="outcome, partner_declined, text_reply, reminder (someone who has not answered is reminded, "
        "before their answer date), no_answer (the answer date passed: a task for the programme team to contact "
        "them; nobody is declined automatically), pair_ended (someone in a pair that ended is told kindly it is not "
        "their fault), pair_ended_confirmed (the person who asked to end it is told it is done), round_feedback "
        "(everyone in a closed round is told what difference the pairs made), met_question (after the first "
        "meeting: did you meet?), check_in (how is it going?), not_yet (a task: they said they have not met, "
        "and still have not said yes) or need_help (a task: they said they need help)",
    )
    # Added later within v1, for a task for a person (status needs_a_person): what kind of task and
    # the day it must be done by. For "text_reply", outcome_event_id holds GOV.UK Notify's id for the text.
    task: str | None = Field(
        default=None,
        description="braille, audio, phone, interpreter, support, contact, text_reply, no_answer, not_yet or need_help",
    )
    due_by: dt.date | None = Field(default=None, description="The day the task must be done by")


class NotificationStatusChanged(Envelope):
    event_type: Literal["NotificationStatusChanged"] = "NotificationStatusChanged"
    data: Delivery


EVENT_TYPES: dict[str, type[Envelope]] = {
    cls.model_fields["event_type"].default: cls
    for cls in (
        LeaderProfileChanged,
        LeaderContactChanged,
        LeaderKeyShared,
        RoundRequested,
        RoundPublished,
        RoundCancelled,
        RoundStatusChanged,
        RoundFeedbackShared,
        RoundSolved,
        RoundSolveFailed,
        OutcomePublished,
        PairAccepted,
        PairDeclined,
        PairEnded,
        TextReplyReceived,
        FollowUpAnswered,
        NotificationStatusChanged,
    )
}

# A union read through an adapter takes the adapter's config, not its members' (Envelope's cache_strings).
round_events: TypeAdapter[RoundEvent] = TypeAdapter(RoundEvent, config=ConfigDict(cache_strings="keys"))
match_events: TypeAdapter[MatchEvent] = TypeAdapter(MatchEvent, config=ConfigDict(cache_strings="keys"))
