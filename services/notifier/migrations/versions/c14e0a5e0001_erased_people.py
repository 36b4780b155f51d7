"""Erased people: a digest of each erased id, so nothing is sent about them later

Revision ID: c14e0a5e0001
Revises: beebfdcef38a
Create Date: 2027-01-10 09:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c14e0a5e0001"
down_revision: str | Sequence[str] | None = "beebfdcef38a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "erased_people",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest"),
    )


def downgrade() -> None:
    op.drop_table("erased_people")
