"""person keys: each leader's data key, which seals their contact records in events

Revision ID: a12000000007
Revises: a12000000006
Create Date: 2027-01-14 09:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "a12000000007"
down_revision: str | Sequence[str] | None = "a12000000006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "person_keys",
        sa.Column("leader_id", sa.String(length=100), nullable=False),
        sa.Column("sealed_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("leader_id"),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("person_keys")
