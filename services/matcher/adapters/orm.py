"""The matcher's own tables: a projection of matching profiles, and its outbox and inbox."""

from __future__ import annotations

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.store import InboxMixin, OutboxMixin


class Base(DeclarativeBase):
    pass


class Outbox(OutboxMixin, Base):
    pass


class Inbox(InboxMixin, Base):
    pass


class ProfileRow(Base):
    __tablename__ = "profiles"

    leader_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    # Access needs are special-category data, even coded: the profile is encrypted.
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
