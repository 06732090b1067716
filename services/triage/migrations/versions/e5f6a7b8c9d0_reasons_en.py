"""matters keep their reasons in English words too (line for line with reasons)

Revision ID: e5f6a7b8c9d0
Revises: d4e5f6a7b8c9
Create Date: 2026-12-07 23:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e5f6a7b8c9d0"
down_revision: str | None = "d4e5f6a7b8c9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Matters graded before have no English: an empty list, and readers show their Chinese reasons.
    with op.batch_alter_table("matter", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reasons_en", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("matter", schema=None) as batch_op:
        batch_op.drop_column("reasons_en")
