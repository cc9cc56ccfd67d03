"""the disclosure ledger's rows without foreign keys (one check per row per export)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28 03:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    # Each row is written by INSERT … SELECT from the person table within the
    # transaction that writes its disclosure, and people are anonymised, never
    # deleted: the per-row checks (half a second per 100,000 rows on
    # PostgreSQL) could never fail.
    with op.batch_alter_table('disclosed_person', schema=None) as batch_op:
        batch_op.drop_constraint('fk_disclosed_person_disclosure_id_disclosure', type_='foreignkey')
        batch_op.drop_constraint('fk_disclosed_person_person_id_person', type_='foreignkey')


def downgrade():
    with op.batch_alter_table('disclosed_person', schema=None) as batch_op:
        batch_op.create_foreign_key(
            'fk_disclosed_person_disclosure_id_disclosure', 'disclosure', ['disclosure_id'], ['id']
        )
        batch_op.create_foreign_key(
            'fk_disclosed_person_person_id_person', 'person', ['person_id'], ['id']
        )
