"""``flask audit verify``: OK on an intact chain, the broken event otherwise."""

import pytest
from sqlalchemy import text

from rudenim.audit.context import Actor, acting_as
from rudenim.audit.services import record_event
from rudenim.auth.services import create_user
from rudenim.extensions import db
from tests.conftest import PASSWORD


@pytest.fixture
def four_events(app):
    """A user created and changed, and two explicit events: four events, committed."""
    with app.app_context(), acting_as(Actor(None, "cli")):
        user, _ = create_user("ani", "officer", password=PASSWORD)
        db.session.commit()
        record_event("login", object_type="User", object_id=user.id)
        user.full_name = "Ani"
        record_event("export", details={"agency": "IOM"})
        db.session.commit()


def run_sql(app, statement: str) -> None:
    with app.app_context():
        db.session.execute(text(statement))
        db.session.commit()


def verify(runner):
    return runner.invoke(args=["audit", "verify"])


def test_verify_an_empty_chain(runner):
    result = verify(runner)

    assert result.exit_code == 0
    assert result.stdout == "OK 0 events\n"


def test_verify_an_intact_chain(runner, four_events):
    result = verify(runner)

    assert result.exit_code == 0, result.output
    assert result.stdout == "OK 4 events\n"


def test_verify_names_a_changed_event(app, runner, four_events):
    run_sql(app, "UPDATE audit_event SET actor_name = 'mallory' WHERE id = 2")

    result = verify(runner)

    assert result.exit_code == 1
    assert "OK" not in result.stdout
    assert result.stderr == "BROKEN at event 2: event 2 was changed after it was written\n"


def test_verify_names_a_missing_event(app, runner, four_events):
    run_sql(app, "DELETE FROM audit_event WHERE id = 3")

    result = verify(runner)

    assert result.exit_code == 1
    assert "BROKEN at event 3: event 3 is missing" in result.stderr


def test_verify_notices_a_removed_last_event(app, runner, four_events):
    run_sql(app, "DELETE FROM audit_event WHERE id = 4")

    result = verify(runner)

    assert result.exit_code == 1
    assert "BROKEN at event 4" in result.stderr


def test_verify_changes_nothing(app, runner, four_events):
    verify(runner)
    result = verify(runner)

    assert result.stdout == "OK 4 events\n"
