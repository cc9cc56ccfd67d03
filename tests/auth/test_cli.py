"""``flask users …`` and ``flask bootstrap``: accounts from the command line."""

import re

import pytest

from rudenim.auth import passwords
from tests.auth.conftest import (
    audit_events,
    built_app,
    sessions_of,
    sign_in,
    snapshot,
    user_row,
    usernames,
)
from tests.conftest import PASSWORD

NEW_PASSWORD = "a fresh and long passphrase"


@pytest.fixture
def app(database, tmp_path):
    """The command line speaks the default language: English here, whatever is compiled."""
    with built_app(database, tmp_path, BABEL_DEFAULT_LOCALE="en") as application:
        yield application


def flask(runner, *args, stdin=None):
    """Run ``flask ARGS`` with ``stdin`` as standard input."""
    return runner.invoke(args=list(args), input=stdin)


def password_works(app, username, password) -> bool:
    stored = user_row(app, username)["password_hash"]
    with app.app_context():
        return passwords.check_password(stored, password)


# --- users create ------------------------------------------------------------------


def test_create_with_a_password_from_standard_input(app, runner):
    result = flask(
        runner,
        *("users", "create", "Ratna", "--role", "supervisor", "--password-stdin"),
        *("--full-name", "Ratna Sari"),
        stdin=PASSWORD + "\n",
    )

    assert result.exit_code == 0, result.output
    assert result.output == "created ratna (supervisor)\n"
    row = user_row(app, "ratna")
    assert row["role"] == "supervisor"
    assert row["full_name"] == "Ratna Sari"
    assert row["must_change_password"] is False
    assert row["password_hash"].startswith("$argon2id$")
    assert password_works(app, "ratna", PASSWORD)
    (event,) = audit_events(app, "create")
    assert (event.object_type, event.actor_name) == ("User", "cli")


def test_create_one_time_with_a_given_password(app, runner):
    result = flask(
        runner,
        *("users", "create", "slamet", "--role", "officer", "--password-stdin", "--one-time"),
        stdin=PASSWORD + "\n",
    )

    assert result.exit_code == 0, result.output
    assert user_row(app, "slamet")["must_change_password"] is True
    assert PASSWORD not in result.output


def test_create_without_a_password_prints_a_one_time_password(app, runner, client):
    result = flask(runner, "users", "create", "teguh", "--role", "viewer")

    assert result.exit_code == 0, result.output
    given = re.search(r"^one-time password: (\S+)$", result.output, re.M).group(1)
    assert user_row(app, "teguh")["must_change_password"] is True
    assert password_works(app, "teguh", given)
    assert sign_in(client, "teguh", given).headers["Location"] == "/auth/password"


# --- users list, set-password, deactivate -------------------------------------------


def test_list_shows_every_account_and_its_state(runner, make_user, app):
    make_user("supervisor", username="bambang")
    make_user("viewer", username="cahya", one_time=True)
    make_user("officer", username="agus")
    flask(runner, "users", "deactivate", "agus")

    result = flask(runner, "users", "list")

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "agus\tofficer\tdeactivated",
        "bambang\tsupervisor\tactive",
        "cahya\tviewer\tactive must-change-password",
    ]


def test_set_password_replaces_it_and_ends_the_sessions(app, runner, client, make_user):
    make_user("officer", username="umar")
    sign_in(client, "umar")

    result = flask(runner, "users", "set-password", "UMAR", "--password-stdin", stdin=NEW_PASSWORD)

    assert result.exit_code == 0, result.output
    assert result.output == "password of umar changed\n"
    assert password_works(app, "umar", NEW_PASSWORD)
    assert not password_works(app, "umar", PASSWORD)
    assert sessions_of(app, "umar")[0]["ended_reason"] == "password_reset"
    assert client.get("/").status_code == 302


def test_set_password_one_time(app, runner, make_user):
    make_user("officer", username="umar")

    result = flask(
        runner,
        *("users", "set-password", "umar", "--password-stdin", "--one-time"),
        stdin=NEW_PASSWORD + "\n",
    )

    assert result.exit_code == 0, result.output
    assert user_row(app, "umar")["must_change_password"] is True


def test_deactivate_stops_the_account_and_its_sessions(app, runner, client, make_user):
    make_user("officer", username="wati")
    sign_in(client, "wati")

    result = flask(runner, "users", "deactivate", "wati")

    assert result.exit_code == 0, result.output
    assert result.output == "wati deactivated\n"
    assert user_row(app, "wati")["is_active_account"] is False
    assert sessions_of(app, "wati")[0]["ended_reason"] == "deactivated"
    assert client.get("/").status_code == 302


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (
            ("users", "create", "bob", "--role", "warden", "--password-stdin"),
            PASSWORD,
            "There is no role warden. Choose one of: officer, supervisor, viewer, admin.",
        ),
        (
            ("users", "create", "Eka", "--role", "officer", "--password-stdin"),
            PASSWORD,
            "The username eka is already taken.",
        ),
        (
            ("users", "create", "bob", "--role", "officer", "--password-stdin"),
            "too-short",
            "The password must be at least 12 characters long.",
        ),
        (
            ("users", "create", "bob", "--role", "officer", "--password-stdin"),
            "passwordpassword",
            "This password is too common. Choose one that is harder to guess.",
        ),
        (
            ("users", "create", "bob", "--role", "officer", "--password-stdin"),
            "bob-at-the-centre",
            "The password must not contain the username.",
        ),
        (
            ("users", "create", "bob", "--role", "officer", "--password-stdin"),
            "",
            "no password on standard input",
        ),
        (
            ("users", "create", "b", "--role", "officer", "--password-stdin"),
            PASSWORD,
            "A username has 3 to 64 characters",
        ),
        (("users", "create", "bob"), None, "Missing option '--role'"),
        (
            ("users", "set-password", "nobody", "--password-stdin"),
            NEW_PASSWORD,
            "no user named 'nobody'",
        ),
        (
            ("users", "set-password", "eka", "--password-stdin"),
            "too-short",
            "The password must be at least 12 characters long.",
        ),
        (("users", "set-password", "eka"), NEW_PASSWORD, "Missing option '--password-stdin'"),
        (("users", "deactivate", "nobody"), None, "no user named 'nobody'"),
        (("users", "deactivate", "fajar"), None, "This account is already deactivated."),
    ],
    ids=[
        "create-unknown-role",
        "create-duplicate",
        "create-short-password",
        "create-common-password",
        "create-password-with-username",
        "create-empty-password",
        "create-bad-username",
        "create-without-role",
        "set-password-unknown-user",
        "set-password-weak",
        "set-password-without-stdin",
        "deactivate-unknown-user",
        "deactivate-twice",
    ],
)
def test_a_refused_command_says_why_and_changes_nothing(
    app, runner, make_user, args, stdin, message
):
    make_user("officer", username="eka")
    make_user("officer", username="fajar")
    flask(runner, "users", "deactivate", "fajar")
    before = snapshot(app)
    trail = len(audit_events(app))

    result = flask(runner, *args, stdin=None if stdin is None else stdin + "\n")

    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert snapshot(app) == before
    assert len(audit_events(app)) == trail


# --- bootstrap ------------------------------------------------------------------------


def test_bootstrap_creates_the_first_administrator_once(app, runner, client):
    result = flask(runner, "bootstrap")

    assert result.exit_code == 0, result.output
    assert "  username: admin" in result.output
    given = re.search(r"one-time password: (\S+)", result.output).group(1)
    row = user_row(app, "admin")
    assert row["role"] == "admin"
    assert row["must_change_password"] is True
    assert sign_in(client, "admin", given).headers["Location"] == "/auth/password"
    before = snapshot(app)

    again = flask(runner, "bootstrap")

    assert again.exit_code == 0, again.output
    assert again.output == ""
    assert usernames(app) == ["admin"]
    assert snapshot(app) == before


def test_bootstrap_does_nothing_when_any_account_exists(app, runner, make_user):
    make_user("officer", username="gita")

    result = flask(runner, "bootstrap")

    assert result.exit_code == 0, result.output
    assert result.output == ""
    assert usernames(app) == ["gita"]
