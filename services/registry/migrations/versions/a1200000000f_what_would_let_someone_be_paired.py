"""what would let someone be paired: the matcher's suggestion for each person not paired

Revision ID: a1200000000f
Revises: a1200000000c
Create Date: 2027-01-27 09:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "a1200000000f"
down_revision: str | Sequence[str] | None = "a1200000000c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("unmatched") as batch:
        batch.add_column(sa.Column("suggestion", sa.Text(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("unmatched") as batch:
        batch.drop_column("suggestion")
