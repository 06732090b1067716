"""entry.merged_into: an entry closed as merged (合并) points at the surviving matter

Revision ID: c7d8e9f0a1b2
Revises: 78476178a748
Create Date: 2026-12-07 16:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = 'c7d8e9f0a1b2'
down_revision: str | None = '78476178a748'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('merged_into', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('entry', schema=None) as batch_op:
        batch_op.drop_column('merged_into')
