"""event references: a random, meaningless reference for each leader, used in events instead of their id

Revision ID: a1200000000c
Revises: a1200000000b
Create Date: 2027-01-27 09:00:00

"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "a1200000000c"
down_revision: str | Sequence[str] | None = "a1200000000b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("leaders") as batch:
        batch.add_column(sa.Column("event_ref", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("keyed_by_id", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("shared_by_ref", sa.Boolean(), nullable=True))
    # Everyone already registered gets a reference (the same shape as services/registry/event_refs.py
    # makes); their earlier records on the compacted topics are keyed by their id, and the registry shares
    # their profile, key and contact record again under the reference when it starts.
    leaders = sa.table(
        "leaders",
        sa.column("id", sa.String),
        sa.column("event_ref", sa.String),
        sa.column("keyed_by_id", sa.Boolean),
        sa.column("shared_by_ref", sa.Boolean),
    )
    connection = op.get_bind()
    for (leader_id,) in connection.execute(sa.select(leaders.c.id)).all():
        connection.execute(
            leaders.update()
            .where(leaders.c.id == leader_id)
            .values(event_ref="p-" + secrets.token_hex(10), keyed_by_id=True, shared_by_ref=False)
        )
    with op.batch_alter_table("leaders") as batch:
        batch.alter_column("event_ref", existing_type=sa.String(length=40), nullable=False)
        batch.alter_column("keyed_by_id", existing_type=sa.Boolean(), nullable=False)
        batch.alter_column("shared_by_ref", existing_type=sa.Boolean(), nullable=False)
        batch.create_unique_constraint("uq_leaders_event_ref", ["event_ref"])


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("leaders") as batch:
        batch.drop_constraint("uq_leaders_event_ref", type_="unique")
        batch.drop_column("shared_by_ref")
        batch.drop_column("keyed_by_id")
        batch.drop_column("event_ref")
