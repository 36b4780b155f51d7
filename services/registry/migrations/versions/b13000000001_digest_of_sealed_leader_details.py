"""digest of sealed leader details: a keyed digest beside each leader's sealed part

Revision ID: b13000000001
Revises: a1200000000d
Create Date: 2026-12-06 17:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "b13000000001"
down_revision: str | Sequence[str] | None = "a1200000000d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    # Empty for leaders stored before: their next change decrypts the sealed part once and fills it.
    with op.batch_alter_table("leaders") as batch:
        batch.add_column(sa.Column("digest_of_sealed", sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("leaders") as batch:
        batch.drop_column("digest_of_sealed")
