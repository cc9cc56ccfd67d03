"""audit events of one record in id order, so its newest are read from the index

A person viewed thousands of times has thousands of view events; the person
page shows the newest 20. With (subject_type, subject_id) alone PostgreSQL read
and sorted them all on every view; with the id as the last column the index
hands them over newest first and the read stops at the page's limit.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-28 07:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

INDEXES = {
    'ix_audit_event_object': ['object_type', 'object_id'],
    'ix_audit_event_subject': ['subject_type', 'subject_id'],
}


def upgrade():
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        for name, columns in INDEXES.items():
            batch_op.drop_index(name)
            batch_op.create_index(name, [*columns, 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        for name, columns in INDEXES.items():
            batch_op.drop_index(name)
            batch_op.create_index(name, columns, unique=False)
