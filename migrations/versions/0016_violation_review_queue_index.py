"""open violations by status in the order they were reported, for the review queue

The violation log's queue shows the 50 violations awaiting review or decision
that were reported first. Without an index in that order the database read
every open violation (4,300 at 100,000 people) with its person and rule, and
sorted them, on every view of the log; with it, each status's first 50 come
from the index.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 10:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('violation', schema=None) as batch_op:
        batch_op.create_index(
            'ix_violation_status_reported', ['status', 'reported_at', 'id'], unique=False
        )


def downgrade():
    with op.batch_alter_table('violation', schema=None) as batch_op:
        batch_op.drop_index('ix_violation_status_reported')
