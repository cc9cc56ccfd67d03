"""name tokens: the search index of people's names and aliases

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 23:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

BATCH = 5000


def _tokens(key):
    # The same as rudenim.cases.names.name_tokens at the time of writing, kept
    # here so the migration does not change when the app's code does.
    words, _bar, joined = (key or "").partition("|")
    tokens = set(words.split())
    if joined:
        tokens.add(joined)
        tokens.update(joined[start:] for start in range(len(joined) - 3))
    return {token[:200] for token in tokens if token}


def upgrade():
    name_token = op.create_table(
        'name_token',
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('token', sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_name_token_person_id_person'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('person_id', 'token', name=op.f('pk_name_token'))
    )
    with op.batch_alter_table('name_token', schema=None) as batch_op:
        batch_op.create_index('ix_name_token_token', ['token', 'person_id'], unique=False)

    # Index the names already recorded, a person at a time (name and aliases
    # together, so each token is inserted once).
    connection = op.get_bind()
    keys = connection.execute(
        sa.text(
            "SELECT id, name_key FROM person UNION ALL "
            "SELECT person_id, name_key FROM alias ORDER BY 1"
        )
    )
    rows, current, tokens = [], None, set()
    for person_id, key in keys:
        if person_id != current:
            rows.extend({"person_id": current, "token": token} for token in tokens)
            current, tokens = person_id, set()
            if len(rows) >= BATCH:
                connection.execute(name_token.insert(), rows)
                rows = []
        tokens |= _tokens(key)
    rows.extend({"person_id": current, "token": token} for token in tokens)
    if rows:
        connection.execute(name_token.insert(), rows)


def downgrade():
    with op.batch_alter_table('name_token', schema=None) as batch_op:
        batch_op.drop_index('ix_name_token_token')

    op.drop_table('name_token')
