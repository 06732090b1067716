"""matter steps for the tracking page

Revision ID: 5b1d2f0c9a71
Revises: e7cb3e3801a4
Create Date: 2026-12-09 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '5b1d2f0c9a71'
down_revision: str | None = 'e7cb3e3801a4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'matter_step',
        sa.Column('matter_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column('step', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('community', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('matter_id', 'step'),
    )


def downgrade() -> None:
    op.drop_table('matter_step')
