"""follow-up answers ("Did you meet?" and check-ins, with sealed words) and each programme's check-in plan

Revision ID: a1200000000d
Revises: a1200000000f
Create Date: 2027-01-27 09:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "a1200000000d"
down_revision: str | Sequence[str] | None = "a1200000000f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "follow_up_answers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("round_id", sa.String(length=100), nullable=False),
        sa.Column("leader_id", sa.String(length=100), nullable=False),
        sa.Column("partner_id", sa.String(length=100), nullable=False),
        sa.Column("question", sa.String(length=10), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("answer", sa.String(length=20), nullable=False),
        sa.Column("meeting_on", sa.Date(), nullable=True),
        sa.Column("sealed_words", sa.LargeBinary(), nullable=True),
        sa.Column("given_by", sa.String(length=20), nullable=False),
        sa.Column("via", sa.String(length=20), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("follow_up_answers") as batch:
        batch.create_index("ix_follow_up_answers_round_id", ["round_id"], unique=False)
    with op.batch_alter_table("programmes") as batch:
        batch.add_column(sa.Column("check_in_first_days", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("check_in_every_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("programmes") as batch:
        batch.drop_column("check_in_every_days")
        batch.drop_column("check_in_first_days")
    with op.batch_alter_table("follow_up_answers") as batch:
        batch.drop_index("ix_follow_up_answers_round_id")
    op.drop_table("follow_up_answers")
