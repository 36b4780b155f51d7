"""Questions asked by text after pairing: "Did you meet?" and check-ins, beside the yes-or-no to a partner

Revision ID: e18a00000001
Revises: e14a00000001
Create Date: 2027-01-27 09:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e18a00000001"
down_revision: str | Sequence[str] | None = "e14a00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("text_questions") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=10), nullable=False, server_default="pair"))
        batch.add_column(sa.Column("number", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("text_questions") as batch:
        batch.drop_column("number")
        batch.drop_column("kind")
