"""Person keys: each leader's data key for their sealed contact records, and contact records waiting for one

Revision ID: e14a00000001
Revises: d12a00000001
Create Date: 2027-01-14 09:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e14a00000001"
down_revision: str | Sequence[str] | None = "d12a00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "person_keys",
        sa.Column("leader_id", sa.String(length=100), nullable=False),
        sa.Column("sealed_key", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("leader_id"),
    )
    op.create_table(
        "contacts_waiting",
        sa.Column("leader_id", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sealed_record", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("leader_id"),
    )


def downgrade() -> None:
    op.drop_table("contacts_waiting")
    op.drop_table("person_keys")
