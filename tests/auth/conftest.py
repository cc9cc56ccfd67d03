"""Helpers for the account, sign-in and permission tests.

Every browser here chooses English first (POST /auth/language), so the
messages asserted read the same whatever catalogues are compiled.
"""

import html
import re

import pytest
from sqlalchemy import inspect, select

from rudenim.audit.models import AuditEvent
from rudenim.auth.models import LoginThrottle, User, UserSession
from rudenim.extensions import db as _db
from tests.conftest import PASSWORD, built_app, login  # noqa: F401  (built_app: for the tests here)

SESSION_COOKIE = "rudenim_session"


def choose_english(browser, csrf_token: str | None = None) -> None:
    """Switch the browser's interface language to English, as a user would."""
    data = {"locale": "en", "next": "/auth/login"}
    if csrf_token:
        data["csrf_token"] = csrf_token
    response = browser.post("/auth/language", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)


@pytest.fixture
def client(app):
    """A browser that reads the interface in English."""
    browser = app.test_client()
    choose_english(browser)
    return browser


@pytest.fixture
def browser(app):
    """Another browser (English), e.g. the same user's second device."""

    def _open():
        other = app.test_client()
        choose_english(other)
        return other

    return _open


def sign_in(browser, username: str, password: str = PASSWORD):
    """Sign in and insist that it worked."""
    response = login(browser, username, password)
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def messages(response) -> list[str]:
    """The flashed messages and field errors a page shows, as the user reads them."""
    text = response.get_data(as_text=True)
    found = re.findall(r'<p class="(?:flash flash-\w+|error)"[^>]*>(.*?)</p>', text, re.S)
    return [html.unescape(item).strip() for item in found]


def page_text(response) -> str:
    """The page as text with entities resolved (for error pages and secrets)."""
    return html.unescape(response.get_data(as_text=True))


def page_language(response) -> str:
    """The language the page says it is in (<html lang=...>)."""
    match = re.search(r'<html lang="([^"]+)"', response.get_data(as_text=True))
    assert match, "not an HTML page"
    return match.group(1)


def shown_password(response) -> str:
    """The one-time password a page shows once."""
    match = re.search(r'id="one-time-password"><code>([^<]+)</code>', page_text(response))
    assert match, response.get_data(as_text=True)
    return match.group(1)


def redirect_path(response) -> str:
    """Where a redirect sends the browser (path and query)."""
    assert response.status_code == 302, response.status_code
    return response.headers["Location"]


def session_value(browser, key: str):
    """A value in the browser's signed session cookie."""
    with browser.session_transaction() as session:
        return session.get(key)


def _as_dict(obj) -> dict:
    return {attr.key: getattr(obj, attr.key) for attr in inspect(type(obj)).column_attrs}


def user_row(app, username: str) -> dict | None:
    """The user's row as it is in the database now."""
    with app.app_context():
        user = _db.session.scalar(select(User).where(User.username == username))
        return None if user is None else _as_dict(user)


def sessions_of(app, username: str) -> list[dict]:
    """The user's session rows, oldest first."""
    with app.app_context():
        rows = _db.session.scalars(
            select(UserSession).join(User).where(User.username == username).order_by(UserSession.id)
        )
        return [_as_dict(row) for row in rows]


def throttle_of(app, username: str) -> dict | None:
    """The failed sign-ins counted for this username."""
    with app.app_context():
        row = _db.session.get(LoginThrottle, username)
        return None if row is None else _as_dict(row)


def usernames(app) -> list[str]:
    """Every account's username."""
    with app.app_context():
        return list(_db.session.scalars(select(User.username).order_by(User.username)))


def audit_events(app, action: str | None = None) -> list[AuditEvent]:
    """The audit trail (or the events of one action), oldest first."""
    with app.app_context():
        query = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        return list(_db.session.scalars(query))


def snapshot(app) -> dict:
    """Every row of every table but the audit trail (which also records refusals)."""
    with app.app_context():
        # Only tables the migrations have made: models still being written may have none yet.
        existing = set(inspect(_db.engine).get_table_names())
        return {
            table.name: sorted((tuple(row) for row in _db.session.execute(select(table))), key=repr)
            for table in _db.metadata.sorted_tables
            if table.name in existing and not table.name.startswith("audit_")
        }
