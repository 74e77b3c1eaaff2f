"""incidents with SOPs: incidents, their steps, links and log; SOPs per city; incident webhook deliveries

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 15:10:00

An incident's late SOP step is escalated through the webhook outbox, so a
delivery names an alarm or an incident: `alarm_id` becomes nullable and
`incident_id` is added.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("city", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("agencies", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=False),
        sa.Column("opened_by", sa.String(length=100), nullable=False),
        sa.Column("sop_version", sa.Integer(), nullable=False),
        sa.Column("opened_ms", sa.BigInteger(), nullable=False),
        sa.Column("first_action_ms", sa.BigInteger(), nullable=True),
        sa.Column("closed_ms", sa.BigInteger(), nullable=True),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_index(op.f("ix_incidents_city_state"), "incidents", ["city", "state"])
    op.create_index(op.f("ix_incidents_opened_ms"), "incidents", ["opened_ms"])
    op.create_table(
        "incident_steps",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("incident_id", Id, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.String(length=64), nullable=False),
        sa.Column("text_id", sa.Text(), nullable=False),
        sa.Column("text_en", sa.Text(), nullable=False),
        sa.Column("agency", sa.String(length=64), nullable=True),
        sa.Column("mandatory", sa.Boolean(), nullable=False),
        sa.Column("within_min", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("done_ms", sa.BigInteger(), nullable=True),
        sa.Column("done_by", sa.String(length=100), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("late_ms", sa.BigInteger(), nullable=True),
        sa.Column("level2_after_min", sa.Integer(), nullable=True),
        sa.Column("late2_ms", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_incident_steps_incident_id_incidents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_steps")),
        sa.UniqueConstraint("incident_id", "step_id", name=op.f("uq_incident_steps_incident_id_step_id")),
    )
    op.create_index(op.f("ix_incident_steps_status_late_ms"), "incident_steps", ["status", "late_ms"])
    op.create_table(
        "incident_links",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("incident_id", Id, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("linked_ms", sa.BigInteger(), nullable=False),
        sa.Column("linked_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_incident_links_incident_id_incidents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_links")),
        sa.UniqueConstraint("incident_id", "kind", "ref", name=op.f("uq_incident_links_incident_id_kind_ref")),
    )
    op.create_index(op.f("ix_incident_links_kind_ref"), "incident_links", ["kind", "ref"])
    op.create_table(
        "incident_log",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("incident_id", Id, nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_incident_log_incident_id_incidents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_log")),
    )
    op.create_index(op.f("ix_incident_log_incident_id_at_ms"), "incident_log", ["incident_id", "at_ms"])
    op.create_table(
        "incident_sops",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("city", sa.String(length=64), nullable=False),
        sa.Column("sop_id", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_sops")),
        sa.UniqueConstraint("city", "sop_id", name=op.f("uq_incident_sops_city_sop_id")),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.alter_column("alarm_id", existing_type=sa.BigInteger(), nullable=True)
        batch_op.add_column(sa.Column("incident_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_column("incident_id")
    op.execute("DELETE FROM webhook_deliveries WHERE alarm_id IS NULL")
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.alter_column("alarm_id", existing_type=sa.BigInteger(), nullable=False)
    op.drop_table("incident_sops")
    op.drop_index(op.f("ix_incident_log_incident_id_at_ms"), table_name="incident_log")
    op.drop_table("incident_log")
    op.drop_index(op.f("ix_incident_links_kind_ref"), table_name="incident_links")
    op.drop_table("incident_links")
    op.drop_index(op.f("ix_incident_steps_status_late_ms"), table_name="incident_steps")
    op.drop_table("incident_steps")
    op.drop_index(op.f("ix_incidents_opened_ms"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_city_state"), table_name="incidents")
    op.drop_table("incidents")
