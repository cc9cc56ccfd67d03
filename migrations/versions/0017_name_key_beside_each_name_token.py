"""the name's key beside each of its search tokens

A search of several words reads the rarest word's tokens and must know, for
each, whether the same name holds the other words. It looked that up again by
the token table's primary key, once per token (16,000 lookups for "Mohamed
Rezaei" on 100,000 people); with the name's key in the search index beside
each token, the other words are checked in the entry already read.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 16:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('name_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_key', sa.String(length=400), nullable=True))
    # The person's own name is name 0, an alias is its id (revision 0014).
    op.execute(
        "UPDATE name_token SET name_key = COALESCE((SELECT person.name_key FROM person"
        " WHERE person.id = name_token.person_id), '') WHERE name_no = 0"
    )
    op.execute(
        "UPDATE name_token SET name_key = COALESCE((SELECT alias.name_key FROM alias"
        " WHERE alias.id = name_token.name_no), '') WHERE name_no <> 0"
    )
    with op.batch_alter_table('name_token', schema=None) as batch_op:
        batch_op.alter_column('name_key', existing_type=sa.String(length=400), nullable=False)
        batch_op.drop_index('ix_name_token_search')
        batch_op.create_index(
            'ix_name_token_search',
            ['is_word', 'token', 'person_id', 'name_no', 'name_key'],
            unique=False,
        )


def downgrade():
    with op.batch_alter_table('name_token', schema=None) as batch_op:
        batch_op.drop_index('ix_name_token_search')
        batch_op.create_index(
            'ix_name_token_search', ['is_word', 'token', 'person_id', 'name_no'], unique=False
        )
        batch_op.drop_column('name_key')
