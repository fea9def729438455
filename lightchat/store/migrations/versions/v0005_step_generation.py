"""Steps keep the LLM call they made (their generation).

Revision ID: 0005
Revises: 0004
Created: 2027-01-08

- ``lightchat_steps.generation`` (JSON, JSONB on PostgreSQL; nullable: no existing step has
  one): the prompt, settings, answer and token counts of an ``llm`` step, in Literal AI's
  shape, as Chainlit's steps keep it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    json_type = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    op.add_column("lightchat_steps", sa.Column("generation", json_type, nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN, on SQLite too (3.35 and later), as in 0004: a batch would copy
    # the table and drop the old one, which cascades to the steps' feedback.
    op.drop_column("lightchat_steps", "generation")
