"""What every response shares, the factory's storage defaults, and local times."""

import logging
import stat
from datetime import UTC, date, datetime

import pytest
from flask import render_template_string
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from rudenim import create_app
from rudenim.auth.models import UserSession
from rudenim.clock import local_days_span, utcnow
from rudenim.extensions import db as _db
from tests.conftest import test_settings as settings_with


@pytest.fixture
def make_app(database, tmp_path):
    """Build apps with setting overrides; on the test database unless a URI is given."""
    built = []

    def _make(**overrides):
        on_test_database = "SQLALCHEMY_DATABASE_URI" not in overrides
        settings = {
            "SQLALCHEMY_DATABASE_URI": database.fresh(tmp_path),
            "RUDENIM_INSTANCE_PATH": str(tmp_path / "instance"),
            **overrides,
        }
        application = create_app(settings_with(**settings))
        built.append((application, on_test_database))
        return application

    yield _make
    for application, on_test_database in built:
        with application.app_context():
            _db.session.remove()
            _db.engine.dispose()
        if on_test_database:
            database.clean(application)
            with application.app_context():
                _db.engine.dispose()


@pytest.fixture
def rudenim_log(caplog):
    """Capture the app's log (its logger does not propagate to the root logger)."""
    logger = logging.getLogger("rudenim")
    logger.addHandler(caplog.handler)
    yield caplog
    logger.removeHandler(caplog.handler)


def in_english(client):
    assert client.post("/auth/language", data={"locale": "en"}).status_code == 302


# --- health -------------------------------------------------------------------


def test_health_answers_without_signing_in(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_health_reports_an_unreachable_database(make_app, tmp_path):
    missing = tmp_path / "no-such-directory" / "rudenim.sqlite3"
    application = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{missing}")

    response = application.test_client().get("/healthz")

    assert response.status_code == 503
    assert response.get_json() == {"status": "error", "database": "error"}
    assert not missing.parent.exists()


# --- headers --------------------------------------------------------------------

PATHS = ["/healthz", "/auth/login", "/no-such-page", "/static/css/app.css"]


@pytest.mark.parametrize("path", PATHS)
def test_every_response_carries_the_security_headers(client, path):
    with client.get(path) as response:
        pass

    policy = response.headers["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in policy.split("; ")}
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["default-src"] == ["'self'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize("path", ["/healthz", "/auth/login", "/no-such-page"])
def test_pages_are_never_stored(client, path):
    response = client.get(path)

    assert response.headers["Cache-Control"] == "no-store"


def test_pages_with_personal_data_are_never_stored(client, login_as):
    login_as("supervisor")

    response = client.get("/audit/")

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


def test_static_files_may_be_cached(client):
    with client.get("/static/css/app.css") as response:
        pass

    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")


def test_every_response_has_a_request_id(client):
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]

    assert first
    assert first != second


# --- error pages ----------------------------------------------------------------


def test_unknown_address_shows_the_404_page(client):
    in_english(client)

    response = client.get("/no-such-page")

    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "There is no page at this address." in page
    assert response.headers["X-Request-ID"] in page


def test_wrong_method_shows_the_405_page(client):
    in_english(client)

    response = client.get("/auth/logout")

    assert response.status_code == 405
    assert "This page cannot be used that way." in response.get_data(as_text=True)
    assert set(response.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}


def test_errors_answer_json_to_json_clients(client):
    response = client.get("/no-such-page", headers={"Accept": "application/json"})

    assert response.status_code == 404
    body = response.get_json()
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert body["error"]


def test_too_many_sign_ins_show_the_429_page(make_app):
    application = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="2 per minute")
    client = application.test_client()
    # An address of its own: the limiter's counters outlive one app.
    client.environ_base["REMOTE_ADDR"] = "198.51.100.29"
    in_english(client)
    attempt = {"username": "nobody", "password": "not the password"}

    answers = [client.post("/auth/login", data=attempt) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 429]
    page = answers[-1].get_data(as_text=True)
    assert "Too many attempts. Wait a moment and try again." in page
    assert int(answers[-1].headers["Retry-After"]) > 0


@pytest.fixture
def failing_app(make_app):
    application = make_app()

    @application.route("/boom")
    def boom():
        raise RuntimeError("secret detail: KPG-2024-0001")

    return application


def test_an_unexpected_error_shows_the_500_page_with_its_request_id(failing_app, rudenim_log):
    client = failing_app.test_client()
    in_english(client)

    response = client.get("/boom")

    assert response.status_code == 500
    page = response.get_data(as_text=True)
    request_id = response.headers["X-Request-ID"]
    assert "Something went wrong on our side. The error has been logged." in page
    assert f"Reference for the administrator: {request_id}" in page
    assert "Traceback" not in page
    assert "secret detail" not in page
    assert "RuntimeError" not in page
    (record,) = [record for record in rudenim_log.records if record.levelno >= logging.ERROR]
    assert request_id in record.getMessage()
    assert record.exc_info is not None
    assert "secret detail" in rudenim_log.text


def test_an_unexpected_error_answers_json_without_details(failing_app):
    response = failing_app.test_client().get("/boom", headers={"Accept": "application/json"})

    assert response.status_code == 500
    body = response.get_json()
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert "secret detail" not in body["error"]


def test_an_unexpected_error_undoes_the_request_s_changes(failing_app):
    from rudenim.audit.services import record_event

    @failing_app.route("/half-done", methods=["POST"])
    def half_done():
        record_event("export")
        raise RuntimeError("after writing")

    response = failing_app.test_client().post("/half-done")

    assert response.status_code == 500
    with failing_app.app_context():
        assert _db.session.execute(text("SELECT count(*) FROM audit_event")).scalar() == 0


def test_a_page_s_view_event_stands_when_the_page_then_fails(failing_app):
    # A GET request writes its audit event at once (so that it holds SQLite's
    # write lock for that only): once the record was read, the trail says so,
    # even when the page fails to render afterwards.
    from rudenim.audit.services import record_event

    @failing_app.route("/viewed-then-failed")
    def viewed_then_failed():
        record_event("view", object_type="Person", object_id=1)
        raise RuntimeError("while rendering")

    response = failing_app.test_client().get("/viewed-then-failed")

    assert response.status_code == 500
    with failing_app.app_context():
        actions = _db.session.execute(text("SELECT action, object_id FROM audit_event")).all()
    assert [tuple(row) for row in actions] == [("view", "1")]


# --- storage defaults --------------------------------------------------------------


def app_without_secret(instance, **overrides):
    return create_app(
        settings_with(
            SECRET_KEY=None,
            SQLALCHEMY_DATABASE_URI="sqlite://",
            RUDENIM_INSTANCE_PATH=str(instance),
            **overrides,
        )
    )


def test_a_secret_key_is_generated_in_the_instance_folder(tmp_path):
    instance = tmp_path / "instance"

    application = app_without_secret(instance)

    key_file = instance / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert application.secret_key == key_file.read_text().strip()
    assert len(application.secret_key) >= 64


def test_the_generated_secret_key_is_kept(tmp_path):
    instance = tmp_path / "instance"

    first = app_without_secret(instance).secret_key
    second = app_without_secret(instance).secret_key

    assert first == second


def test_the_instance_folder_can_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("RUDENIM_INSTANCE_PATH", str(tmp_path / "from-env"))

    application = create_app(settings_with(SECRET_KEY=None, SQLALCHEMY_DATABASE_URI="sqlite://"))

    assert application.instance_path == str(tmp_path / "from-env")
    assert (tmp_path / "from-env" / "secret_key").read_text() == application.secret_key


def test_a_given_secret_key_writes_no_file(tmp_path):
    application = create_app(
        settings_with(SQLALCHEMY_DATABASE_URI="sqlite://", RUDENIM_INSTANCE_PATH=str(tmp_path))
    )

    assert application.secret_key == "test-secret-key-not-for-production"
    assert not (tmp_path / "secret_key").exists()


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        app_without_secret(tmp_path / "instance", RUDENIM_ENV="production")

    assert not (tmp_path / "instance" / "secret_key").exists()


def test_production_starts_with_a_secret_key(tmp_path):
    application = create_app(
        settings_with(
            RUDENIM_ENV="production",
            SECRET_KEY="a-real-secret",
            SQLALCHEMY_DATABASE_URI="sqlite://",
            RUDENIM_INSTANCE_PATH=str(tmp_path),
        )
    )

    assert application.secret_key == "a-real-secret"


@pytest.fixture
def sqlite_only(is_postgres):
    if is_postgres:
        pytest.skip("SQLite connection settings; PostgreSQL has neither pragma")


@pytest.mark.usefixtures("sqlite_only")
def test_sqlite_connections_enforce_foreign_keys(db):
    assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
    db.session.add(UserSession(user_id=999, token_hash="0" * 64))

    with pytest.raises(IntegrityError):
        db.session.flush()


@pytest.mark.usefixtures("sqlite_only")
def test_sqlite_connections_use_wal(db):
    assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"


# --- local times ---------------------------------------------------------------------


def render(application, template: str, **values) -> str:
    with application.test_request_context():
        return render_template_string(template, **values)


def test_times_are_shown_in_the_centre_time_zone(app):
    when = datetime(2024, 3, 9, 16, 30, tzinfo=UTC)

    shown = render(app, "{{ when|localdatetime('yyyy-MM-dd HH:mm') }}", when=when)

    assert app.config["TIMEZONE"] == "Asia/Makassar"
    assert shown == "2024-03-10 00:30"


def test_dates_follow_the_centre_time_zone(app):
    when = datetime(2024, 3, 9, 16, 30, tzinfo=UTC)

    assert render(app, "{{ when|localdate('yyyy-MM-dd') }}", when=when) == "2024-03-10"


def test_the_time_zone_is_a_setting(make_app):
    application = make_app(TIMEZONE="Asia/Jakarta")
    when = datetime(2024, 3, 9, 16, 30, tzinfo=UTC)

    shown = render(application, "{{ when|localdatetime('yyyy-MM-dd HH:mm') }}", when=when)

    assert shown == "2024-03-09 23:30"


def test_a_span_of_local_days_runs_from_midnight_to_midnight_in_the_centres_zone(app):
    with app.app_context():
        begin, end = local_days_span(date(2024, 3, 10), date(2024, 3, 11))

    # Asia/Makassar is UTC+8: the 10th begins at 16:00 UTC on the 9th.
    assert begin == datetime(2024, 3, 9, 16, 0, tzinfo=UTC)
    assert end == datetime(2024, 3, 11, 16, 0, tzinfo=UTC)


def test_a_span_to_the_calendars_edges_is_unbounded_there(app):
    # Midnight of 1 January of year 1 east of UTC is in year 0, and the day after
    # 31 December 9999 does not exist: neither can be held, and neither bounds
    # anything stored.
    with app.app_context():
        assert local_days_span(date.min, date.max) == (None, None)
        assert local_days_span(None, None) == (None, None)
        begin, _end = local_days_span(date(1, 1, 2), None)

    # The day after can be held (the zone's offset then was local mean time).
    assert begin.date() == date(1, 1, 1)
    assert begin.utcoffset().total_seconds() == 0


def test_stored_times_come_back_in_utc_and_show_locally(db, app):
    from rudenim.audit.models import AuditEvent
    from rudenim.audit.services import record_event

    record_event("login")
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(AuditEvent, 1).occurred_at

    assert stored.utcoffset().total_seconds() == 0
    assert abs((utcnow() - stored).total_seconds()) < 60
    shown = render(app, "{{ when|localdatetime('HH') }}", when=stored)
    assert int(shown) == (stored.hour + 8) % 24
