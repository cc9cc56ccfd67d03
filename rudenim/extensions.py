"""Flask extensions, created unbound and bound in ``create_app``."""

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import TypeVar

from flask import request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase

#: Stable constraint names so Alembic migrations are the same on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address)

#: The requests that change nothing by HTTP's rules: they begin reading.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Built = TypeVar("Built")


def built_once(build: Callable[..., Built]) -> Callable[..., Built]:
    """Run ``build`` once for each set of arguments and keep what it returns:
    for the statements issued on every request, whose values are bound
    (``bindparam``) when each is executed.

    SQLAlchemy spends 0.1–0.2 ms of Python building a select with its loader
    options and working out its cache key, and a person page issues a dozen
    statements. A statement does not change once built, so one object serves
    every request and thread, and its cache key is worked out once. So nothing
    in ``build`` may depend on the request, the user or the day: such values
    are ``bindparam``s, or arguments of ``build`` that take few values (a
    limit, whether the reader sees every violation).
    """
    return cache(build)


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection, _record):
    """WAL, foreign keys and a busy timeout on every SQLite connection."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Let SQLAlchemy's "begin" event below start transactions itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA busy_timeout = 10000")
    if cursor.execute("PRAGMA database_list").fetchone()[2]:
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


@event.listens_for(Engine, "begin")
def _begin_immediate_on_sqlite(connection):
    """Take SQLite's write lock at BEGIN, except on read-only connections.

    A deferred transaction that reads and then writes fails with SQLITE_BUSY
    when another connection committed in between; BEGIN IMMEDIATE makes writers
    queue instead. A connection opened with ``read_only_connection()`` (streamed
    exports), or the session once ``only_reads_from_here()`` has run (every
    GET request from its start), only reads, so it begins deferred and never
    holds up writers while it reads.
    """
    if connection.dialect.name == "sqlite":
        read_only = connection.get_execution_options().get("rudenim_read_only")
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def only_reads_from_here() -> None:
    """End the request's transaction and go on in one that takes no write lock.

    Every GET request begins so (``read_first``), and goes back to it after
    what it writes in ``writing()``. On SQLite a transaction that may write
    holds the database's one write lock from its first statement, so without
    this every page, even one that only reads, would wait for every other
    while it loads its rows and renders; with it, pages render side by side.
    A write after a rollback (a refusal's audit event) takes the lock again as
    usual.

    On PostgreSQL the reads then run outside a transaction (autocommit). At the
    default isolation, READ COMMITTED, each statement sees what was committed
    when it began either way; but a reading transaction ends in a ROLLBACK at
    the end of the request, and psycopg forgets its prepared statements at
    every ROLLBACK, so each page's queries would be parsed and planned afresh
    on every request (a sixth of the person page's time). The reads'
    connection refuses to write (``_refuse_writes_when_read_only``), so
    nothing can be committed statement by statement from here.
    """
    db.session.commit()
    options = {"rudenim_read_only": True}
    if db.session.get_bind().dialect.name == "postgresql":
        options["isolation_level"] = "AUTOCOMMIT"
    db.session.connection(execution_options=options)


def read_first() -> None:
    """Before each request: a GET (or HEAD) reads, until it says it writes."""
    if request.method not in SAFE_METHODS or request.endpoint == "static":
        return
    try:
        only_reads_from_here()
    except DBAPIError:
        # The database is out of reach: the view meets the same error and
        # answers for it (/healthz with its 503, a page with the error page).
        db.session.rollback()


def reading() -> bool:
    """Whether the session is in a transaction that only reads."""
    session = db.session()
    if not session.in_transaction():
        return False
    return bool(session.connection().get_execution_options().get("rudenim_read_only"))


@contextmanager
def writing() -> Iterator[None]:
    """Write what the block writes in a transaction of its own, in a request that reads.

    A GET request writes little: a page view's audit event, a session's
    last-seen time. In a request that is reading, the reads are committed
    first (there is nothing in them to write), the block's writes go in a
    transaction that takes SQLite's write lock at BEGIN, so the lock is held
    for those statements only, and are committed at its end; the request then
    reads on. Anywhere else (a form's POST, the command line) the block joins
    the transaction under way, which commits or rolls back as a whole.
    """
    if not reading():
        yield
        return
    db.session.commit()
    yield
    only_reads_from_here()


class WriteWhenReadOnly(RuntimeError):
    """A statement that writes, sent on a connection that only reads."""


#: How the statements a read-only connection may send begin: reads, SQLite's
#: BEGIN, and settings of the reading transaction (SET LOCAL in exports).
READS = ("SELECT", "WITH", "BEGIN", "SET", "SHOW")
#: A plan asked for, not run (the name search's estimates, ``cases.services``);
#: what follows it is checked.
PLAN = "EXPLAIN (FORMAT JSON) "


@event.listens_for(Engine, "before_cursor_execute")
def _refuse_writes_when_read_only(connection, _cursor, statement, _params, _context, _many):
    """A read-only connection (``only_reads_from_here``, ``read_only_connection``)
    sends no write: a view that wrote after promising to read would otherwise
    have it rolled back unseen, or on PostgreSQL committed on its own."""
    read_only = connection.get_execution_options().get("rudenim_read_only")
    if read_only and not statement.lstrip().removeprefix(PLAN)[:6].upper().startswith(READS):
        raise WriteWhenReadOnly(f"a read-only connection was asked to write: {statement[:60]}")


def read_only_connection():
    """A connection of its own for long reads (streamed exports); it never writes."""
    return db.engine.connect().execution_options(rudenim_read_only=True)


def refresh_statistics() -> None:
    """Let the query planner know the tables' sizes again (ANALYZE).

    After a bulk load or a large import the planner's picture is stale or, on a
    new SQLite file, missing, and it may then walk a whole index where a few
    lookups would do. PostgreSQL's autovacuum does this by itself later.
    """
    if db.engine.dialect.name == "postgresql":
        # VACUUM too: it marks the freshly written pages all-visible, so counts
        # can be answered from an index alone. It runs outside a transaction.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
        return
    with db.engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
        connection.commit()
