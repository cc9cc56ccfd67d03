"""Backups: ``flask backup create PATH`` and ``flask backup restore PATH``.

SQLite is copied with its online backup API (consistent while the app runs);
PostgreSQL with pg_dump in its custom format. A restore goes only into an
empty database and ends by verifying the restored audit chain.
"""

import shutil
import sqlite3
import subprocess
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from rudenim.audit.services import verify_chain
from rudenim.extensions import db


class BackupError(click.ClickException):
    """A backup or restore that did not happen, with the reason."""


def _libpq_url() -> str:
    url = make_url(db.engine.url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return path


def create_backup(path: Path) -> None:
    """Write a consistent copy of the database to ``path``."""
    if path.exists():
        raise BackupError(f"{path} exists; choose a new file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    dialect = db.engine.dialect.name
    if dialect == "sqlite":
        source = db.engine.raw_connection()
        try:
            target = sqlite3.connect(path)
            try:
                source.driver_connection.backup(target)
            finally:
                target.close()
        finally:
            source.close()
    elif dialect == "postgresql":
        subprocess.run(  # noqa: S603  (fixed arguments, no shell)
            [_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={path}", _libpq_url()],
            check=True,
        )
    else:
        raise BackupError(f"backups of {dialect} databases are not supported")


def _is_empty() -> bool:
    tables = inspect(db.engine).get_table_names()
    return not [name for name in tables if name != "alembic_version"]


def restore_backup(path: Path) -> None:
    """Restore ``path`` into the configured database, which must be empty."""
    if not path.is_file():
        raise BackupError(f"{path} is not a file")
    if not _is_empty():
        raise BackupError("the database is not empty; restore only into an empty database")
    dialect = db.engine.dialect.name
    if dialect == "sqlite":
        db.engine.dispose()
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            check = source.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise BackupError(f"the backup file is damaged: {check}")
            target = db.engine.raw_connection()
            try:
                source.backup(target.driver_connection)
            finally:
                target.close()
        finally:
            source.close()
    elif dialect == "postgresql":
        db.engine.dispose()
        subprocess.run(  # noqa: S603  (fixed arguments, no shell)
            [
                _tool("pg_restore"),
                "--no-owner",
                "--exit-on-error",
                f"--dbname={_libpq_url()}",
                str(path),
            ],
            check=True,
        )
    else:
        raise BackupError(f"restoring {dialect} databases is not supported")
    db.engine.dispose()


@click.group("backup")
def backup_cli():
    """Back up and restore the database."""


@backup_cli.command("create")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def create(path):
    """Write a consistent backup of the database to PATH."""
    try:
        create_backup(path)
    except subprocess.CalledProcessError as exc:
        raise BackupError(f"pg_dump failed with exit status {exc.returncode}") from None
    click.echo(f"backup written to {path} ({path.stat().st_size} bytes)")


@backup_cli.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def restore(path):
    """Restore PATH into the (empty) configured database and verify its audit chain."""
    try:
        restore_backup(path)
    except subprocess.CalledProcessError as exc:
        raise BackupError(f"pg_restore failed with exit status {exc.returncode}") from None
    report = verify_chain()
    db.session.rollback()
    if not report.ok:
        raise BackupError(
            f"restored, but the audit chain is BROKEN at event {report.broken_at}: {report.problem}"
        )
    click.echo(f"restored from {path}; audit chain OK ({report.count} events)")
