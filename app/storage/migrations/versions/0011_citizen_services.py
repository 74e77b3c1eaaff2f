"""citizen services: LAPOR! stages on tickets and events; Open311 requests with personal data kept apart

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 15:20:00

tickets.stage/stage_since_ms/stage_due_ms and ticket_events.stage (issue 14
part 3); open311_requests: the token of each Open311 POST, the ticket id it
asked for, its address and media URL, and the citizen's personal data, erased
after a retention setting (part 1).
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stage", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("stage_since_ms", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("stage_due_ms", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("ticket_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stage", sa.String(length=16), nullable=True))
    op.create_table(
        "open311_requests",
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("city", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.String(length=64), nullable=False),
        sa.Column("agency", sa.String(length=64), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("api_token_id", sa.Integer(), nullable=True),
        sa.Column("address", sa.String(length=250), nullable=True),
        sa.Column("media_url", sa.String(length=500), nullable=True),
        sa.Column("first_name", sa.String(length=100), nullable=True),
        sa.Column("last_name", sa.String(length=100), nullable=True),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.Column("phone", sa.String(length=50), nullable=True),
        sa.Column("erased_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_open311_requests")),
        sa.UniqueConstraint("city", "ticket_id", name=op.f("uq_open311_requests_city_ticket_id")),
    )
    with op.batch_alter_table("open311_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_open311_requests_created_ms"), ["created_ms"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("open311_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_open311_requests_created_ms"))
    op.drop_table("open311_requests")
    with op.batch_alter_table("ticket_events", schema=None) as batch_op:
        batch_op.drop_column("stage")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("stage_due_ms")
        batch_op.drop_column("stage_since_ms")
        batch_op.drop_column("stage")
