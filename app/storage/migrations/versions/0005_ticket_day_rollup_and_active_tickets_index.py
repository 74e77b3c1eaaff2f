"""per-day ticket rollup (counts and resolution-time histogram), partial index on open tickets

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 19:40:00

The rollup is backfilled from the tickets already stored, with the same rule
the writer applies from now on (app.services.rollup.contribution).
"""

import sqlalchemy as sa
from alembic import op

from app.services.rollup import TICKET_COLUMNS, Delta

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ACTIVE_WHERE = "status IN ('open', 'assigned', 'in_progress')"
BACKFILL_CHUNK = 20_000


def upgrade() -> None:
    op.create_table(
        "ticket_day",
        sa.Column("city", sa.String(length=64), nullable=False),
        sa.Column("day", sa.BigInteger(), nullable=False),
        sa.Column("agency", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("opened", sa.Integer(), nullable=False),
        sa.Column("resolved", sa.Integer(), nullable=False),
        sa.Column("resolved_with_due", sa.Integer(), nullable=False),
        sa.Column("resolved_within_sla", sa.Integer(), nullable=False),
        sa.Column("cancelled", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("city", "day", "agency", "service", name=op.f("pk_ticket_day")),
    )
    op.create_table(
        "ticket_day_hist",
        sa.Column("city", sa.String(length=64), nullable=False),
        sa.Column("day", sa.BigInteger(), nullable=False),
        sa.Column("agency", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("city", "day", "agency", "service", "bucket", name=op.f("pk_ticket_day_hist")),
    )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tickets_active",
            ["city", "opened_ms", "due_ms"],
            unique=False,
            sqlite_where=sa.text(ACTIVE_WHERE),
            postgresql_where=sa.text(ACTIVE_WHERE),
        )
    _backfill(op.get_bind())


def _backfill(conn: sa.Connection) -> None:
    cols = ", ".join(TICKET_COLUMNS)
    delta = Delta()
    last = None
    while True:
        where = "" if last is None else f"WHERE id > {int(last)}"
        rows = (
            conn.execute(sa.text(f"SELECT id, {cols} FROM tickets {where} ORDER BY id LIMIT {BACKFILL_CHUNK}"))
            .mappings()
            .all()
        )
        if not rows:
            break
        for r in rows:
            delta.add(r)
        delta.write(conn)
        last = rows[-1]["id"]


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_tickets_active", sqlite_where=sa.text(ACTIVE_WHERE), postgresql_where=sa.text(ACTIVE_WHERE)
        )
    op.drop_table("ticket_day_hist")
    op.drop_table("ticket_day")
