"""The registry's tables. Special-category data and contact details live only
in the encrypted `sealed` column."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.store import InboxMixin, OutboxMixin, utc_now


def new_event_ref() -> str:
    """A leader's event reference: random and meaningless (services/registry/event_refs.py)."""
    return "p-" + secrets.token_hex(10)


class Base(DeclarativeBase):
    pass


class Outbox(OutboxMixin, Base):
    pass


class Inbox(InboxMixin, Base):
    pass


class LeaderRow(Base):
    __tablename__ = "leaders"
    __table_args__ = (UniqueConstraint("event_ref", name="uq_leaders_event_ref"),)

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    role: Mapped[str] = mapped_column(String(30), index=True)
    system: Mapped[str] = mapped_column(String(20), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    version: Mapped[int] = mapped_column(Integer)
    # Non-sensitive attributes (topics, windows, modes), for listing and filtering.
    public: Mapped[dict] = mapped_column(JSON)
    # Name, contact details, communication and access needs: encrypted.
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # A keyed digest of the sealed part (Cipher.digest), so an import tells an unchanged one without
    # decrypting it. None: not known (stored before it was kept, or its contact details removed).
    digest_of_sealed: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The random, meaningless name events give this person instead of `id` (which a manager may
    # have typed, and may name them): services/registry/event_refs.py. Erasure deletes it with the row.
    event_ref: Mapped[str] = mapped_column(String(40), default=lambda: new_event_ref())
    # True for people registered before events carried references: their earliest records on the
    # compacted topics are keyed by `id`, so erasing them puts tombstones on those keys too.
    keyed_by_id: Mapped[bool] = mapped_column(Boolean, default=False)
    # False until their profile, key and contact record have been shared under the reference
    # (done once at start-up for people registered before: handlers/leaders.py share_under_references).
    shared_by_ref: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now, onupdate=utc_now)


class PersonKeyRow(Base):
    """The key store: each leader's data key, which seals their contact records in events.
    Encrypted with the registry's own key; erasing the leader deletes it (crypto-shredding)."""

    __tablename__ = "person_keys"

    leader_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    sealed_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class RoundRow(Base):
    __tablename__ = "rounds"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    # What managers call the round ("Tyneside 2027 cohort, January 2027"); the id stays in small print.
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    spec: Mapped[dict] = mapped_column(JSON)
    leader_ids: Mapped[list] = mapped_column(JSON)
    cohort_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # A follow-up round pairs again the people whose partner said no in this earlier round.
    parent_round_id: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    # The request the current solve answers: results of an earlier request are stale.
    request_event_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # Pairs the manager locked in or ruled out while reviewing; kept for every re-solve.
    locked_pairs: Mapped[list] = mapped_column(JSON, default=list)
    forbidden_pairs: Mapped[list] = mapped_column(JSON, default=list)
    stats: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    # When the round cannot be solved as set up: the smallest changes that would allow it, in plain English.
    relaxations: Mapped[list | None] = mapped_column(JSON, nullable=True)
    # Told to the manager at launch, in plain English: required sessions on a bank holiday or while closed.
    warnings: Mapped[list | None] = mapped_column(JSON, nullable=True)
    # The matcher's latest report while solving (stage, best found, bound, gap, time taken).
    progress: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    failure: Mapped[str | None] = mapped_column(Text, nullable=True)
    approved_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now, onupdate=utc_now)


class PairRow(Base):
    __tablename__ = "pairs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    round_id: Mapped[str] = mapped_column(ForeignKey("rounds.id"), index=True)
    lived_experience_id: Mapped[str] = mapped_column(String(100))
    professional_id: Mapped[str] = mapped_column(String(100))
    score: Mapped[float] = mapped_column(Float)
    meeting_modes: Mapped[list] = mapped_column(JSON)
    shared_windows: Mapped[list] = mapped_column(JSON)
    reasons: Mapped[list] = mapped_column(JSON)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    # The suggested first meeting planned when the round was published: {"date", "start", "end"}.
    first_meeting: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    # The person who approved this pair, and when (a round is approved once every pair is).
    approved_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    approved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class UnmatchedRow(Base):
    __tablename__ = "unmatched"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    round_id: Mapped[str] = mapped_column(ForeignKey("rounds.id"), index=True)
    leader_id: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    rule: Mapped[str] = mapped_column(String(50))
    # The change that would let them be paired, when the matcher found one (for the programme team only).
    suggestion: Mapped[str | None] = mapped_column(Text, nullable=True)


class EndedPairRow(Base):
    """A pair that was going ahead and has ended: asked for by one of the two (by link or through the
    team) or decided by the programme team. Never proposed again; both people can be paired again.
    The words a person may add can mention health: sealed like a reason for saying no."""

    __tablename__ = "ended_pairs"
    __table_args__ = (UniqueConstraint("round_id", "lived_experience_id", "professional_id", name="uq_ended_pairs_round_pair"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    round_id: Mapped[str] = mapped_column(String(100), index=True)
    lived_experience_id: Mapped[str] = mapped_column(String(100))
    professional_id: Mapped[str] = mapped_column(String(100))
    # The person who asked to end it; None when the programme team ended it.
    asked_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    reason: Mapped[str] = mapped_column(String(30))  # not_working, circumstances_changed or other
    sealed_words: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    via: Mapped[str] = mapped_column(String(20))
    recorded_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    ended_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class FollowUpAnswerRow(Base):
    """An answer to "Did you meet?" (question "met", number 0) or to a check-in (question "check_in",
    number 1, 2, ...): by link or through the team. Every answer is kept; the latest counts. The words
    a person may add can mention health: sealed like a reason for saying no."""

    __tablename__ = "follow_up_answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    round_id: Mapped[str] = mapped_column(String(100), index=True)
    leader_id: Mapped[str] = mapped_column(String(100))
    partner_id: Mapped[str] = mapped_column(String(100))
    question: Mapped[str] = mapped_column(String(10))
    number: Mapped[int] = mapped_column(Integer)
    answer: Mapped[str] = mapped_column(String(20))
    meeting_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)  # with not_yet: the date they set
    sealed_words: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    given_by: Mapped[str] = mapped_column(String(20))
    via: Mapped[str] = mapped_column(String(20))
    recorded_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    answered_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class DeliveryRow(Base):
    """What the notifier reported about each person's message (read model)."""

    __tablename__ = "deliveries"

    round_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    leader_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    channel: Mapped[str] = mapped_column(String(30), primary_key=True)
    status: Mapped[str] = mapped_column(String(30))
    detail: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now, onupdate=utc_now)


class ResponseRow(Base):
    """A leader's answer to one proposed partner. The token's nonce makes each link single-use."""

    __tablename__ = "responses"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    round_id: Mapped[str] = mapped_column(String(100), index=True)
    leader_id: Mapped[str] = mapped_column(String(100), index=True)
    partner_id: Mapped[str] = mapped_column(String(100))
    answer: Mapped[str] = mapped_column(String(10))
    # A reason for declining is free text that may mention health: encrypted.
    sealed_reason: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    answered_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    # Who gave the answer (the leader, the person they named, the programme team), how it came
    # (link, phone, letter, text, in person, email), and, from a named person, whether they said they
    # checked with the leader. recorded_by and received_on only for answers a manager recorded.
    given_by: Mapped[str] = mapped_column(String(20), default="leader", server_default="leader")
    via: Mapped[str] = mapped_column(String(20), default="link", server_default="link")
    checked_with_leader: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    recorded_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    received_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)


class AnswerCodeRow(Base):
    """One short answer link: a person, one proposed partner and one answer (yes or no).
    Only a SHA-256 digest of the code is kept. The reference is not secret: people quote it
    on the phone or a reply slip, and both of a question's codes share it."""

    __tablename__ = "answer_codes"
    __table_args__ = (UniqueConstraint("round_id", "reference", "answer", name="uq_answer_codes_round_reference"),)

    code_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    round_id: Mapped[str] = mapped_column(String(100))
    leader_id: Mapped[str] = mapped_column(String(100), index=True)
    partner_id: Mapped[str] = mapped_column(String(100), index=True)
    answer: Mapped[str] = mapped_column(String(10))
    reference: Mapped[str] = mapped_column(String(10))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class AuditRow(Base):
    """Every read of special-category data, and every erasure: who, what, when, why."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(50))
    # None for a change that is about no one person (a programme's contact details).
    leader_id: Mapped[str | None] = mapped_column(String(100), index=True, nullable=True)
    purpose: Mapped[str] = mapped_column(String(500))


class ProgrammeRow(Base):
    __tablename__ = "programmes"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # How people reach the team without the internet (every message gives it): the team's work
    # contact details, not a leader's, so not sealed.
    team: Mapped[str | None] = mapped_column(String(200), nullable=True)
    contact_person: Mapped[str | None] = mapped_column(String(200), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    postal_address: Mapped[str | None] = mapped_column(Text, nullable=True)
    # When no date is proposed: 12-24..01-01 (every year) or 2027-04-01..2027-04-05 (once);
    # None (a programme from before these were kept) means the registry's default.
    closure_periods: Mapped[list | None] = mapped_column(JSON, nullable=True)
    next_round_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    # When people in a pair are asked how it is going (days after publishing, then between); None: the default.
    check_in_first_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    check_in_every_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class CohortRow(Base):
    """A group of leaders in a programme who are paired together in rounds."""

    __tablename__ = "cohorts"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    programme_id: Mapped[str] = mapped_column(ForeignKey("programmes.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class CohortMemberRow(Base):
    __tablename__ = "cohort_members"

    cohort_id: Mapped[str] = mapped_column(ForeignKey("cohorts.id"), primary_key=True)
    leader_id: Mapped[str] = mapped_column(String(100), primary_key=True)


class ManagerRow(Base):
    """A person who signs in to the web pages: an admin, a manager or a viewer.
    Only an Argon2 hash of the password is kept."""

    __tablename__ = "managers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    # The second factor's secret (time-based one-time codes), encrypted; the last time step a code was used for.
    sealed_second_factor: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    second_factor_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # For the first admin from settings: an Argon2 hash of the settings password last applied.
    settings_password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)


class PasswordResetRow(Base):
    """A single-use link an admin made so someone can choose a new password. Only its SHA-256 digest is kept."""

    __tablename__ = "password_resets"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    manager_id: Mapped[int] = mapped_column(ForeignKey("managers.id", ondelete="CASCADE"), index=True)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ManagerSessionRow(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 digest is stored here."""

    __tablename__ = "manager_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    manager_id: Mapped[int] = mapped_column(ForeignKey("managers.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    # Ends the session after a while unused (REGISTRY_SESSION_IDLE_MINUTES).
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # "signed_in", or half-way: "needs_code" / "needs_set_up" while the second factor is asked for.
    stage: Mapped[str] = mapped_column(String(20), default="signed_in")


class ApiTokenRow(Base):
    """A token a program signs in with (`Authorization: Bearer ...`), scoped to a role.
    Only the SHA-256 digest of the token is kept; the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    digest: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    role: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class TaskRow(Base):
    """A task for a person the notifier reported (braille, a phone call, a reply to a text to read ...),
    or an answer by text the registry could not record: the managers' work queue (web/tasks.py)."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # "{event id}:{leader id}:{about}": the same report twice makes one task.
    key: Mapped[str] = mapped_column(String(300), unique=True)
    round_id: Mapped[str] = mapped_column(String(100))
    leader_id: Mapped[str] = mapped_column(String(100), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    due_by: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    done_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    done_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
