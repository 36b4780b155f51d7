"""programme contact details and closures

Revision ID: a12000000001
Revises: 7b6d168b459c
Create Date: 2026-12-05 23:10:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "a12000000001"
down_revision: str | Sequence[str] | None = "7b6d168b459c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    # How people reach each programme's team without the internet, and when it is closed.
    with op.batch_alter_table("programmes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("team", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("contact_person", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("phone", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("email", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("postal_address", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("closure_periods", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("next_round_on", sa.Date(), nullable=True))
    # What the manager was warned of at launch: required sessions on a bank holiday or while closed.
    with op.batch_alter_table("rounds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("warnings", sa.JSON(), nullable=True))
    # A change to a programme's details is audited too, and is about no one leader.
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.alter_column("leader_id", existing_type=sa.String(length=100), nullable=True)


def downgrade() -> None:
    """Downgrade schema."""
    op.execute("DELETE FROM audit_log WHERE leader_id IS NULL")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.alter_column("leader_id", existing_type=sa.String(length=100), nullable=False)
    with op.batch_alter_table("rounds", schema=None) as batch_op:
        batch_op.drop_column("warnings")
    with op.batch_alter_table("programmes", schema=None) as batch_op:
        for column in ("next_round_on", "closure_periods", "postal_address", "email", "phone", "contact_person", "team"):
            batch_op.drop_column(column)
