"""account management: second factor, password resets, idle sessions

Revision ID: a12000000006
Revises: a12000000005
Create Date: 2026-12-05 23:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "a12000000006"
down_revision: str | Sequence[str] | None = "a12000000005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("managers", schema=None) as batch_op:
        # The second factor's secret is encrypted like every other sealed column.
        batch_op.add_column(sa.Column("sealed_second_factor", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("second_factor_step", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("settings_password_hash", sa.String(length=255), nullable=True))
    with op.batch_alter_table("manager_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("stage", sa.String(length=20), nullable=False, server_default="signed_in"))
    # Single-use links to choose a new password: only each link's SHA-256 digest is kept.
    op.create_table(
        "password_resets",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("manager_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["manager_id"], ["managers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("digest"),
    )
    with op.batch_alter_table("password_resets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_password_resets_manager_id"), ["manager_id"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("password_resets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_password_resets_manager_id"))
    op.drop_table("password_resets")
    with op.batch_alter_table("manager_sessions", schema=None) as batch_op:
        batch_op.drop_column("stage")
        batch_op.drop_column("last_used_at")
    with op.batch_alter_table("managers", schema=None) as batch_op:
        batch_op.drop_column("settings_password_hash")
        batch_op.drop_column("second_factor_step")
        batch_op.drop_column("sealed_second_factor")
