"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 17:16:43.494657
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_minute",
        sa.Column("city", sa.String(length=64), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("stored", sa.Integer(), nullable=False),
        sa.Column("quarantined", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("city", "bucket", name=op.f("pk_ingest_minute")),
    )
    op.create_table(
        "metrics",
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=True),
        sa.Column("registered", sa.Boolean(), nullable=False),
        sa.Column("first_seen_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("metric", name=op.f("pk_metrics")),
    )
    op.create_table(
        "quarantine",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.Column("city", sa.String(length=64), nullable=True),
        sa.Column("target", sa.String(length=64), nullable=True),
        sa.Column("topic", sa.String(length=512), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("payload_size", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
    )
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quarantine_city_reason"), ["city", "reason"], unique=False)
        batch_op.create_index(batch_op.f("ix_quarantine_received_ms"), ["received_ms"], unique=False)

    op.create_table(
        "readings",
        sa.Column("series_id", sa.BigInteger(), nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("series_id", "ts_ms", name=op.f("pk_readings")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "rollup_1h",
        sa.Column("series_id", sa.BigInteger(), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("sum", sa.Float(), nullable=False),
        sa.Column("min", sa.Float(), nullable=False),
        sa.Column("max", sa.Float(), nullable=False),
        sa.Column("last", sa.Float(), nullable=False),
        sa.Column("last_ts_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("series_id", "bucket", name=op.f("pk_rollup_1h")),
        postgresql_with={"fillfactor": 70},
        sqlite_with_rowid=False,
    )
    op.create_table(
        "rollup_1m",
        sa.Column("series_id", sa.BigInteger(), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("sum", sa.Float(), nullable=False),
        sa.Column("min", sa.Float(), nullable=False),
        sa.Column("max", sa.Float(), nullable=False),
        sa.Column("last", sa.Float(), nullable=False),
        sa.Column("last_ts_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("series_id", "bucket", name=op.f("pk_rollup_1m")),
        postgresql_with={"fillfactor": 70},
        sqlite_with_rowid=False,
    )
    op.create_table(
        "sources",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("city", sa.String(length=64), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("district", sa.String(length=64), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("registered", sa.Boolean(), nullable=False),
        sa.Column("interval_s", sa.Integer(), nullable=True),
        sa.Column("first_seen_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_seen_ms", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("status_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sources")),
        sa.UniqueConstraint("city", "source_id", name=op.f("uq_sources_city_source_id")),
        postgresql_with={"fillfactor": 70},
    )
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sources_city_district"), ["city", "district"], unique=False)

    op.create_table(
        "tickets",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("city", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.String(length=64), nullable=False),
        sa.Column("agency", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("opened_ms", sa.BigInteger(), nullable=False),
        sa.Column("resolved_ms", sa.BigInteger(), nullable=True),
        sa.Column("due_ms", sa.BigInteger(), nullable=True),
        sa.Column("explicit_due_ms", sa.BigInteger(), nullable=True),
        sa.Column("sla_minutes", sa.Integer(), nullable=True),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
        sa.UniqueConstraint("city", "ticket_id", name=op.f("uq_tickets_city_ticket_id")),
    )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tickets_city_agency_service_status"), ["city", "agency", "service", "status"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_tickets_opened_ms"), ["opened_ms"], unique=False)
        batch_op.create_index(batch_op.f("ix_tickets_resolved_ms"), ["resolved_ms"], unique=False)
        batch_op.create_index(batch_op.f("ix_tickets_status_due_ms"), ["status", "due_ms"], unique=False)

    op.create_table(
        "series",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("source_pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("last_ts_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_value", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["source_pk"], ["sources.id"], name=op.f("fk_series_source_pk_sources"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_series")),
        sa.UniqueConstraint("source_pk", "metric", name=op.f("uq_series_source_pk_metric")),
        postgresql_with={"fillfactor": 70},
    )
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_series_metric"), ["metric"], unique=False)

    op.create_table(
        "ticket_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("ticket_pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.Column("agency", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=True),
        sa.Column("priority", sa.String(length=16), nullable=True),
        sa.Column("district", sa.String(length=64), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("sla_minutes", sa.Integer(), nullable=True),
        sa.Column("due_ms", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_pk"], ["tickets.id"], name=op.f("fk_ticket_events_ticket_pk_tickets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_events")),
        sa.UniqueConstraint("ticket_pk", "status", "ts_ms", name=op.f("uq_ticket_events_ticket_pk_status_ts_ms")),
    )


def downgrade() -> None:
    op.drop_table("ticket_events")
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_series_metric"))

    op.drop_table("series")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tickets_status_due_ms"))
        batch_op.drop_index(batch_op.f("ix_tickets_resolved_ms"))
        batch_op.drop_index(batch_op.f("ix_tickets_opened_ms"))
        batch_op.drop_index(batch_op.f("ix_tickets_city_agency_service_status"))

    op.drop_table("tickets")
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sources_city_district"))

    op.drop_table("sources")
    op.drop_table("rollup_1m")
    op.drop_table("rollup_1h")
    op.drop_table("readings")
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quarantine_received_ms"))
        batch_op.drop_index(batch_op.f("ix_quarantine_city_reason"))

    op.drop_table("quarantine")
    op.drop_table("metrics")
    op.drop_table("ingest_minute")
