"""Questions asked by text message, and the texts received from GOV.UK Notify already handled

Revision ID: d12a00000001
Revises: c14e0a5e0001
Create Date: 2027-01-12 10:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d12a00000001"
down_revision: str | Sequence[str] | None = "c14e0a5e0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "text_questions",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("round_id", sa.String(length=100), nullable=False),
        sa.Column("leader_id", sa.String(length=100), nullable=False),
        sa.Column("partner_id", sa.String(length=100), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("text_questions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_text_questions_leader_id"), ["leader_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_text_questions_closed_at"), ["closed_at"], unique=False)
    op.create_table(
        "received_texts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("received_texts")
    with op.batch_alter_table("text_questions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_text_questions_closed_at"))
        batch_op.drop_index(batch_op.f("ix_text_questions_leader_id"))
    op.drop_table("text_questions")
