"""round names and reviews: a round's name given at launch, and each pair's suggested first meeting

Revision ID: a12000000008
Revises: a12000000007
Create Date: 2027-01-15 09:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "a12000000008"
down_revision: str | Sequence[str] | None = "a12000000007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("rounds") as batch:
        batch.add_column(sa.Column("name", sa.String(length=200), nullable=True))
    with op.batch_alter_table("pairs") as batch:
        batch.add_column(sa.Column("first_meeting", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("pairs") as batch:
        batch.drop_column("first_meeting")
    with op.batch_alter_table("rounds") as batch:
        batch.drop_column("name")
