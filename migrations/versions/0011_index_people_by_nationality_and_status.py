"""index people by nationality and custody status, in case-number order

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28 01:10:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.create_index(
            'ix_person_nationality_status',
            ['nationality', 'is_in_care', 'custody_status', 'case_number', 'id'],
            unique=False,
        )
        # The new index begins with nationality: the old one only took space.
        batch_op.drop_index('ix_person_nationality')


def downgrade():
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.create_index('ix_person_nationality', ['nationality'], unique=False)
        batch_op.drop_index('ix_person_nationality_status')
