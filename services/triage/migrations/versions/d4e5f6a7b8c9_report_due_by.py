"""reports keep the dispatching platform's deadline (12345 承办时限)

Revision ID: d4e5f6a7b8c9
Revises: b4e1c2d3a5f6
Create Date: 2026-12-07 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "d4e5f6a7b8c9"
down_revision: str | None = "b4e1c2d3a5f6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("matter_report", schema=None) as batch_op:
        batch_op.add_column(sa.Column("due_by", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("matter_report", schema=None) as batch_op:
        batch_op.drop_column("due_by")
