"""Steps remember whether (and how) to show their input; feedback filter index.

Revision ID: 0002
Revises: 0001
Created: 2026-11-24

- ``lightchat_steps.show_input`` (nullable: existing steps keep hiding their input).
- The "threads with feedback" filter looks feedback up by thread and value: the index on
  ``thread_id`` alone becomes one on ``(thread_id, value)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("lightchat_steps", sa.Column("show_input", sa.String(), nullable=True))
    op.create_index(
        "ix_lightchat_feedback_thread_value", "lightchat_feedback", ["thread_id", "value"]
    )
    op.drop_index("ix_lightchat_feedback_thread_id", table_name="lightchat_feedback")


def downgrade() -> None:
    op.create_index("ix_lightchat_feedback_thread_id", "lightchat_feedback", ["thread_id"])
    op.drop_index("ix_lightchat_feedback_thread_value", table_name="lightchat_feedback")
    with op.batch_alter_table("lightchat_steps") as batch:
        batch.drop_column("show_input")
