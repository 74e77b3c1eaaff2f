"""agency scope: api_tokens.agency and users.agency (who may read an Open311 request's personal data)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 16:05:00

Both nullable: existing tokens and users keep no agency scope (city-wide), as before. An Open311 request's
personal data is answered only to an admin whose scope is the request's agency (issue 14 part 1). A user's sign-in
session copies the user's agency, like its role.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agency", sa.String(length=64), nullable=True))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agency", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("agency")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("agency")
