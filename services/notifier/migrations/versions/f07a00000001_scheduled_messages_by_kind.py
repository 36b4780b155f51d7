"""Scheduled messages indexed by what they are and why they wait

A batch of outcomes asks which of its people have an outcome's message still waiting (quiet hours,
details on their way, a retry). Without an index each ask read the whole schedule, every reminder
and question too, so a round's sending slowed as its own follow-ups went on the schedule.

Revision ID: f07a00000001
Revises: e18a00000001
Create Date: 2026-12-07 05:30:00

"""

from collections.abc import Sequence

from alembic import op

revision: str = "f07a00000001"
down_revision: str | Sequence[str] | None = "e18a00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_scheduled_messages_event_type_reason", "scheduled_messages", ["event_type", "reason"])


def downgrade() -> None:
    op.drop_index("ix_scheduled_messages_event_type_reason", table_name="scheduled_messages")
