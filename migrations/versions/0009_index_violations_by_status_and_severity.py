"""index violations by status and severity (the log's usual filters)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 21:50:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('violation', schema=None) as batch_op:
        batch_op.create_index(
            'ix_violation_status_severity', ['status', 'severity', 'occurred_at'], unique=False
        )


def downgrade():
    with op.batch_alter_table('violation', schema=None) as batch_op:
        batch_op.drop_index('ix_violation_status_severity')
