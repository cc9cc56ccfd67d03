"""name tokens per name and kind, so the index alone decides a search

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-28 04:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

BATCH = 5000


def _tokens(key):
    # The same as rudenim.cases.names.name_tokens at the time of writing, kept
    # here so the migration does not change when the app's code does.
    words, _bar, joined = (key or "").partition("|")
    tokens = {(True, word[:200]) for word in words.split()}
    tokens.update((False, joined[start:start + 200]) for start in range(len(joined) - 3))
    return tokens


def _old_tokens(key):
    # rudenim.cases.names.name_tokens as revision 0010 wrote it.
    words, _bar, joined = (key or "").partition("|")
    tokens = set(words.split())
    if joined:
        tokens.add(joined)
        tokens.update(joined[start:] for start in range(len(joined) - 3))
    return {token[:200] for token in tokens if token}


def _keys(connection, alias_number):
    return connection.execute(
        sa.text(
            "SELECT id, 0, name_key FROM person UNION ALL "
            f"SELECT person_id, {alias_number}, name_key FROM alias ORDER BY 1"
        )
    )


def _insert(connection, table, rows):
    """Insert rows as they come, a batch at a time."""
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            connection.execute(table.insert(), batch)
            batch = []
    if batch:
        connection.execute(table.insert(), batch)


def _drop_name_token(index):
    with op.batch_alter_table('name_token', schema=None) as batch_op:
        batch_op.drop_index(index)
    op.drop_table('name_token')


def upgrade():
    _drop_name_token('ix_name_token_token')
    name_token = op.create_table(
        'name_token',
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('name_no', sa.Integer(), nullable=False),
        sa.Column('is_word', sa.Boolean(), nullable=False),
        sa.Column('token', sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_name_token_person_id_person'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('person_id', 'name_no', 'is_word', 'token', name=op.f('pk_name_token'))
    )
    with op.batch_alter_table('name_token', schema=None) as batch_op:
        batch_op.create_index(
            'ix_name_token_search', ['is_word', 'token', 'person_id', 'name_no'], unique=False
        )
    # The person's own name is name 0, an alias is its id.
    connection = op.get_bind()
    _insert(
        connection,
        name_token,
        (
            {"person_id": person_id, "name_no": name_no, "is_word": is_word, "token": token}
            for person_id, name_no, key in _keys(connection, "id").all()
            for is_word, token in _tokens(key)
        ),
    )


def downgrade():
    _drop_name_token('ix_name_token_search')
    name_token = op.create_table(
        'name_token',
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('token', sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_name_token_person_id_person'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('person_id', 'token', name=op.f('pk_name_token'))
    )
    with op.batch_alter_table('name_token', schema=None) as batch_op:
        batch_op.create_index('ix_name_token_token', ['token', 'person_id'], unique=False)
    tokens = {}
    for person_id, _name_no, key in _keys(op.get_bind(), 0).all():
        tokens.setdefault(person_id, set()).update(_old_tokens(key))
    _insert(
        op.get_bind(),
        name_token,
        (
            {"person_id": person_id, "token": token}
            for person_id, found in tokens.items()
            for token in found
        ),
    )
