"""pairs approved one by one: who approved each proposed pair, and when

Revision ID: a1200000000a
Revises: a12000000008
Create Date: 2027-01-20 09:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "a1200000000a"
down_revision: str | Sequence[str] | None = "a12000000008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("pairs") as batch:
        batch.add_column(sa.Column("approved_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True))
    # Rounds approved before pairs were approved one by one: every pair was checked by the round's approver.
    op.execute(
        "UPDATE pairs SET approved_by = (SELECT rounds.approved_by FROM rounds WHERE rounds.id = pairs.round_id) "
        "WHERE round_id IN (SELECT id FROM rounds WHERE approved_by IS NOT NULL)"
    )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("pairs") as batch:
        batch.drop_column("approved_at")
        batch.drop_column("approved_by")
