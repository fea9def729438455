"""Users' MCP servers, remembered for their next chats.

Revision ID: 0006
Revises: 0005
Created: 2027-01-20

- ``lightchat_mcp_servers``: one row per server a user added in a chat's "MCP servers"
  dialog, by owner (a signed-in user's key, or a browser's, as threads are owned) and
  name, unique together. ``kind`` is ``stdio``, ``sse`` or ``streamable-http``;
  ``sealed`` holds the command or the URL and its headers, encrypted with the app's
  secret (never in clear: a header may carry a token).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lightchat_mcp_servers",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_lightchat_mcp_servers"),
        sa.UniqueConstraint("owner", "name", name="uq_lightchat_mcp_servers_owner_name"),
    )


def downgrade() -> None:
    op.drop_table("lightchat_mcp_servers")
