"""regional warnings: the alerts table (CAP 1.2 documents received, with their relevance to the city)

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-06 15:20:00

One row per (city, CAP sender, CAP identifier): the ingestor stores each alert
once, whatever the number of times it is published.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("city", sa.String(length=64), nullable=False),
        sa.Column("sender", sa.String(length=255), nullable=False),
        sa.Column("identifier", sa.String(length=255), nullable=False),
        sa.Column("publisher", sa.String(length=64), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("msg_type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("refs", sa.Text(), nullable=False),
        sa.Column("event", sa.String(length=255), nullable=True),
        sa.Column("category", sa.String(length=16), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=True),
        sa.Column("urgency", sa.String(length=16), nullable=True),
        sa.Column("certainty", sa.String(length=16), nullable=True),
        sa.Column("headline", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("parameters", sa.Text(), nullable=False),
        sa.Column("areas", sa.Text(), nullable=False),
        sa.Column("sent_ms", sa.BigInteger(), nullable=False),
        sa.Column("effective_ms", sa.BigInteger(), nullable=True),
        sa.Column("expires_ms", sa.BigInteger(), nullable=True),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.Column("ended_ms", sa.BigInteger(), nullable=True),
        sa.Column("relevant", sa.Boolean(), nullable=False),
        sa.Column("distance_km", sa.Float(), nullable=True),
        sa.Column("districts", sa.Text(), nullable=False),
        sa.Column("alarm_severity", sa.String(length=16), nullable=True),
        sa.Column("xml", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("city", "sender", "identifier", name=op.f("uq_alerts_city_sender_identifier")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alerts_city_state_relevant"), ["city", "state", "relevant"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_thread_id"), ["thread_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_sent_ms"), ["sent_ms"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_sent_ms"))
        batch_op.drop_index(batch_op.f("ix_alerts_thread_id"))
        batch_op.drop_index(batch_op.f("ix_alerts_city_state_relevant"))
    op.drop_table("alerts")
