"""Who may reach which page: every route, every role, against the one permission table.

The routes are read from the application's URL map, so a new route is tested
as soon as it exists. A URL parameter listed in ``URL_VALUES`` gets a real
object; any other gets an id that names nothing, so a role that may use the
route reaches the view and hears 404 (the permission is checked before the
object is looked up), and a role that may not hears 403. Add a factory to
``URL_VALUES`` to hold the permitted roles to a 200.
"""

import json
from datetime import timedelta

import pytest
from flask import Flask, url_for

from rudenim import create_app
from rudenim.auth.access import permission_required, public
from rudenim.auth.models import LoginThrottle
from rudenim.auth.permissions import (
    ADMIN,
    OFFICER,
    PERMISSIONS,
    PUBLIC,
    SUPERVISOR,
    VIEWER,
    Role,
    permissions_of,
    role_has,
)
from rudenim.clock import utcnow
from rudenim.extensions import db as _db
from tests.auth.conftest import audit_events, page_text, snapshot
from tests.conftest import test_settings as settings_with

#: Routes anyone may use, signed in or not. Adding one is a decision, not an accident.
PUBLIC_ENDPOINTS = {"auth.login", "auth.second_factor", "auth.set_language", "health.healthz"}
IGNORED_METHODS = {"HEAD", "OPTIONS"}
ROLES = [role.value for role in Role]


def _make_target_user(app, make_user):
    """An officer whose name is locked after failed sign-ins: every user action changes it."""
    user_id = make_user("officer", username="target")
    with app.app_context():
        _db.session.add(
            LoginThrottle(
                username="target",
                failures=5,
                last_failed_at=utcnow(),
                locked_until=utcnow() + timedelta(minutes=1),
            )
        )
        _db.session.commit()
    return user_id


#: URL parameter → a function (app, make_user) that makes the object and returns its value.
URL_VALUES = {"user_id": _make_target_user}
#: The value of a parameter without a factory: no such object.
MISSING = 999_999
#: Routes that name their object in the query string, which the test leaves out (404).
OBJECT_IN_QUERY = {"monitoring.propose_flag"}

#: What a form would send; a refusal must leave it unsent.
POST_DATA = {
    "auth.create_user": {"username": "intruder", "role": "admin"},
    "auth.change_password": {
        "current_password": "correct horse battery staple",
        "password": "an entirely new passphrase",
        "confirm": "an entirely new passphrase",
    },
    "auth.set_language": {"locale": "en", "next": "/"},
}


def undeclared_endpoints(app: Flask) -> list[str]:
    """Endpoints in the URL map whose view declares neither a permission nor ``public``."""
    return sorted(
        {
            rule.endpoint
            for rule in app.url_map.iter_rules()
            if rule.endpoint != "static"
            and not hasattr(app.view_functions[rule.endpoint], "permission")
        }
    )


def _route_app() -> Flask:
    # The factory is cheap and touches no database: safe to call while collecting.
    return create_app(settings_with())


def _requests() -> list[tuple[str, str]]:
    """(endpoint, method) for every route but static files."""
    return sorted(
        (rule.endpoint, method)
        for rule in _route_app().url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - IGNORED_METHODS
    )


REQUESTS = _requests()


def _rule(app: Flask, endpoint: str):
    (rule,) = app.url_map.iter_rules(endpoint)
    return rule


def _url(app: Flask, make_user, endpoint: str) -> tuple[str, bool]:
    """The route's URL with its objects made; whether every object exists."""
    rule = _rule(app, endpoint)
    values = {
        name: URL_VALUES[name](app, make_user) if name in URL_VALUES else MISSING
        for name in rule.arguments
    }
    with app.test_request_context():
        return url_for(endpoint, **values), set(rule.arguments) <= set(URL_VALUES)


def _send(client, url: str, method: str, endpoint: str):
    response = client.open(url, method=method, data=POST_DATA.get(endpoint, {}))
    # Read a streamed download to its end and close it, as a browser would, so it
    # lets go of its database connection before the test looks at the database.
    response.get_data()
    response.close()
    return response


# --- every route declares what it needs ----------------------------------------------


def test_every_route_declares_a_permission_or_public(app):
    assert undeclared_endpoints(app) == []


def test_the_check_finds_a_route_that_declares_nothing():
    app = _route_app()
    app.add_url_rule("/forgotten", "forgotten", lambda: "no declaration")

    assert undeclared_endpoints(app) == ["forgotten"]


def test_every_declared_permission_is_in_the_table(app):
    declared = {
        app.view_functions[rule.endpoint].permission
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
    }

    assert declared - {PUBLIC} <= set(PERMISSIONS)


def test_only_the_sign_in_steps_the_language_and_the_health_check_are_public(app):
    public_endpoints = {
        endpoint
        for endpoint, view in app.view_functions.items()
        if getattr(view, "permission", None) == PUBLIC
    }

    assert public_endpoints == PUBLIC_ENDPOINTS


def test_asking_for_an_unknown_permission_fails_at_once():
    with pytest.raises(KeyError, match="case.delete"):
        permission_required("case.delete")
    with pytest.raises(KeyError, match="case.delete"):
        role_has(OFFICER, "case.delete")


def test_public_marks_the_view():
    def view():
        return ""

    assert public(view).permission == PUBLIC


# --- the table itself, as DESIGN.md describes the roles ------------------------------


def test_a_viewer_reads_and_changes_nothing():
    assert {
        name
        for name in permissions_of(VIEWER)
        if not name.split(".")[1].startswith("view") and name != "account.manage_own"
    } == set()


def test_an_administrator_has_no_access_to_case_records():
    domains = {name.split(".")[0] for name in permissions_of(ADMIN)}

    assert domains == {"dashboard", "account", "audit", "users", "reference"}


def test_a_supervisor_may_do_everything_an_officer_may():
    assert permissions_of(OFFICER) < permissions_of(SUPERVISOR)


def test_only_administrators_manage_accounts():
    assert [role for role in ROLES if role_has(role, "users.manage")] == [ADMIN]


# --- every route × every role ------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("endpoint", "method"), REQUESTS, ids=[f"{e}-{m}" for e, m in REQUESTS])
def test_a_role_reaches_a_route_exactly_when_it_holds_the_permission(
    app, client, make_user, login_as, endpoint, method, role
):
    url, objects_exist = _url(app, make_user, endpoint)
    user_id = login_as(role)
    permission = app.view_functions[endpoint].permission
    allowed = permission == PUBLIC or role_has(role, permission)
    before = None if allowed else snapshot(app)
    refusals = len(audit_events(app, "permission_denied"))

    response = _send(client, url, method, endpoint)

    if allowed:
        expected = {200} if method == "GET" and permission != PUBLIC else {200, 302}
        if not objects_exist or endpoint in OBJECT_IN_QUERY:
            expected.add(404)
        assert response.status_code in expected, page_text(response)
        assert len(audit_events(app, "permission_denied")) == refusals
    else:
        assert response.status_code == 403
        assert "You do not have permission to do this." in page_text(response)
        assert snapshot(app) == before
        (event,) = audit_events(app, "permission_denied")[refusals:]
        assert event.actor_id == user_id
        assert json.loads(event.details) == {
            "permission": permission,
            "endpoint": endpoint,
            "method": method,
            "path": url,
        }


@pytest.mark.parametrize(("endpoint", "method"), REQUESTS, ids=[f"{e}-{m}" for e, m in REQUESTS])
def test_an_anonymous_visitor_is_sent_to_sign_in(app, client, make_user, endpoint, method):
    url, _objects_exist = _url(app, make_user, endpoint)
    before = snapshot(app)

    response = _send(client, url, method, endpoint)

    if endpoint in PUBLIC_ENDPOINTS:
        assert response.status_code in (200, 302)
        assert not response.headers.get("Location", "").startswith("/auth/login?")
    else:
        expected = f"/auth/login?next={url}" if method == "GET" else "/auth/login"
        assert response.status_code == 302
        assert response.headers["Location"] == expected
        assert snapshot(app) == before
    assert audit_events(app, "permission_denied") == []
