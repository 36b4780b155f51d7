"""short answer codes and answers on behalf

Revision ID: a12000000002
Revises: a12000000001
Create Date: 2026-12-05 23:10:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'a12000000002'
down_revision: Union[str, Sequence[str], None] = 'a12000000001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    pass


def downgrade() -> None:
    """Downgrade schema."""
    pass
