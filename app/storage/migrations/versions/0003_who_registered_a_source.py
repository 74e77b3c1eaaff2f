"""who registered a source

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 17:55:35.350661
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("registered_by", sa.String(length=16), nullable=True))
    # Until now only the profile registered sources.
    op.execute("UPDATE sources SET registered_by = 'profile' WHERE registered")


def downgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_column("registered_by")
