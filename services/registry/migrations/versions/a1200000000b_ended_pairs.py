"""ended pairs: a pair either person or the programme team ended, with a coded reason and sealed words

Revision ID: a1200000000b
Revises: a1200000000a
Create Date: 2027-01-20 09:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "a1200000000b"
down_revision: str | Sequence[str] | None = "a1200000000a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "ended_pairs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("round_id", sa.String(length=100), nullable=False),
        sa.Column("lived_experience_id", sa.String(length=100), nullable=False),
        sa.Column("professional_id", sa.String(length=100), nullable=False),
        sa.Column("asked_by", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.String(length=30), nullable=False),
        sa.Column("sealed_words", sa.LargeBinary(), nullable=True),
        sa.Column("via", sa.String(length=20), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("round_id", "lived_experience_id", "professional_id", name="uq_ended_pairs_round_pair"),
    )
    with op.batch_alter_table("ended_pairs") as batch:
        batch.create_index("ix_ended_pairs_round_id", ["round_id"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("ended_pairs") as batch:
        batch.drop_index("ix_ended_pairs_round_id")
    op.drop_table("ended_pairs")
