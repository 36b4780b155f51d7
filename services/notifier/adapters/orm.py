"""The notifier's own tables: contact projection (encrypted), delivery log, outbox, inbox."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, DateTime, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.store import InboxMixin, OutboxMixin, utc_now


class Base(DeclarativeBase):
    pass


class Outbox(OutboxMixin, Base):
    pass


class Inbox(InboxMixin, Base):
    pass


class ContactRow(Base):
    __tablename__ = "contacts"

    leader_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class PersonKeyRow(Base):
    """A leader's data key from `leaders.keys.v1`, which opens their sealed contact records;
    encrypted with the notifier's own key, and deleted when the key's tombstone arrives."""

    __tablename__ = "person_keys"

    leader_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    sealed_key: Mapped[bytes] = mapped_column(LargeBinary)


class WaitingContactRow(Base):
    """A sealed contact record that came before its key (the two topics are read apart): it is
    opened when the key arrives. The newest only; encrypted with the notifier's own key too."""

    __tablename__ = "contacts_waiting"

    leader_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    sealed_record: Mapped[bytes] = mapped_column(LargeBinary)


class DeliveryRow(Base):
    """One row per (outcome event, person, channel): the idempotency key of a message."""

    __tablename__ = "deliveries"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    round_id: Mapped[str] = mapped_column(String(100), index=True)
    leader_id: Mapped[str] = mapped_column(String(100), index=True)
    channel: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(30), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now, onupdate=utc_now)
    # Sent through GOV.UK Notify: its id for the message, so we can ask later whether it arrived (receipts.py).
    notify_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    about: Mapped[str | None] = mapped_column(String(30), nullable=True)  # "outcome" or "partner_declined", for that report
    # When to ask Notify next (None: not asking, or no longer), and the last time we will ask.
    receipt_check_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    receipt_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ScheduledRow(Base):
    """A message that will be tried again later, kept here so a restart does not lose it.

    Why it waits (`reason`): the person's quiet hours, contact details still on
    their way, or a failed send waiting for its next try. The event that caused
    it is kept sealed (it holds answer links) and the message is written afresh
    from it when it is due, with the contact details known then.
    """

    __tablename__ = "scheduled_messages"
    # A batch of outcomes asks which of its people have an outcome's message waiting here (schedule.outcomes_waiting):
    # without this, each ask read every row, every reminder and question too, so it grew with the schedule.
    __table_args__ = (Index("ix_scheduled_messages_event_type_reason", "event_type", "reason"),)

    key: Mapped[str] = mapped_column(String(300), primary_key=True)  # "{event id}:{leader id}"
    event_type: Mapped[str] = mapped_column(String(60))
    sealed_event: Mapped[bytes] = mapped_column(LargeBinary)
    reason: Mapped[str] = mapped_column(String(30))
    due_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    # Waiting for contact details: after this a person is asked to pass the message on.
    give_up_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Set while one scheduler sends it (due_at is then the end of the lease), so two instances never both send.
    lease: Mapped[str | None] = mapped_column(String(36), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)

    @staticmethod
    def about(leader_id: str) -> ColumnElement[bool]:
        """The rows for this person, whose keys end in ":{leader id}". The id is matched as it is: a "_"
        or "%" in it is not a wildcard of the LIKE this becomes."""
        return ScheduledRow.key.endswith(f":{leader_id}", autoescape=True)


class ErasedRow(Base):
    """Someone erased from the registry: only a digest of their id, so an outcome or an answer that
    names them and arrives after the erasure is never sent, and no copy of their id is kept."""

    __tablename__ = "erased_people"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    erased_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class TextQuestionRow(Base):
    """A question asked by text message: a paired outcome with one partner, texted to the person
    themselves, so a reply of YES or NO can only mean this pair (inbound.py). Open until answered
    (by any route), replied to, or the round is cancelled."""

    __tablename__ = "text_questions"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)  # "{outcome event id}:{leader id}"
    round_id: Mapped[str] = mapped_column(String(100))
    leader_id: Mapped[str] = mapped_column(String(100), index=True)
    partner_id: Mapped[str] = mapped_column(String(100))
    asked_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    # Issue 18: "pair" (yes or no to a partner), "met" ("Did you meet?") or "check_in", with its number.
    kind: Mapped[str] = mapped_column(String(10), default="pair", server_default="pair")
    number: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ReceivedTextRow(Base):
    """A text GOV.UK Notify received, by its id: each is handled once (never its number or words)."""

    __tablename__ = "received_texts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    handled_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
