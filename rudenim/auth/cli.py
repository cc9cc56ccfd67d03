"""``flask users …``: accounts from the command line, for operators' scripts."""

import sys

import click
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from rudenim.audit.context import Actor, acting_as
from rudenim.auth import services
from rudenim.auth.models import User
from rudenim.errors import DomainError
from rudenim.extensions import db

users_cli = AppGroup("users", help="Manage user accounts.")

CLI_ACTOR = Actor(user_id=None, name="cli")


def _read_password(from_stdin: bool) -> str | None:
    if not from_stdin:
        return None
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if not password:
        raise click.ClickException("no password on standard input")
    return password


def _fail(exc: DomainError):
    db.session.rollback()
    raise click.ClickException(str(exc))


def _existing(username: str) -> User:
    user = services.find_user(username)
    if user is None:
        raise click.ClickException(f"no user named {services.normalise_username(username)!r}")
    return user


@users_cli.command("create")
@click.argument("username")
@click.option("--role", required=True, help="officer, supervisor, viewer or admin")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--one-time", is_flag=True, help="The user must change it at first sign-in.")
@click.option("--full-name", default="", help="The person's name.")
def create(username, role, password_stdin, one_time, full_name):
    """Create an account (a one-time password is generated without --password-stdin)."""
    password = _read_password(password_stdin)
    with acting_as(CLI_ACTOR):
        try:
            user, given = services.create_user(
                username, role, password=password, one_time=one_time, full_name=full_name
            )
        except DomainError as exc:
            _fail(exc)
        db.session.commit()
    click.echo(f"created {user.username} ({user.role.value})")
    if password is None:
        click.echo(f"one-time password: {given}")


@users_cli.command("list")
def list_users():
    """Every account: username, role, state."""
    for user in db.session.scalars(select(User).order_by(User.username)):
        state = "active" if user.is_active_account else "deactivated"
        extra = " must-change-password" if user.must_change_password else ""
        click.echo(f"{user.username}\t{user.role.value}\t{state}{extra}")


@users_cli.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, required=True, help="Read it from stdin.")
@click.option("--one-time", is_flag=True, help="The user must change it at next sign-in.")
def set_password(username, password_stdin, one_time):
    """Set an account's password; its open sessions end."""
    password = _read_password(password_stdin)
    user = _existing(username)
    with acting_as(CLI_ACTOR):
        try:
            services.set_password(user, password, one_time=one_time)
        except DomainError as exc:
            _fail(exc)
        db.session.commit()
    click.echo(f"password of {user.username} changed")


@users_cli.command("deactivate")
@click.argument("username")
def deactivate(username):
    """Stop an account from signing in; its open sessions end."""
    user = _existing(username)
    with acting_as(CLI_ACTOR):
        try:
            services.deactivate_user(user)
        except DomainError as exc:
            _fail(exc)
        db.session.commit()
    click.echo(f"{user.username} deactivated")


@click.command("bootstrap")
@with_appcontext
def bootstrap():
    """Create the first account, ``admin``, with a one-time password, if there is no user."""
    with acting_as(Actor(user_id=None, name="bootstrap")):
        password = services.bootstrap_admin()
        db.session.commit()
    if password:
        banner = "=" * 64
        click.echo(banner)
        click.echo("Created the first account. It is shown only this once:")
        click.echo("  username: admin")
        click.echo(f"  one-time password: {password}")
        click.echo("You will choose a new password at the first sign-in.")
        click.echo(banner)
