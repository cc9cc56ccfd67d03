"""The migrations build exactly the schema the models describe, and run both ways."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select

from rudenim import create_app
from rudenim.audit.models import GENESIS_HASH, AuditChainHead
from rudenim.audit.services import verify_chain
from rudenim.extensions import db as _db
from tests.conftest import MIGRATIONS
from tests.conftest import test_settings as settings_with


def schema_differences() -> list:
    """What autogenerate would write into a new revision (nothing, when in step)."""
    with _db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, _db.metadata)


def tables() -> set[str]:
    return set(inspect(_db.engine).get_table_names())


def test_the_migrated_schema_matches_the_models(db):
    # Runs on whichever database the suite uses (SQLite, or TEST_DATABASE_URL).
    assert schema_differences() == []


def test_the_migrations_seed_the_chain_head(db):
    head = db.session.scalars(select(AuditChainHead)).one()

    assert (head.id, head.last_id, head.last_hash) == (1, 0, GENESIS_HASH)
    assert verify_chain().ok


@pytest.fixture
def fresh_sqlite_app(tmp_path):
    """An app on an empty SQLite file, nothing migrated yet."""
    application = create_app(
        settings_with(
            SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'fresh.sqlite3'}",
            RUDENIM_INSTANCE_PATH=str(tmp_path / "instance"),
        )
    )
    with application.app_context():
        yield application
        _db.session.remove()
        _db.engine.dispose()


def test_downgrade_to_base_and_upgrade_again(fresh_sqlite_app):
    model_tables = set(_db.metadata.tables)

    upgrade(directory=MIGRATIONS)
    assert tables() == model_tables | {"alembic_version"}

    downgrade(directory=MIGRATIONS, revision="base")
    assert tables() == {"alembic_version"}

    upgrade(directory=MIGRATIONS)
    assert tables() == model_tables | {"alembic_version"}
    assert schema_differences() == []
    head = _db.session.get(AuditChainHead, 1)
    assert (head.last_id, head.last_hash) == (0, GENESIS_HASH)
    assert verify_chain().ok
    _db.session.rollback()


def test_the_comparison_notices_a_schema_out_of_step(fresh_sqlite_app):
    upgrade(directory=MIGRATIONS)
    with _db.engine.begin() as connection:
        connection.exec_driver_sql('ALTER TABLE "user" ADD COLUMN nickname VARCHAR(20)')

    removed = [
        (item[2], item[3].name)
        for item in schema_differences()
        if isinstance(item, tuple) and item[0] == "remove_column"
    ]

    assert removed == [("user", "nickname")]


def test_0012_copies_each_track_status_onto_its_person(fresh_sqlite_app):
    upgrade(directory=MIGRATIONS)
    result = fresh_sqlite_app.test_cli_runner().invoke(
        args=["demo", "load", "--people", "60", "--seed", "7"]
    )
    assert result.exit_code == 0, result.output
    statuses = "SELECT id, iom_status, unhcr_status FROM person ORDER BY id"
    with _db.engine.connect() as connection:
        loaded = connection.exec_driver_sql(statuses).all()
    assert {row[2] for row in loaded} > {"not_referred"}  # some people have UNHCR tracks

    downgrade(directory=MIGRATIONS, revision="0011")
    upgrade(directory=MIGRATIONS)

    with _db.engine.connect() as connection:
        assert connection.exec_driver_sql(statuses).all() == loaded


def test_0017_puts_each_name_s_key_beside_its_tokens(fresh_sqlite_app):
    upgrade(directory=MIGRATIONS)
    result = fresh_sqlite_app.test_cli_runner().invoke(
        args=["demo", "load", "--people", "60", "--seed", "7"]
    )
    assert result.exit_code == 0, result.output
    tokens = (
        "SELECT person_id, name_no, is_word, token, name_key FROM name_token ORDER BY 1, 2, 3, 4"
    )
    keys = "SELECT id, 0, name_key FROM person UNION ALL SELECT person_id, id, name_key FROM alias"
    with _db.engine.connect() as connection:
        loaded = connection.exec_driver_sql(tokens).all()
        names = {(row[0], row[1]): row[2] for row in connection.exec_driver_sql(keys)}
    assert {row[1] for row in loaded} > {0}  # aliases' tokens as well as the names'
    assert all(row[4] == names[row[0], row[1]] for row in loaded)

    downgrade(directory=MIGRATIONS, revision="0016")
    upgrade(directory=MIGRATIONS)

    with _db.engine.connect() as connection:
        assert connection.exec_driver_sql(tokens).all() == loaded
