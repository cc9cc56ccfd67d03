"""Security checks as tests: CSRF on every state change, sessions, cookies, headers,
redirects, object ids in URLs, login throttling, deactivation and what each role sees.

The routes are walked from ``app.url_map``, so a new route is covered the day it
is added. Assertions look at status codes, headers, cookies and element ids, not
at wording, so they hold in either interface language.
"""

import csv
import io
import zipfile
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update

from rudenim.audit.models import AuditEvent
from rudenim.auth.models import User, UserSession
from rudenim.auth.permissions import PERMISSIONS, PUBLIC, Role
from rudenim.cases.models import Person
from rudenim.conduct.models import Violation
from rudenim.extensions import db as _db
from rudenim.monitoring.models import MonitoringFlag
from tests.conftest import PASSWORD, built_app, login
from tests.populated import csrf_token, get_rules, populate, post_rules, row_counts, url_for_rule

SESSION_COOKIE = "rudenim_session"
EVIL_TARGETS = [
    "https://evil.example/",
    "//evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "/\t/evil.example/",
    "https:evil.example",
    "javascript:alert(1)",
    " //evil.example/",
    "http://localhost.evil.example/",
]


@pytest.fixture
def settings() -> dict:
    """Settings of the test's app beyond TestConfig; tests parametrize it."""
    return {}


@pytest.fixture
def app(database, tmp_path, settings):
    """The application on a database of its own, with the test's settings."""
    with built_app(database, tmp_path, **settings) as application:
        yield application


@pytest.fixture
def ids(app):
    return populate(app)


def username_of(app, user_id: int) -> str:
    with app.app_context():
        return _db.session.get(User, user_id).username


def signed_in(app, make_user, role: str, *, with_csrf: bool = False):
    """A new browser signed in as a new user with ``role``; returns (browser, user id)."""
    browser = app.test_client()
    user_id = make_user(role)
    data = {"username": username_of(app, user_id), "password": PASSWORD}
    if with_csrf:
        data["csrf_token"] = csrf_token(browser.get("/auth/login").get_data(as_text=True))
    response = browser.post("/auth/login", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return browser, user_id


def role_for(permission: str) -> str:
    """A role that holds ``permission`` (a supervisor where one does)."""
    if permission == PUBLIC:
        return "supervisor"
    holders = PERMISSIONS[permission]
    for role in (Role.SUPERVISOR, Role.OFFICER, Role.ADMIN, Role.VIEWER):
        if role in holders:
            return role.value
    raise AssertionError(permission)


def is_local(location: str) -> bool:
    """Whether a browser following ``location`` stays on this site."""
    # Browsers drop tabs and newlines from URLs and read a backslash as a slash.
    seen = location.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")
    parts = urlsplit(seen)
    if parts.scheme or parts.netloc:
        return parts.netloc == "localhost" and parts.scheme in ("http", "https")
    return seen.startswith("/") and not seen.startswith("//")


def session_cookie(response) -> str | None:
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith(SESSION_COOKIE + "="):
            return header
    return None


# --- CSRF ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("settings", [{"WTF_CSRF_ENABLED": True}])
def test_every_state_changing_route_refuses_a_request_without_csrf_token(app, ids, make_user):
    rules = post_rules(app)
    assert len(rules) >= 30, "the url_map walk found too few POST routes"
    staff, _ = signed_in(app, make_user, "supervisor", with_csrf=True)
    admin, _ = signed_in(app, make_user, "admin", with_csrf=True)
    anonymous = app.test_client()
    before = row_counts(app)
    accepted = []
    for rule in rules:
        url = url_for_rule(app, rule, ids)
        permission = getattr(app.view_functions[rule.endpoint], "permission", PUBLIC)
        browser = admin if role_for(permission) == "admin" else staff
        for who, client in (("signed in", browser), ("anonymous", anonymous)):
            # A plausible submission, only the token is missing (or forged).
            for data in ({"note": "x", "reason": "x"}, {"csrf_token": "forged"}):
                response = client.post(url, data=data)
                if response.status_code != 400:
                    accepted.append(f"{rule.endpoint} {who} {data}: {response.status_code}")
    assert not accepted, "\n".join(accepted)
    assert row_counts(app) == before


@pytest.mark.parametrize("settings", [{"WTF_CSRF_ENABLED": True}])
def test_a_token_from_another_session_is_refused_and_the_own_one_accepted(app, ids, make_user):
    mine, _ = signed_in(app, make_user, "officer", with_csrf=True)
    theirs, _ = signed_in(app, make_user, "officer", with_csrf=True)
    their_token = csrf_token(theirs.get("/auth/account").get_data(as_text=True))
    assert mine.post("/auth/logout", data={"csrf_token": their_token}).status_code == 400
    assert mine.get("/auth/account").status_code == 200  # still signed in
    my_token = csrf_token(mine.get("/auth/account").get_data(as_text=True))
    assert mine.post("/auth/logout", data={"csrf_token": my_token}).status_code == 302
    assert mine.get("/auth/account").status_code == 302  # signed out: the token worked


# --- sessions and cookies ------------------------------------------------------------------------


def test_signing_in_starts_a_new_session_whatever_the_browser_brought(app, make_user):
    user_id = make_user("officer")
    browser = app.test_client()
    browser.get("/auth/login")
    with browser.session_transaction() as planted:
        planted["sid"] = "token-chosen-by-an-attacker"
        planted["_user_id"] = str(user_id)
        planted["planted"] = "yes"
    before = browser.get_cookie(SESSION_COOKIE).value
    # A planted session id opens nothing.
    assert browser.get("/cases/").status_code == 302

    response = login(browser, username_of(app, user_id))
    assert response.status_code == 302
    with browser.session_transaction() as fresh:
        assert fresh["sid"] != "token-chosen-by-an-attacker"
        assert "planted" not in fresh
        first_sid = fresh["sid"]
    assert browser.get_cookie(SESSION_COOKIE).value != before
    assert browser.get("/cases/").status_code == 200

    # The cookie from before signing in is worth nothing afterwards.
    attacker = app.test_client()
    attacker.set_cookie(SESSION_COOKIE, before)
    assert attacker.get("/cases/").status_code == 302

    # Signing in again gives another id; signing out ends it on the server.
    other = app.test_client()
    login(other, username_of(app, user_id))
    with other.session_transaction() as second:
        assert second["sid"] != first_sid
    stolen = browser.get_cookie(SESSION_COOKIE).value
    browser.post("/auth/logout")
    replay = app.test_client()
    replay.set_cookie(SESSION_COOKIE, stolen)
    assert replay.get("/cases/").status_code == 302


@pytest.mark.parametrize(
    ("settings", "secure"),
    [({}, False), ({"SESSION_COOKIE_SECURE": True}, True)],
    ids=["http", "https"],
)
def test_session_cookie_flags(app, make_user, secure):
    user_id = make_user("officer")
    response = login(app.test_client(), username_of(app, user_id))
    cookie = session_cookie(response)
    assert cookie is not None
    flags = [part.strip().lower() for part in cookie.split(";")[1:]]
    assert "httponly" in flags
    assert "samesite=lax" in flags
    assert ("secure" in flags) is secure


# --- headers on every page -----------------------------------------------------------------------


def check_headers(response) -> list[str]:
    headers = response.headers
    problems = []
    policy = headers.get("Content-Security-Policy", "")
    for directive in ("default-src 'self'", "script-src 'self'", "frame-ancestors 'none'"):
        if directive not in policy:
            problems.append(f"CSP lacks {directive}")
    if "unsafe-inline" in policy or "unsafe-eval" in policy:
        problems.append("CSP allows inline script")
    expected = {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
    }
    for name, value in expected.items():
        if headers.get(name) != value:
            problems.append(f"{name}: {headers.get(name)!r}")
    return problems


def test_every_page_and_export_carries_the_security_headers_and_no_store(app, ids, make_user):
    browsers = {role: signed_in(app, make_user, role)[0] for role in ("supervisor", "admin")}
    problems, pages = [], 0
    for rule in get_rules(app):
        url = url_for_rule(app, rule, ids)
        if rule.endpoint == "monitoring.propose_flag":
            url += f"?person_id={ids['person_id']}"
        permission = getattr(app.view_functions[rule.endpoint], "permission", PUBLIC)
        role = "admin" if role_for(permission) == "admin" else "supervisor"
        response = browsers[role].get(url)
        pages += response.status_code == 200
        problems += [f"{url} ({response.status_code}): {p}" for p in check_headers(response)]
    supervisor = browsers["supervisor"]
    exports = [
        ("/reports/verification.csv", {"agency": "iom", "profile": "internal"}),
        ("/reports/verification.xlsx", {"agency": "unhcr", "profile": "unhcr"}),
        ("/reports/verification/print", {"agency": "iom", "profile": "iom"}),
        ("/conduct/export.csv", {}),
    ]
    for url, data in exports:
        response = supervisor.post(url, data=data)
        assert response.status_code == 200, url
        problems += [f"{url}: {p}" for p in check_headers(response)]
    for url in ("/cases/999999", "/no-such-page"):  # error pages too
        response = supervisor.get(url)
        assert response.status_code == 404
        problems += [f"{url}: {p}" for p in check_headers(response)]
    response = app.test_client().get("/auth/login")
    problems += [f"login: {p}" for p in check_headers(response)]
    assert pages >= 25, f"only {pages} pages answered 200: the walk proves little"
    assert not problems, "\n".join(problems)


# --- redirects -----------------------------------------------------------------------------------


@pytest.mark.parametrize("target", EVIL_TARGETS)
def test_signing_in_never_redirects_off_site(app, make_user, target):
    username = username_of(app, make_user("officer"))
    browser = app.test_client()
    page = browser.get("/auth/login", query_string={"next": target})
    assert page.status_code == 200
    assert "evil.example" not in page.headers.get("Location", "")
    response = browser.post(
        "/auth/login", data={"username": username, "password": PASSWORD, "next": target}
    )
    assert response.status_code == 302
    assert is_local(response.headers["Location"]), response.headers["Location"]
    assert "evil" not in response.headers["Location"]


@pytest.mark.parametrize("target", EVIL_TARGETS)
def test_switching_language_never_redirects_off_site(app, target):
    response = app.test_client().post("/auth/language", data={"locale": "en", "next": target})
    assert response.status_code == 302
    assert is_local(response.headers["Location"])
    assert "evil" not in response.headers["Location"]


def test_a_local_next_is_kept_and_a_foreign_referrer_is_not_followed(app, ids, make_user):
    username = username_of(app, make_user("officer"))
    browser = app.test_client()
    response = browser.post(
        "/auth/login", data={"username": username, "password": PASSWORD, "next": "/cases/"}
    )
    assert urlsplit(response.headers["Location"]).path == "/cases/"
    response = browser.post(
        f"/monitoring/check-ins/{ids['checkin_id']}/follow-up",
        data={"note": ""},
        headers={"Referer": "https://evil.example/phish"},
    )
    assert response.status_code == 302
    assert is_local(response.headers["Location"])
    assert "evil" not in response.headers["Location"]


# --- ids in URLs ---------------------------------------------------------------------------------


def test_an_officer_cannot_reach_admin_pages_by_changing_ids(app, ids, make_user):
    officer, officer_id = signed_in(app, make_user, "officer")
    admin, admin_id = signed_in(app, make_user, "admin")
    other, other_id = signed_in(app, make_user, "officer")
    with app.app_context():
        target = _db.session.get(User, other_id)
        password_hash = target.password_hash
        other_session = _db.session.scalar(
            select(UserSession.id).where(UserSession.user_id == other_id)
        )
        denied_before = _db.session.scalar(
            select(_db.func.count(AuditEvent.id)).where(AuditEvent.action == "permission_denied")
        )
    forbidden_gets = [
        "/auth/users/",
        "/auth/users/new",
        "/audit/",
        "/cases/reference/placements",
        "/conduct/rules/",
        f"/reports/people/{ids['person_id']}/record",
    ]
    for user_id in (admin_id, other_id, officer_id):
        forbidden_gets.append(f"/auth/users/{user_id}")
    refused = [url for url in forbidden_gets if officer.get(url).status_code != 403]
    actions = ("deactivate", "reactivate", "reset-password", "reset-2fa", "end-sessions", "unlock")
    for user_id in (admin_id, other_id):
        for action in actions:
            url = f"/auth/users/{user_id}/{action}"
            if officer.post(url).status_code != 403:
                refused.append(url)
    assert not refused, f"reachable by an officer: {refused}"
    # Another user's session is not the officer's to end: it does not even exist for them.
    assert officer.post(f"/auth/sessions/{other_session}/end").status_code == 404
    with app.app_context():
        target = _db.session.get(User, other_id)
        assert target.is_active_account and target.password_hash == password_hash
        assert _db.session.get(UserSession, other_session).ended_at is None
        denied_after = _db.session.scalar(
            select(_db.func.count(AuditEvent.id)).where(AuditEvent.action == "permission_denied")
        )
    assert other.get("/auth/account").status_code == 200
    assert denied_after - denied_before >= len(forbidden_gets) + 2 * len(actions)


def test_an_officer_cannot_open_a_violation_someone_else_reported(app, ids, make_user):
    officer, officer_id = signed_in(app, make_user, "officer")
    with app.app_context():
        violation_id = _db.session.scalar(
            select(Violation.id).where(Violation.reported_by_id != officer_id)
        )
    assert officer.get(f"/conduct/{violation_id}").status_code == 403
    supervisor, _ = signed_in(app, make_user, "supervisor")
    assert supervisor.get(f"/conduct/{violation_id}").status_code == 200


# --- throttling and deactivation -----------------------------------------------------------------


@pytest.mark.parametrize(
    "settings", [{"RATELIMIT_ENABLED": True, "LOGIN_RATE_LIMIT": "3 per minute"}]
)
def test_signing_in_too_often_is_answered_429(app, make_user):
    username = username_of(app, make_user("officer"))
    browser = app.test_client()
    for _attempt in range(3):
        response = browser.post(
            "/auth/login", data={"username": username, "password": "wrong password, long"}
        )
        assert response.status_code == 200
    response = browser.post("/auth/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 429
    assert "Retry-After" in response.headers
    with browser.session_transaction() as state:
        assert "sid" not in state
    assert browser.get("/cases/").status_code == 302  # the right password opened nothing


def test_a_deactivated_users_session_stops_at_the_next_request(app, ids, make_user):
    officer, officer_id = signed_in(app, make_user, "officer")
    admin, _ = signed_in(app, make_user, "admin")
    assert officer.get("/cases/").status_code == 200
    assert admin.post(f"/auth/users/{officer_id}/deactivate").status_code == 302
    before = row_counts(app)
    response = officer.get("/cases/")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/auth/login"
    response = officer.post(
        f"/cases/{ids['person_id']}/custody",
        data={"status": "released", "effective_on": "2024-01-01", "reason": "x"},
    )
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/auth/login"
    assert row_counts(app) == before


def test_deactivation_written_straight_to_the_database_also_stops_the_session(app, make_user):
    officer, officer_id = signed_in(app, make_user, "officer")
    assert officer.get("/auth/account").status_code == 200
    with app.app_context():
        _db.session.execute(
            update(User).where(User.id == officer_id).values(is_active_account=False)
        )
        _db.session.commit()
    response = officer.get("/auth/account")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/auth/login"


# --- what each role sees -------------------------------------------------------------------------


def test_a_viewer_sees_no_export_form_and_cannot_export(app, ids, make_user):
    viewer, _ = signed_in(app, make_user, "viewer")
    supervisor, _ = signed_in(app, make_user, "supervisor")
    for browser, can in ((viewer, False), (supervisor, True)):
        board = browser.get("/cases/verification?agency=iom").get_data(as_text=True)
        log = browser.get("/conduct/").get_data(as_text=True)
        assert ('id="export-form"' in board) is can
        assert ("/reports/verification.csv" in board) is can
        assert ("/conduct/export.csv" in log) is can
    for url in (
        "/reports/verification.csv",
        "/reports/verification.xlsx",
        "/reports/verification/print",
        "/conduct/export.csv",
    ):
        assert viewer.post(url, data={"agency": "iom", "profile": "iom"}).status_code == 403, url


def test_an_officer_sees_no_audit_history_and_no_disclosure_ledger(app, ids, make_user):
    officer, _ = signed_in(app, make_user, "officer")
    supervisor, _ = signed_in(app, make_user, "supervisor")
    url = f"/cases/{ids['person_id']}"
    # A disclosure, so the ledger has an entry to show.
    supervisor.post("/reports/verification.csv", data={"agency": "iom", "profile": "iom"})
    seen_by_supervisor = supervisor.get(url).get_data(as_text=True)
    seen_by_officer = officer.get(url).get_data(as_text=True)
    assert 'id="history"' in seen_by_supervisor and 'id="disclosed"' in seen_by_supervisor
    assert 'id="history"' not in seen_by_officer
    assert 'id="disclosed"' not in seen_by_officer
    assert officer.get(f"/reports/people/{ids['person_id']}/record").status_code == 403


def test_an_admin_sees_no_case_data(app, ids, make_user):
    admin, _ = signed_in(app, make_user, "admin")
    dashboard = admin.get("/").get_data(as_text=True)
    assert 'id="in-care"' not in dashboard
    with app.app_context():
        people = _db.session.execute(select(Person.case_number, Person.full_name)).all()
    for case_number, full_name in people:
        assert case_number not in dashboard and full_name not in dashboard
    for url in (
        "/cases/",
        f"/cases/{ids['person_id']}",
        "/cases/verification",
        "/conduct/",
        f"/conduct/{ids['violation_id']}",
        "/monitoring/",
    ):
        assert admin.get(url).status_code == 403, url
    assert admin.post("/reports/verification.csv", data={"agency": "iom"}).status_code == 403


def test_exports_carry_no_notes_statements_violations_or_flags(app, ids, make_user):
    markers = {
        "notes": "MARK-NOTES-7731",
        "description": "MARK-VIOLATION-7732",
        "statement": "MARK-STATEMENT-7733",
        "reason": "MARK-FLAG-7734",
    }
    with app.app_context():
        people = _db.session.scalars(select(Person)).all()
        for person in people:
            person.notes = markers["notes"]
        for violation in _db.session.scalars(select(Violation)):
            violation.description = markers["description"]
            violation.statement = markers["statement"]
        for flag in _db.session.scalars(select(MonitoringFlag)):
            flag.reason = flag.handling_instructions = markers["reason"]
        _db.session.commit()
    supervisor, _ = signed_in(app, make_user, "supervisor")
    found = []
    for profile in ("unhcr", "iom", "internal"):
        data = {"agency": "iom", "profile": profile, "include_left": "y"}
        text = supervisor.post("/reports/verification.csv", data=data).get_data(as_text=True)
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
        assert len(rows) > 1, "the export is empty: it proves nothing"
        printed = supervisor.post("/reports/verification/print", data=data).get_data(as_text=True)
        workbook = supervisor.post("/reports/verification.xlsx", data=data).get_data()
        with zipfile.ZipFile(io.BytesIO(workbook)) as archive:
            xml = "".join(archive.read(name).decode() for name in archive.namelist())
        for marker in markers.values():
            for kind, body in (("csv", text), ("print", printed), ("xlsx", xml)):
                if marker in body:
                    found.append(f"{profile} {kind}: {marker}")
    log = supervisor.post("/conduct/export.csv", data={}).get_data(as_text=True)
    assert len(log.splitlines()) > 1
    found += [f"violation log: {m}" for m in markers.values() if m in log]
    assert not found, found


# --- numbers too large for an id -----------------------------------------------------------------

TOO_LARGE = str(2**63)  # one more than a table's largest id


def test_every_address_with_a_number_too_large_for_an_id_is_not_found(app, ids, make_user):
    browser, _user = signed_in(app, make_user, "supervisor")
    numbered = [rule for rule in get_rules(app) if "<int:" in rule.rule]
    for rule in numbered:
        url = url_for_rule(app, rule, {name: int(TOO_LARGE) for name in rule.arguments})
        assert browser.get(url).status_code == 404, url
    assert len(numbered) > 10


def test_ids_too_large_in_forms_and_queries_change_nothing(app, ids, make_user):
    browser, _user = signed_in(app, make_user, "supervisor")
    before = row_counts(app)
    assert browser.get(f"/monitoring/flags/new?person_id={TOO_LARGE}").status_code == 404
    assert browser.get(f"/conduct/new?person_id={TOO_LARGE}").status_code == 200
    response = browser.post(
        "/cases/verification/bulk",
        data={"person_ids": [str(ids["person_id"]), TOO_LARGE], "agency": "unhcr",
              "to_status": "referred", "occurred_on": "2024-05-01"},
        follow_redirects=True,
    )  # fmt: skip
    assert response.status_code == 200
    # The ids are refused as a whole: the step is applied to no one.
    assert "satu atau lebih nilai tidak dapat dibaca" in response.get_data(as_text=True)
    response = browser.post(
        f"/monitoring/roll-call/{ids['placement_id']}",
        data={"checked_at": "2024-05-01T08:00", "entries-0-person_id": TOO_LARGE,
              "entries-0-outcome": "present"},
    )  # fmt: skip
    assert response.status_code < 500
    assert row_counts(app) == before
