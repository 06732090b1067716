"""matter views keep timeline notes that arrive before the entry (owners' votes) and the 12345 deadline

Revision ID: c3d4e5f6a7b8
Revises: c7d8e9f0a1b2
Create Date: 2026-12-07 16:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "c3d4e5f6a7b8"
down_revision: str | None = "c7d8e9f0a1b2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("matter_view", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pending_notes", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("due_by", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("matter_view", schema=None) as batch_op:
        batch_op.drop_column("due_by")
        batch_op.drop_column("pending_notes")
