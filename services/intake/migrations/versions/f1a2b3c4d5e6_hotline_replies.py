"""12345 work orders get their handling result back (hotline_reply)

Revision ID: f1a2b3c4d5e6
Revises: 5b1d2f0c9a71
Create Date: 2026-12-07 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "f1a2b3c4d5e6"
down_revision: str | None = "5b1d2f0c9a71"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hotline_reply",
        sa.Column("order_no", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("report_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("community", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("result", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("unit", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("completed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("satisfaction", sa.Float(), nullable=True),
        sa.Column("revisit", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("due_by", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("order_no"),
    )
    with op.batch_alter_table("hotline_reply", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hotline_reply_report_id"), ["report_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_hotline_reply_community"), ["community"], unique=False)
        batch_op.create_index(batch_op.f("ix_hotline_reply_state"), ["state"], unique=False)


def downgrade() -> None:
    op.drop_table("hotline_reply")
