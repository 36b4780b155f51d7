"""short answer codes and answers on behalf

Revision ID: a12000000002
Revises: a12000000001
Create Date: 2026-12-05 23:10:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "a12000000002"
down_revision: str | Sequence[str] | None = "a12000000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "answer_codes",
        sa.Column("code_digest", sa.String(length=64), nullable=False),
        sa.Column("round_id", sa.String(length=100), nullable=False),
        sa.Column("leader_id", sa.String(length=100), nullable=False),
        sa.Column("partner_id", sa.String(length=100), nullable=False),
        sa.Column("answer", sa.String(length=10), nullable=False),
        sa.Column("reference", sa.String(length=10), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code_digest"),
        sa.UniqueConstraint("round_id", "reference", "answer", name="uq_answer_codes_round_reference"),
    )
    with op.batch_alter_table("answer_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_answer_codes_leader_id"), ["leader_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_answer_codes_partner_id"), ["partner_id"], unique=False)

    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("given_by", sa.String(length=20), server_default="leader", nullable=False))
        batch_op.add_column(sa.Column("via", sa.String(length=20), server_default="link", nullable=False))
        batch_op.add_column(sa.Column("checked_with_leader", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("recorded_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("received_on", sa.Date(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.drop_column("received_on")
        batch_op.drop_column("recorded_by")
        batch_op.drop_column("checked_with_leader")
        batch_op.drop_column("via")
        batch_op.drop_column("given_by")

    with op.batch_alter_table("answer_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_answer_codes_partner_id"))
        batch_op.drop_index(batch_op.f("ix_answer_codes_leader_id"))

    op.drop_table("answer_codes")
