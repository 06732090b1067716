"""merge and split: matter.merged_into, matter.split_from, matter_report.channel

Revision ID: b4e1c2d3a5f6
Revises: 83d5e14ad096
Create Date: 2026-12-07 16:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = 'b4e1c2d3a5f6'
down_revision: str | None = '83d5e14ad096'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('matter', schema=None) as batch_op:
        batch_op.add_column(sa.Column('merged_into', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch_op.add_column(sa.Column('split_from', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch_op.create_index(batch_op.f('ix_matter_split_from'), ['split_from'], unique=False)
    with op.batch_alter_table('matter_report', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('matter_report', schema=None) as batch_op:
        batch_op.drop_column('channel')
    with op.batch_alter_table('matter', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_matter_split_from'))
        batch_op.drop_column('split_from')
        batch_op.drop_column('merged_into')
