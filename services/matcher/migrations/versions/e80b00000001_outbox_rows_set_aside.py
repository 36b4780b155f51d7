"""Outbox rows set aside, indexed on their own

Every few seconds the service counts, for its metrics, the events the broker refused (set aside by
the relay: the only sent rows that keep a body). Without an index of their own the count read every
row ever sent, so it took longer, and held more of the database in memory, with every round.

Revision ID: e80b00000001
Revises: e80be9b51698
Create Date: 2026-12-07 08:20:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e80b00000001"
down_revision: str | Sequence[str] | None = "e80be9b51698"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SET_ASIDE_ROWS = sa.text("published_at IS NOT NULL AND value IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_outbox_set_aside", "outbox", ["published_at"], sqlite_where=SET_ASIDE_ROWS, postgresql_where=SET_ASIDE_ROWS
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_set_aside", table_name="outbox")
