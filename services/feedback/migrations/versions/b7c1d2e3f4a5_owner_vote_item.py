"""owner votes carry their item of Civil Code art. 278

Revision ID: b7c1d2e3f4a5
Revises: 4fb6199e0638
Create Date: 2026-12-07 16:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7c1d2e3f4a5"
down_revision: str | None = "4fb6199e0638"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("owner_vote", schema=None) as batch_op:
        batch_op.add_column(sa.Column("item", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("owner_vote", schema=None) as batch_op:
        batch_op.drop_column("item")
