"""integrator kit: integrator_traffic, messages and live warnings per source or agency and 5 minutes

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 11:30:00

Counts for the integrator health page (GET /api/v1/integrators/health); kept
two days by the ingestor. Refusals are read from the quarantine.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "integrator_traffic",
        sa.Column("city", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("warnings", sa.Integer(), nullable=False),
        sa.Column("last_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("city", "target", "bucket", name=op.f("pk_integrator_traffic")),
    )
    with op.batch_alter_table("integrator_traffic", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_integrator_traffic_bucket"), ["bucket"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("integrator_traffic", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_integrator_traffic_bucket"))
    op.drop_table("integrator_traffic")
