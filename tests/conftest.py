"""Shared fixtures: an app on a fresh database per test, clients, users, factories.

The suite runs on SQLite by default and on PostgreSQL when TEST_DATABASE_URL
names one. The schema is built once per run by the real migrations; each test
then gets its own copy (SQLite) or emptied tables (PostgreSQL).
"""

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, event, insert, text

from config import TestConfig
from rudenim import create_app
from rudenim.audit.models import GENESIS_HASH, AuditChainHead
from rudenim.extensions import db as _db

PASSWORD = "correct horse battery staple"
MIGRATIONS = str(Path(__file__).resolve().parent.parent / "migrations")


def test_settings(**overrides) -> dict:
    """TestConfig as a mapping, with overrides."""
    settings = {key: getattr(TestConfig, key) for key in dir(TestConfig) if key.isupper()}
    settings.update(overrides)
    return settings


class SQLiteTemplate:
    """Migrate one database file; hand each test a copy of it."""

    def __init__(self, directory: Path):
        self.path = directory / "template.sqlite3"
        app = create_app(test_settings(SQLALCHEMY_DATABASE_URI=f"sqlite:///{self.path}"))
        with app.app_context():
            upgrade(directory=MIGRATIONS)
            _db.engine.dispose()

    def fresh(self, tmp_path: Path) -> str:
        target = tmp_path / "rudenim.sqlite3"
        shutil.copyfile(self.path, target)
        return f"sqlite:///{target}"

    def clean(self, app) -> None:
        pass


class PostgresDatabase:
    """Migrate the test database once; empty every table after each test."""

    def __init__(self, url: str):
        self.url = url
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        app = create_app(test_settings(SQLALCHEMY_DATABASE_URI=url))
        with app.app_context():
            upgrade(directory=MIGRATIONS)
            _db.engine.dispose()

    def fresh(self, tmp_path: Path) -> str:
        return self.url

    def clean(self, app) -> None:
        with app.app_context():
            tables = ", ".join(f'"{table.name}"' for table in _db.metadata.sorted_tables)
            with _db.engine.begin() as connection:
                connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
                connection.execute(
                    insert(AuditChainHead).values(id=1, last_id=0, last_hash=GENESIS_HASH)
                )


def sqlite_statements(app, client, url) -> list[str]:
    """The statements one GET of ``url`` sends to SQLite, in order (the test is
    skipped on PostgreSQL, which has no database-wide write lock)."""
    with app.app_context():
        engine = _db.engine
    if engine.dialect.name != "sqlite":
        pytest.skip("only SQLite has one write lock for the whole database")
    statements = []

    def capture(_conn, _cursor, statement, *_args):
        statements.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return statements


def around_one_write(statements: list[str]) -> tuple[list[str], list[str], list[str]]:
    """A GET's statements that read, wrote once in a transaction of its own
    and read on: (the reads before, what was sent under the write lock, the
    reads after), each part without its BEGIN."""
    begins = [i for i, s in enumerate(statements) if s.startswith("BEGIN")]
    assert [statements[i] for i in begins] == ["BEGIN", "BEGIN IMMEDIATE", "BEGIN"]
    first, locked, after = begins
    return statements[first + 1 : locked], statements[locked + 1 : after], statements[after + 1 :]


@pytest.fixture(scope="session", autouse=True)
def compiled_translations():
    """Compile the .po catalogues, so the suite also runs without `make`."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po_path in (
        Path(__file__).resolve().parent.parent.glob("rudenim/translations/*/LC_MESSAGES/*.po")
    ):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as handle:
            catalogue = read_po(handle)
        with mo_path.open("wb") as handle:
            write_mo(handle, catalogue)


@pytest.fixture(scope="session")
def database(tmp_path_factory):
    """The database every test starts from."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return PostgresDatabase(url)
    return SQLiteTemplate(tmp_path_factory.mktemp("template"))


@pytest.fixture
def is_postgres(database) -> bool:
    return isinstance(database, PostgresDatabase)


@contextmanager
def built_app(database, tmp_path, **overrides):
    """An application on a database of its own, with settings of the test's choosing."""
    application = create_app(
        test_settings(
            SQLALCHEMY_DATABASE_URI=database.fresh(tmp_path),
            RUDENIM_INSTANCE_PATH=str(tmp_path / "instance"),
            **overrides,
        )
    )
    try:
        yield application
    finally:
        with application.app_context():
            _db.session.remove()
            _db.engine.dispose()
        database.clean(application)
        with application.app_context():
            _db.engine.dispose()


@pytest.fixture
def app(database, tmp_path):
    """The application on a database of its own."""
    with built_app(database, tmp_path) as application:
        yield application


@pytest.fixture
def ctx(app):
    """An app context for calling services and models directly."""
    with app.app_context():
        yield
        _db.session.rollback()


@pytest.fixture
def db(ctx):
    return _db


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make_user(app):
    """Create a user (committed); returns its id."""
    from rudenim.audit.context import Actor, acting_as
    from rudenim.auth.services import create_user

    counter = {"n": 0}

    def _make(role="officer", username=None, password=PASSWORD, **options):
        counter["n"] += 1
        username = username or f"{role}{counter['n']}"
        with app.app_context(), acting_as(Actor(None, "test-setup")):
            user, _ = create_user(username, role, password=password, **options)
            _db.session.commit()
            return user.id

    return _make


def login(client, username, password=PASSWORD):
    """Sign in through the form; returns the response."""
    return client.post(
        "/auth/login", data={"username": username, "password": password}, follow_redirects=False
    )


@pytest.fixture
def login_as(client, make_user, app):
    """Create a user with ``role`` and sign the test client in as them."""
    from rudenim.auth.models import User

    def _login(role="officer", **options):
        user_id = make_user(role, **options)
        with app.app_context():
            user = _db.session.get(User, user_id)
            username = user.username
        response = login(client, username)
        assert response.status_code == 302, response.get_data(as_text=True)
        return user_id

    return _login


@pytest.fixture
def count_queries(app):
    """Count the SQL statements issued inside a ``with`` block."""
    from contextlib import contextmanager

    @contextmanager
    def _count():
        statements = []

        def _record(_conn, _cursor, statement, *_args):
            statements.append(statement)

        with app.app_context():
            engine = _db.engine
        event.listen(engine, "before_cursor_execute", _record)
        try:
            yield statements
        finally:
            event.remove(engine, "before_cursor_execute", _record)

    return _count
