"""partitioned readings: on PostgreSQL, readings and rollup_1m become range-partitioned by time; city scope

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 15:10:00

Retention then drops whole partitions instead of deleting rows (app.storage.partitions).
Existing rows are copied into the partitioned tables (room for a second copy is needed
while it runs; about a minute per ten million readings). SQLite: nothing changes there.
On both databases, api_tokens and users gain `city` (Smart Province: the one city a token or
user may see; null, as every existing row: every city).
"""

import time

import sqlalchemy as sa
from alembic import op

from app.storage import partitions

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# Partitions made at once: the readings of the last 35 days (the default retention is 30), the minute
# rollups of the last 400 (the default 400), and a week ahead; the ingestor's maintenance turn keeps it so.
BEHIND_DAYS = {"readings": 35, "rollup_1m": 400}
AHEAD_DAYS = 7


def upgrade() -> None:
    for table in ("api_tokens", "users"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("city", sa.String(length=64), nullable=True))
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    now_ms = int(time.time() * 1000)
    for spec in partitions.SPECS:
        partitions.convert(conn, spec, now_ms=now_ms, behind_days=BEHIND_DAYS[spec.table], ahead_days=AHEAD_DAYS)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        for spec in partitions.SPECS:
            partitions.unconvert(conn, spec)
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {partitions.SCHEMA} CASCADE")
    for table in ("users", "api_tokens"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("city")
