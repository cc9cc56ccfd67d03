"""Signing in and out, passwords, sessions and user administration, through the pages."""

import json
import re
from datetime import timedelta

import pytest

from rudenim.auth.models import LoginThrottle, User
from rudenim.clock import utcnow
from rudenim.extensions import db as _db
from tests.auth.conftest import (
    SESSION_COOKIE,
    audit_events,
    built_app,
    choose_english,
    messages,
    page_language,
    page_text,
    redirect_path,
    session_value,
    sessions_of,
    shown_password,
    sign_in,
    snapshot,
    throttle_of,
    user_row,
    usernames,
)
from tests.conftest import PASSWORD, login

INVALID = "Invalid username or password."
NEW_PASSWORD = "a fresh and long passphrase"


def locked_minutes(response) -> int:
    """The wait the lockout message names, in minutes."""
    (text,) = messages(response)
    match = re.search(
        r"Too many failed sign-ins for this username\. Try again in (\d+) minute", text
    )
    assert match, text
    assert "ask an administrator to unlock the account" in text
    return int(match.group(1))


def expire_lock(app, username: str) -> None:
    """Let the lock run out, as if its delay had passed."""
    with app.app_context():
        throttle = _db.session.get(LoginThrottle, username)
        throttle.locked_until = utcnow() - timedelta(seconds=1)
        _db.session.commit()


def set_active_flag(app, username: str, active: bool) -> None:
    """Change the account's state behind the application's back."""
    with app.app_context():
        user = _db.session.query(User).filter_by(username=username).one()
        user.is_active_account = active
        _db.session.commit()


# --- signing in ----------------------------------------------------------------


def test_anonymous_visitor_is_sent_to_sign_in_and_back(client, make_user):
    make_user("officer", username="ani")

    response = client.get("/")
    assert redirect_path(response) == "/auth/login?next=/"
    page = client.get(redirect_path(response))
    assert "Please sign in to continue." in messages(page)

    response = client.post(
        "/auth/login", data={"username": "ani", "password": PASSWORD, "next": "/"}
    )
    assert redirect_path(response) == "/"
    dashboard = client.get("/")
    assert dashboard.status_code == 200
    assert '<a href="/auth/account">ani</a>' in page_text(dashboard)


def test_sign_in_goes_to_the_dashboard_and_opens_one_session(app, client, make_user):
    make_user("officer", username="budi")

    response = login(client, "budi")

    assert redirect_path(response) == "/"
    assert client.get("/").status_code == 200
    (row,) = sessions_of(app, "budi")
    assert row["ended_at"] is None
    assert [event.object_id for event in audit_events(app, "login")] == [
        str(user_row(app, "budi")["id"])
    ]


def test_username_is_not_case_sensitive(client, make_user):
    make_user("officer", username="citra")

    assert redirect_path(login(client, "  Citra ")) == "/"


@pytest.mark.parametrize(
    ("target", "lands_on"),
    [
        ("/auth/account", "/auth/account"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
    ],
)
def test_sign_in_returns_only_to_pages_of_this_site(client, make_user, target, lands_on):
    make_user("officer", username="dodi")

    response = client.post(
        "/auth/login", data={"username": "dodi", "password": PASSWORD, "next": target}
    )

    assert redirect_path(response) == lands_on


def test_signed_in_user_visiting_the_sign_in_page_goes_to_the_dashboard(client, login_as):
    login_as("viewer")

    assert redirect_path(client.get("/auth/login")) == "/"


@pytest.mark.parametrize(
    ("username", "password"),
    [("eka", "not the right password"), ("nobody-here", PASSWORD)],
    ids=["wrong-password", "unknown-user"],
)
def test_wrong_password_and_unknown_user_read_the_same(app, client, make_user, username, password):
    make_user("officer", username="eka")
    before = user_row(app, "eka")

    response = login(client, username, password)

    assert response.status_code == 200
    assert messages(response) == [INVALID]
    assert session_value(client, "sid") is None
    assert client.get("/").status_code == 302
    assert user_row(app, "eka") == before
    assert sessions_of(app, "eka") == []
    assert throttle_of(app, username)["failures"] == 1
    (event,) = audit_events(app, "login_failed")
    assert json.loads(event.details) == {"username": username, "reason": "bad_credentials"}


def test_empty_form_is_refused_without_counting_a_failure(app, client, make_user):
    make_user("officer", username="fajar")

    response = client.post("/auth/login", data={"username": "fajar", "password": ""})

    assert response.status_code == 200
    assert "This field is required." in messages(response)
    assert throttle_of(app, "fajar") is None
    assert audit_events(app, "login_failed") == []


def test_five_failures_lock_the_username_with_a_growing_delay(app, client, make_user):
    make_user("officer", username="gita")
    before = user_row(app, "gita")

    for _attempt in range(4):
        assert messages(login(client, "gita", "guess")) == [INVALID]
    assert locked_minutes(login(client, "gita", "guess")) == 1

    # While locked, even the right password does not open a session.
    assert locked_minutes(login(client, "gita", PASSWORD)) == 1
    assert sessions_of(app, "gita") == []
    assert len(audit_events(app, "login_refused_locked")) == 1

    expire_lock(app, "gita")
    assert locked_minutes(login(client, "gita", "guess")) == 2
    expire_lock(app, "gita")
    assert locked_minutes(login(client, "gita", "guess")) == 4

    assert throttle_of(app, "gita")["failures"] == 7
    assert user_row(app, "gita") == before


def test_a_username_without_account_locks_exactly_like_one_with(app, client, make_user):
    make_user("officer", username="hadi")
    real = [messages(login(client, "hadi", "guess")) for _ in range(6)]
    unknown = [messages(login(client, "ghost", "guess")) for _ in range(6)]

    assert real == unknown
    assert locked_minutes(login(client, "ghost", "guess")) == 1
    assert usernames(app) == ["hadi"]


def test_an_administrator_unlocks_a_locked_account(app, client, browser, make_user, login_as):
    user_id = make_user("officer", username="indah")
    staff = browser()
    for _attempt in range(5):
        login(staff, "indah", "guess")
    assert locked_minutes(login(staff, "indah", PASSWORD)) == 1

    login_as("admin")
    listing = client.get("/auth/users/")
    assert re.search(r"indah</a>.*?Locked", page_text(listing), re.S)
    response = client.post(f"/auth/users/{user_id}/unlock", follow_redirects=True)

    assert "The account has been unlocked." in messages(response)
    assert throttle_of(app, "indah") is None
    assert [event.object_id for event in audit_events(app, "unlock")] == [str(user_id)]
    assert redirect_path(login(staff, "indah", PASSWORD)) == "/"


def test_unlocking_an_account_that_is_not_locked_says_so(app, client, make_user, login_as):
    user_id = make_user("officer", username="joko")
    login_as("admin")
    before = snapshot(app)

    response = client.post(f"/auth/users/{user_id}/unlock", follow_redirects=True)

    assert "This account is not locked." in messages(response)
    assert snapshot(app) == before


def test_deactivated_account_is_told_so_only_with_the_right_password(app, client, make_user):
    make_user("officer", username="kartini")
    set_active_flag(app, "kartini", False)

    right = login(client, "kartini", PASSWORD)
    wrong = login(client, "kartini", "guess")

    assert right.status_code == 200
    assert messages(right) == ["This account has been deactivated. Ask an administrator."]
    assert messages(wrong) == [INVALID]
    assert sessions_of(app, "kartini") == []
    assert client.get("/").status_code == 302


class TestPerAddressLimit:
    @pytest.fixture
    def app(self, database, tmp_path):
        with built_app(
            database, tmp_path, RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute"
        ) as application:
            yield application

    def test_the_fourth_sign_in_within_a_minute_is_refused(self, app, client, make_user):
        make_user("officer", username="lina")
        for _attempt in range(3):
            assert messages(login(client, "lina", "guess")) == [INVALID]

        response = login(client, "lina", PASSWORD)

        assert response.status_code == 429
        assert "Too many attempts. Wait a moment and try again." in page_text(response)
        assert sessions_of(app, "lina") == []
        assert throttle_of(app, "lina")["failures"] == 3
        # Reading the form is not limited; only sending it is.
        assert client.get("/auth/login").status_code == 200

    def test_the_limit_counts_each_address_on_its_own(self, app, client, make_user):
        make_user("officer", username="lina")
        for _attempt in range(4):
            login(client, "lina", "guess")

        elsewhere = client.post(
            "/auth/login",
            data={"username": "lina", "password": PASSWORD},
            environ_base={"REMOTE_ADDR": "10.20.30.40"},
        )

        assert redirect_path(elsewhere) == "/"


class TestCsrf:
    @pytest.fixture
    def app(self, database, tmp_path):
        with built_app(database, tmp_path, WTF_CSRF_ENABLED=True) as application:
            yield application

    @pytest.fixture
    def client(self, app):
        browser = app.test_client()
        choose_english(browser, self.token(browser))
        return browser

    @staticmethod
    def token(browser) -> str:
        page = browser.get("/auth/login").get_data(as_text=True)
        return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)

    def test_sign_in_without_the_token_is_refused(self, app, client, make_user):
        make_user("officer", username="maya")
        before = snapshot(app)
        trail = len(audit_events(app))

        response = login(client, "maya", PASSWORD)

        assert response.status_code == 400
        assert (
            "The form had expired or was sent from elsewhere. Reload the page and send it again."
            in page_text(response)
        )
        assert snapshot(app) == before
        assert len(audit_events(app)) == trail
        assert client.get("/").status_code == 302

    def test_sign_in_with_the_token_of_the_form_works(self, app, client, make_user):
        make_user("officer", username="maya")

        response = client.post(
            "/auth/login",
            data={"username": "maya", "password": PASSWORD, "csrf_token": self.token(client)},
        )

        assert redirect_path(response) == "/"

    def test_sign_out_without_the_token_leaves_the_session_open(self, app, client, make_user):
        make_user("officer", username="maya")
        client.post(
            "/auth/login",
            data={"username": "maya", "password": PASSWORD, "csrf_token": self.token(client)},
        )

        response = client.post("/auth/logout")

        assert response.status_code == 400
        assert sessions_of(app, "maya")[0]["ended_at"] is None
        assert client.get("/").status_code == 200


# --- one-time passwords and changing one's password ---------------------------------


def change_password(browser, current, new, confirm=None):
    return browser.post(
        "/auth/password",
        data={
            "current_password": current,
            "password": new,
            "confirm": new if confirm is None else confirm,
        },
    )


def test_one_time_password_must_be_replaced_before_anything_else(app, client, make_user):
    make_user("officer", username="nadia", one_time=True)

    response = login(client, "nadia")
    assert redirect_path(response) == "/auth/password"

    for path in ("/", "/auth/account"):
        response = client.get(path)
        assert redirect_path(response) == "/auth/password"
    page = client.get("/auth/password")
    assert page.status_code == 200
    assert "Choose a new password before you continue." in messages(page)
    assert "You signed in with a one-time password." in page_text(page)
    assert redirect_path(client.post("/auth/logout")) == "/auth/login"
    assert sessions_of(app, "nadia")[0]["ended_reason"] == "logout"


@pytest.mark.parametrize(
    ("current", "new", "confirm", "message"),
    [
        (PASSWORD, "Short-pw-1", None, "The password must be at least 12 characters long."),
        (
            PASSWORD,
            "passwordpassword",
            None,
            "This password is too common. Choose one that is harder to guess.",
        ),
        (
            PASSWORD,
            "ilovemyfamily",
            None,
            "This password is too common. Choose one that is harder to guess.",
        ),
        (PASSWORD, "call-me-Oktavia-2024", None, "The password must not contain the username."),
        (PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "!", "The two new passwords are not the same."),
        ("not my password", NEW_PASSWORD, None, "The current password is not correct."),
        (PASSWORD, PASSWORD, None, "The new password must differ from the current one."),
    ],
    ids=["short", "repeated-word", "common", "username", "mismatch", "wrong-current", "same"],
)
def test_a_weak_or_wrong_new_password_is_refused(
    app, client, make_user, current, new, confirm, message
):
    make_user("officer", username="oktavia", one_time=True)
    sign_in(client, "oktavia")
    before = user_row(app, "oktavia")

    response = change_password(client, current, new, confirm)

    assert response.status_code == 200
    assert message in messages(response)
    assert user_row(app, "oktavia") == before
    assert redirect_path(client.get("/")) == "/auth/password"


def test_changing_the_password_ends_the_other_sessions(app, client, browser, make_user):
    make_user("officer", username="putri", one_time=True)
    other_device = browser()
    sign_in(client, "putri")
    sign_in(other_device, "putri")
    old_hash = user_row(app, "putri")["password_hash"]

    response = change_password(client, PASSWORD, NEW_PASSWORD)

    assert redirect_path(response) == "/"
    assert "Your password has been changed. Your other sessions have ended." in messages(
        client.get("/")
    )
    row = user_row(app, "putri")
    assert row["password_hash"] != old_hash
    assert row["must_change_password"] is False

    elsewhere = other_device.get("/auth/password")
    assert redirect_path(elsewhere) == "/auth/login?next=/auth/password"
    assert "Your session has ended. Please sign in again." in messages(
        other_device.get(redirect_path(elsewhere))
    )
    this, other = sessions_of(app, "putri")
    assert this["ended_at"] is None
    assert other["ended_reason"] == "password_changed"

    third = browser()
    assert messages(login(third, "putri", PASSWORD)) == [INVALID]
    assert redirect_path(login(third, "putri", NEW_PASSWORD)) == "/"


# --- sessions ----------------------------------------------------------------------


def test_sign_out_ends_the_session_on_the_server(app, client, make_user):
    make_user("officer", username="rina")
    sign_in(client, "rina")
    copied_cookie = client.get_cookie(SESSION_COOKIE).value

    response = client.post("/auth/logout")

    assert redirect_path(response) == "/auth/login"
    assert "You have signed out." in messages(client.get("/auth/login"))
    (row,) = sessions_of(app, "rina")
    assert row["ended_at"] is not None
    assert row["ended_reason"] == "logout"
    assert len(audit_events(app, "logout")) == 1

    # The cookie as it was before signing out opens nothing any more.
    client.set_cookie(SESSION_COOKIE, copied_cookie)
    response = client.get("/")
    assert redirect_path(response) == "/auth/login?next=/"
    assert "Your session has ended. Please sign in again." in messages(
        client.get(redirect_path(response))
    )


def test_sign_out_is_not_possible_with_get(app, client, make_user):
    make_user("officer", username="sari")
    sign_in(client, "sari")

    response = client.get("/auth/logout")

    assert response.status_code == 405
    assert sessions_of(app, "sari")[0]["ended_at"] is None
    assert client.get("/").status_code == 200


def test_signing_in_replaces_whatever_session_the_browser_had(app, client, make_user):
    make_user("officer", username="tono")
    with client.session_transaction() as session:
        session["sid"] = "planted-by-someone-else"

    sign_in(client, "tono")
    first = session_value(client, "sid")
    client.post("/auth/logout")
    sign_in(client, "tono")
    second = session_value(client, "sid")

    assert first not in (None, "planted-by-someone-else")
    assert second not in (None, first)
    first_row, second_row = sessions_of(app, "tono")
    assert first_row["token_hash"] != second_row["token_hash"]
    assert first_row["ended_reason"] == "logout"
    assert second_row["ended_at"] is None


def make_idle(app, browser, minutes: int) -> None:
    with browser.session_transaction() as session:
        session["last_active"] = (utcnow() - timedelta(minutes=minutes)).isoformat()


def test_an_idle_session_expires(app, client, make_user):
    make_user("officer", username="umar")
    sign_in(client, "umar")

    make_idle(app, client, app.config["SESSION_IDLE_MINUTES"] + 1)
    response = client.get("/auth/account")

    assert redirect_path(response) == "/auth/login?next=/auth/account"
    assert "Your session expired after a period of inactivity. Please sign in again." in messages(
        client.get(redirect_path(response))
    )
    assert sessions_of(app, "umar")[0]["ended_reason"] == "idle"
    assert client.get("/").status_code == 302


def test_a_session_used_within_the_idle_limit_stays_open(app, client, make_user):
    make_user("officer", username="vina")
    sign_in(client, "vina")

    make_idle(app, client, app.config["SESSION_IDLE_MINUTES"] - 1)

    assert client.get("/").status_code == 200
    assert sessions_of(app, "vina")[0]["ended_at"] is None


def test_an_open_session_of_a_deactivated_account_stops_at_the_next_request(app, client, make_user):
    make_user("officer", username="wati")
    sign_in(client, "wati")
    assert client.get("/").status_code == 200

    set_active_flag(app, "wati", False)
    response = client.get("/")

    assert redirect_path(response) == "/auth/login?next=/"
    assert "Your account has been deactivated." in messages(client.get(redirect_path(response)))
    assert sessions_of(app, "wati")[0]["ended_reason"] == "deactivated"


def session_cookie_header(response) -> str:
    (header,) = [
        value
        for value in response.headers.getlist("Set-Cookie")
        if value.startswith(SESSION_COOKIE + "=")
    ]
    return header


def test_session_cookie_is_http_only_and_same_site_lax(client, make_user):
    make_user("officer", username="yanti")

    header = session_cookie_header(login(client, "yanti"))

    assert "HttpOnly" in header
    assert "SameSite=Lax" in header
    assert "Secure" not in header


class TestSecureCookie:
    @pytest.fixture
    def app(self, database, tmp_path):
        with built_app(database, tmp_path, SESSION_COOKIE_SECURE=True) as application:
            yield application

    def test_session_cookie_is_secure_when_served_over_https(self, app, make_user):
        make_user("officer", username="yanti")
        browser = app.test_client()

        response = browser.post(
            "/auth/login",
            data={"username": "yanti", "password": PASSWORD},
            base_url="https://localhost",
        )

        header = session_cookie_header(response)
        assert response.status_code == 302
        assert "Secure" in header
        assert "HttpOnly" in header
        assert "SameSite=Lax" in header


# --- language ------------------------------------------------------------------------


def test_the_chosen_language_is_kept_on_the_account(app, browser, make_user):
    make_user("officer", username="zainal")
    indonesian = app.test_client()
    sign_in(indonesian, "zainal")
    assert page_language(indonesian.get("/")) == "id"

    response = indonesian.post("/auth/language", data={"locale": "en", "next": "/"})

    assert redirect_path(response) == "/"
    assert page_language(indonesian.get("/")) == "en"
    assert user_row(app, "zainal")["locale"] == "en"

    indonesian.post("/auth/logout")
    assert page_language(indonesian.get("/auth/login")) == "en"
    # Another browser, which never chose: the account's choice applies.
    other = app.test_client()
    sign_in(other, "zainal")
    assert page_language(other.get("/")) == "en"


def test_a_language_chosen_before_signing_in_stays_after(client, make_user):
    make_user("officer", username="agus")

    sign_in(client, "agus")

    assert page_language(client.get("/")) == "en"


def test_an_unknown_language_is_refused(app, client, login_as):
    user_id = login_as("officer")
    before = snapshot(app)

    response = client.post(
        "/auth/language", data={"locale": "xx", "next": "/"}, follow_redirects=True
    )

    assert "That language is not available." in messages(response)
    assert page_language(response) == "en"
    assert snapshot(app) == before
    with app.app_context():
        assert _db.session.get(User, user_id).locale is None


# --- user administration ------------------------------------------------------------


def test_the_user_list_shows_every_account_and_its_state(app, client, make_user, login_as):
    make_user("supervisor", username="bambang", full_name="Bambang Susilo")
    make_user("viewer", username="cahya", one_time=True)
    set_active_flag(app, "cahya", False)
    login_as("admin")

    response = client.get("/auth/users/")

    text = page_text(response)
    assert response.status_code == 200
    assert re.search(r"bambang</a></td>\s*<td>Bambang Susilo</td>\s*<td>Supervisor</td>", text)
    assert re.search(r"cahya</a>.*?Viewer.*?Deactivated.*?One-time password", text, re.S)


def test_an_administrator_creates_an_account_with_a_one_time_password(
    app, client, browser, login_as
):
    login_as("admin")
    assert client.get("/auth/users/new").status_code == 200

    response = client.post(
        "/auth/users/new",
        data={"username": "Dian.Lestari", "full_name": " Dian Lestari ", "role": "supervisor"},
    )

    assert response.status_code == 200
    assert "One-time password for dian.lestari" in page_text(response)
    password = shown_password(response)
    row = user_row(app, "dian.lestari")
    assert row["role"] == "supervisor"
    assert row["full_name"] == "Dian Lestari"
    assert row["must_change_password"] is True
    assert row["password_hash"].startswith("$argon2id$")
    # Shown once: the account's page does not show it again.
    assert password not in page_text(client.get(f"/auth/users/{row['id']}"))

    newcomer = browser()
    assert redirect_path(login(newcomer, "dian.lestari", password)) == "/auth/password"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"username": "EKO", "role": "officer"},
            "The username eko is already taken.",
        ),
        ({"username": "fitri", "role": "warden"}, "Not a valid choice."),
        (
            {"username": "no spaces", "role": "officer"},
            "A username has 3 to 64 characters: letters, digits, dot, dash or underscore, "
            "starting with a letter or digit.",
        ),
        ({"username": "", "role": "officer"}, "This field is required."),
    ],
    ids=["duplicate", "unknown-role", "bad-username", "no-username"],
)
def test_a_bad_new_account_is_refused(app, client, make_user, login_as, data, message):
    make_user("officer", username="eko")
    login_as("admin")
    before = snapshot(app)
    trail = len(audit_events(app))

    response = client.post("/auth/users/new", data=data)

    assert response.status_code == 200
    assert message in messages(response)
    assert 'id="one-time-password"' not in response.get_data(as_text=True)
    assert snapshot(app) == before
    assert len(audit_events(app)) == trail


def test_deactivating_and_reactivating_an_account(app, client, browser, make_user, login_as):
    user_id = make_user("officer", username="gilang")
    their_browser = browser()
    sign_in(their_browser, "gilang")
    login_as("admin")

    response = client.post(f"/auth/users/{user_id}/deactivate", follow_redirects=True)

    assert "The account has been deactivated and its sessions ended." in messages(response)
    assert "Reactivate" in page_text(response)
    assert user_row(app, "gilang")["is_active_account"] is False
    assert sessions_of(app, "gilang")[0]["ended_reason"] == "deactivated"
    assert redirect_path(their_browser.get("/")) == "/auth/login?next=/"
    refused = login(browser(), "gilang")
    assert messages(refused) == ["This account has been deactivated. Ask an administrator."]

    again = client.post(f"/auth/users/{user_id}/deactivate", follow_redirects=True)
    assert "This account is already deactivated." in messages(again)

    response = client.post(f"/auth/users/{user_id}/reactivate", follow_redirects=True)

    assert "The account can sign in again." in messages(response)
    assert user_row(app, "gilang")["is_active_account"] is True
    assert redirect_path(login(browser(), "gilang")) == "/"
    again = client.post(f"/auth/users/{user_id}/reactivate", follow_redirects=True)
    assert "This account is already active." in messages(again)


def test_an_administrator_cannot_deactivate_themself(app, client, login_as):
    admin_id = login_as("admin")
    before = snapshot(app)

    response = client.post(f"/auth/users/{admin_id}/deactivate", follow_redirects=True)

    assert "You cannot deactivate your own account." in messages(response)
    assert snapshot(app) == before
    assert client.get("/auth/users/").status_code == 200


def test_resetting_to_a_one_time_password(app, client, browser, make_user, login_as):
    user_id = make_user("officer", username="hasan")
    their_browser = browser()
    sign_in(their_browser, "hasan")
    login_as("admin")

    response = client.post(f"/auth/users/{user_id}/reset-password")

    assert response.status_code == 200
    password = shown_password(response)
    assert user_row(app, "hasan")["must_change_password"] is True
    assert sessions_of(app, "hasan")[0]["ended_reason"] == "password_reset"
    assert redirect_path(their_browser.get("/")) == "/auth/login?next=/"
    assert messages(login(browser(), "hasan", PASSWORD)) == [INVALID]
    assert redirect_path(login(browser(), "hasan", password)) == "/auth/password"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/auth/users/999"),
        ("post", "/auth/users/999/deactivate"),
        ("post", "/auth/users/999/reactivate"),
        ("post", "/auth/users/999/reset-password"),
        ("post", "/auth/users/999/unlock"),
    ],
)
def test_an_account_that_does_not_exist_is_not_found(app, client, login_as, method, path):
    login_as("admin")
    before = snapshot(app)

    response = getattr(client, method)(path)

    assert response.status_code == 404
    assert "There is no page at this address." in page_text(response)
    assert snapshot(app) == before


# --- passwords in the audit trail --------------------------------------------------


def test_passwords_never_enter_the_audit_trail(app, client, browser, login_as):
    login_as("admin")
    created = client.post("/auth/users/new", data={"username": "irawan", "role": "officer"})
    one_time = shown_password(created)
    user_id = user_row(app, "irawan")["id"]
    first_hash = user_row(app, "irawan")["password_hash"]
    theirs = browser()
    sign_in(theirs, "irawan", one_time)
    login(browser(), "irawan", "a wrong guess of theirs")
    change_password(theirs, one_time, NEW_PASSWORD)
    second_hash = user_row(app, "irawan")["password_hash"]
    reset = shown_password(client.post(f"/auth/users/{user_id}/reset-password"))
    last_hash = user_row(app, "irawan")["password_hash"]

    trail = audit_events(app)
    text = " ".join(f"{event.changes} {event.details}" for event in trail)
    for secret in (one_time, NEW_PASSWORD, reset, first_hash, second_hash, last_hash, "$argon2"):
        assert secret not in text
    user_events = [
        event for event in trail if event.object_type == "User" and event.object_id == str(user_id)
    ]
    created_event = next(event for event in user_events if event.action == "create")
    assert json.loads(created_event.changes)["password_hash"] == "[redacted]"
    updates = [
        json.loads(event.changes)["password_hash"]
        for event in user_events
        if event.action == "update" and "password_hash" in json.loads(event.changes)
    ]
    assert updates == [["[redacted]", "[redacted]"]] * 2
