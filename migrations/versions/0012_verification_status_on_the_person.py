"""each agency's verification status on the person, for the board's counts

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28 01:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

AGENCIES = ('iom', 'unhcr')


def upgrade():
    with op.batch_alter_table('person', schema=None) as batch_op:
        for agency in AGENCIES:
            batch_op.add_column(
                sa.Column(
                    f'{agency}_status',
                    sa.String(length=16),
                    server_default='not_referred',
                    nullable=False,
                )
            )
    for agency in AGENCIES:
        # Each person's copy of their track's status (no track: not referred).
        op.execute(
            f"UPDATE person SET {agency}_status = ("
            f" SELECT verification_track.status FROM verification_track"
            f" WHERE verification_track.person_id = person.id"
            f" AND verification_track.agency = '{agency}')"
            f" WHERE EXISTS (SELECT 1 FROM verification_track"
            f" WHERE verification_track.person_id = person.id"
            f" AND verification_track.agency = '{agency}')"
        )
    with op.batch_alter_table('person', schema=None) as batch_op:
        for agency in AGENCIES:
            batch_op.create_index(
                f'ix_person_board_{agency}',
                ['is_in_care', 'custody_status', f'{agency}_status', 'case_number'],
                unique=False,
            )


def downgrade():
    # Not in batch mode: on SQLite that copies the table, and dropping the old
    # person table with rows that others refer to fails. SQLite ≥ 3.35 drops a
    # column in place, once no index uses it.
    for agency in AGENCIES:
        op.drop_index(f'ix_person_board_{agency}', table_name='person')
        op.drop_column('person', f'{agency}_status')
