"""Automatic capture of audited models, explicit events, and the append-only rule."""

import json

import pytest
from sqlalchemy import delete, func, select, update

from rudenim.audit.capture import REDACTED, Audited
from rudenim.audit.context import Actor, acting_as
from rudenim.audit.models import AuditEvent
from rudenim.audit.services import history_of, record_event, verify_chain
from rudenim.auth.models import LoginThrottle, User
from rudenim.auth.permissions import Role
from rudenim.auth.services import create_user, set_password
from rudenim.extensions import db as _db
from tests.conftest import PASSWORD, login

SUPERVISOR = Actor(7, "supervisor1", "10.0.0.9", "0123456789abcdef")


def events(db, **where) -> list[AuditEvent]:
    """Every event matching the column values, oldest first."""
    query = select(AuditEvent).order_by(AuditEvent.id)
    for column, value in where.items():
        query = query.where(getattr(AuditEvent, column) == value)
    return list(db.session.scalars(query))


def changes_of(event: AuditEvent) -> dict:
    return json.loads(event.changes)


@pytest.fixture
def ani(db):
    """An officer account created by SUPERVISOR (one 'create' event)."""
    with acting_as(SUPERVISOR):
        user, _ = create_user("ani", "officer", password=PASSWORD, full_name="Ani")
        db.session.commit()
    return user


def test_user_is_an_audited_model():
    assert issubclass(User, Audited)
    assert "password_hash" in User.__audit_redact__


def test_creating_a_record_writes_one_event_with_its_values(db, ani):
    (event,) = events(db)

    assert event.action == "create"
    assert (event.object_type, event.object_id) == ("User", str(ani.id))
    assert (event.subject_type, event.subject_id) == ("User", str(ani.id))
    values = changes_of(event)
    assert values["username"] == "ani"
    assert values["full_name"] == "Ani"
    assert values["role"] == "officer"
    assert values["id"] == ani.id
    assert values["password_hash"] == REDACTED
    assert event.details is None


def test_an_event_names_the_acting_user(db, ani):
    (event,) = events(db)

    assert event.actor_id == SUPERVISOR.user_id
    assert event.actor_name == "supervisor1"
    assert event.ip == "10.0.0.9"
    assert event.request_id == "0123456789abcdef"


def test_without_an_actor_the_system_is_named(db):
    create_user("budi", "viewer", password=PASSWORD)
    db.session.commit()

    (event,) = events(db)
    assert (event.actor_id, event.actor_name, event.ip) == (None, "system", None)


def test_changing_a_record_writes_the_fields_before_and_after(db, ani):
    with acting_as(Actor(8, "admin1")):
        ani.full_name = "Ani Wulandari"
        ani.role = Role.SUPERVISOR
        db.session.commit()

    create, change = events(db)
    assert change.action == "update"
    assert change.object_id == str(ani.id)
    assert changes_of(change) == {
        "full_name": ["Ani", "Ani Wulandari"],
        "role": ["officer", "supervisor"],
    }
    assert (change.actor_id, change.actor_name) == (8, "admin1")
    assert create.actor_name == "supervisor1"


def test_each_flush_of_a_change_is_its_own_event(db, ani):
    ani.full_name = "Ani W."
    db.session.flush()
    ani.locale = "en"
    db.session.commit()

    updates = events(db, action="update")
    assert [changes_of(event) for event in updates] == [
        {"full_name": ["Ani", "Ani W."]},
        {"locale": [None, "en"]},
    ]


def test_setting_a_field_to_its_current_value_writes_nothing(db, ani):
    ani.full_name = "Ani"
    db.session.commit()

    assert [event.action for event in events(db)] == ["create"]


def test_deleting_a_record_writes_what_it_held(db, ani):
    user_id = ani.id
    with acting_as(Actor(8, "admin1")):
        db.session.delete(ani)
        db.session.commit()

    removal = events(db)[-1]
    assert removal.action == "delete"
    assert (removal.object_type, removal.object_id) == ("User", str(user_id))
    values = changes_of(removal)
    assert values["username"] == "ani"
    assert values["password_hash"] == REDACTED
    assert removal.actor_name == "admin1"


def test_a_password_change_shows_only_that_it_changed(db, ani):
    old_hash = ani.password_hash
    set_password(ani, "a different long passphrase")
    db.session.commit()

    change = events(db, action="update")[-1]
    assert changes_of(change)["password_hash"] == [REDACTED, REDACTED]
    trail = " ".join(event.changes or "" for event in events(db))
    assert old_hash not in trail
    assert ani.password_hash not in trail
    assert "$argon2" not in trail


def test_insert_update_and_delete_each_write_exactly_one_event(db):
    user, _ = create_user("citra", "officer", password=PASSWORD)
    db.session.commit()
    assert db.session.scalar(select(func.count(AuditEvent.id))) == 1
    user.full_name = "Citra"
    db.session.commit()
    assert db.session.scalar(select(func.count(AuditEvent.id))) == 2
    db.session.delete(user)
    db.session.commit()

    assert [event.action for event in events(db)] == ["create", "update", "delete"]
    assert verify_chain().ok


def test_the_history_of_a_record_includes_its_creation(db, ani):
    ani.full_name = "Ani W."
    db.session.commit()

    assert [event.action for event in history_of("User", ani.id)] == ["update", "create"]


def test_a_rolled_back_change_leaves_no_event(db, ani):
    ani.full_name = "Someone else"
    db.session.flush()
    db.session.rollback()

    assert [event.action for event in events(db)] == ["create"]
    assert verify_chain().ok


def test_models_that_do_not_opt_in_are_not_captured(db):
    db.session.add(LoginThrottle(username="nobody", failures=1))
    db.session.commit()

    assert events(db) == []


def test_a_change_made_through_a_request_records_the_client_address(app, client, make_user):
    admin_id = make_user("admin", username="admin1")
    client.environ_base["REMOTE_ADDR"] = "192.0.2.10"
    assert login(client, "admin1").status_code == 302

    response = client.post("/auth/users/new", data={"username": "dewi", "role": "officer"})

    assert response.status_code == 200
    with app.app_context():
        dewi = _db.session.scalar(select(User).where(User.username == "dewi"))
        (event,) = events(_db, action="create", object_id=str(dewi.id))
        assert (event.actor_id, event.actor_name) == (admin_id, "admin1")
        assert event.ip == "192.0.2.10"
        assert event.request_id == response.headers["X-Request-ID"]
        assert changes_of(event)["password_hash"] == REDACTED


def test_record_event_writes_an_explicit_event(db):
    row = record_event(
        "export",
        object_type="VerificationList",
        details={"agency": "UNHCR", "rows": 12},
        actor=SUPERVISOR,
    )
    db.session.commit()

    (event,) = events(db)
    assert event.id == row["id"]
    assert event.action == "export"
    assert (event.object_type, event.object_id) == ("VerificationList", None)
    assert json.loads(event.details) == {"agency": "UNHCR", "rows": 12}
    assert event.changes is None
    assert (event.actor_id, event.actor_name, event.ip) == (7, "supervisor1", "10.0.0.9")


def test_record_event_uses_the_current_actor_and_the_subject(db):
    with acting_as(SUPERVISOR):
        record_event("view_alias", object_type="Alias", object_id=5, subject=("Person", 12))
        db.session.commit()

    (event,) = events(db)
    assert event.actor_name == "supervisor1"
    assert (event.object_type, event.object_id) == ("Alias", "5")
    assert (event.subject_type, event.subject_id) == ("Person", "12")
    assert [found.id for found in history_of("Person", 12)] == [event.id]


def test_acting_as_restores_the_previous_actor(db):
    with acting_as(SUPERVISOR), acting_as(Actor(None, "cli")):
        record_event("inner")
    record_event("outer")
    db.session.commit()

    assert [(event.action, event.actor_name) for event in events(db)] == [
        ("inner", "cli"),
        ("outer", "system"),
    ]


@pytest.fixture
def one_event(db):
    record_event("login", actor=SUPERVISOR)
    db.session.commit()
    return db.session.scalar(select(AuditEvent))


def test_an_event_cannot_be_changed_through_the_orm(db, one_event):
    one_event.action = "logout"
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()
    db.session.rollback()

    assert db.session.get(AuditEvent, one_event.id).action == "login"
    assert verify_chain().ok


def test_an_event_cannot_be_deleted_through_the_orm(db, one_event):
    db.session.delete(one_event)
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()
    db.session.rollback()

    assert db.session.scalar(select(func.count(AuditEvent.id))) == 1
    assert verify_chain().ok


@pytest.mark.parametrize(
    "statement",
    [
        update(AuditEvent).values(action="logout"),
        delete(AuditEvent),
        update(AuditEvent.__table__).values(action="logout"),
        delete(AuditEvent.__table__),
    ],
    ids=["orm-update", "orm-delete", "table-update", "table-delete"],
)
def test_events_cannot_be_rewritten_in_bulk_through_the_session(db, one_event, statement):
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.execute(statement)
    db.session.rollback()

    assert db.session.scalar(select(AuditEvent.action)) == "login"
    assert verify_chain().ok
