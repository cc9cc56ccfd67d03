"""The account, password and session rules, called directly."""

import json
from datetime import timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from rudenim.audit.models import AuditEvent
from rudenim.auth import passwords, services
from rudenim.auth.models import LoginThrottle, User, UserSession
from rudenim.auth.permissions import Role
from rudenim.auth.services import LoginRefused
from rudenim.clock import utcnow
from rudenim.errors import DomainError, DuplicateRecord, NotFound
from tests.conftest import PASSWORD

INVALID = "Invalid username or password."
TOO_COMMON = "This password is too common. Choose one that is harder to guess."


@pytest.fixture(autouse=True)
def english(db):
    """Messages in English, whatever catalogues are compiled."""
    with force_locale("en"):
        yield


@pytest.fixture
def travel(monkeypatch):
    """Set the services' clock to a moment: ``travel(locked_until + timedelta(seconds=1))``."""

    def _to(moment):
        monkeypatch.setattr(services, "utcnow", lambda: moment)
        return moment

    return _to


def user_count(db) -> int:
    return db.session.scalar(select(func.count(User.id)))


def new_user(username="ratna", role="officer", **options):
    user, _password = services.create_user(username, role, password=PASSWORD, **options)
    return user


def open_session(db, user) -> str:
    token = services.start_session(user, ip="10.0.0.5", user_agent="test")
    db.session.flush()
    return token


def sessions(db, user) -> list[UserSession]:
    return list(
        db.session.scalars(
            select(UserSession).where(UserSession.user_id == user.id).order_by(UserSession.id)
        )
    )


# --- accounts ------------------------------------------------------------------------


def test_a_new_account_stores_an_argon2_hash_and_a_tidy_username(db):
    user, given = services.create_user(
        "  Ratna.Sari ", "Supervisor", password=PASSWORD, full_name=" Ratna Sari "
    )

    assert user.username == "ratna.sari"
    assert user.full_name == "Ratna Sari"
    assert user.role is Role.SUPERVISOR
    assert given == PASSWORD
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert passwords.check_password(user.password_hash, PASSWORD)
    assert not passwords.check_password(user.password_hash, PASSWORD + "x")
    assert user.must_change_password is False
    assert user.is_active_account is True


def test_without_a_password_a_one_time_password_is_made(db):
    user, given = services.create_user("slamet", "viewer")

    assert user.must_change_password is True
    assert passwords.check_password(user.password_hash, given)
    assert len(given) == 19
    assert services.create_user("slamet2", "viewer")[1] != given


def test_a_chosen_password_can_be_one_time_too(db):
    user, _given = services.create_user("teguh", "officer", password=PASSWORD, one_time=True)

    assert user.must_change_password is True


@pytest.mark.parametrize(
    ("username", "role", "password", "error", "message"),
    [
        ("RATNA", "officer", PASSWORD, DuplicateRecord, "The username ratna is already taken."),
        (
            "umi",
            "warden",
            PASSWORD,
            DomainError,
            "There is no role warden. Choose one of: officer, supervisor, viewer, admin.",
        ),
        (
            "u",
            "officer",
            PASSWORD,
            DomainError,
            "A username has 3 to 64 characters: letters, digits, dot, dash or underscore, "
            "starting with a letter or digit.",
        ),
        ("_umi", "officer", PASSWORD, DomainError, "A username has 3 to 64 characters"),
        (
            "umi",
            "officer",
            "elevenchars",
            DomainError,
            "The password must be at least 12 characters long.",
        ),
        ("umi", "officer", "passwordpassword", DomainError, TOO_COMMON),
        ("umi", "officer", "International", DomainError, TOO_COMMON),
        ("umi", "officer", "Kupang2024Kupang2024", DomainError, TOO_COMMON),
        ("umi", "officer", "zzzzzzzzzzzzzzzzy", DomainError, TOO_COMMON),
        ("umi", "officer", "hello-UMI-from-kupang", DomainError, "must not contain the username"),
    ],
    ids=[
        "duplicate",
        "unknown-role",
        "short-username",
        "username-punctuation",
        "short-password",
        "repeated-word",
        "common",
        "repeated-phrase",
        "few-characters",
        "contains-username",
    ],
)
def test_a_bad_account_is_refused_and_nothing_is_added(
    db, username, role, password, error, message
):
    new_user("ratna")
    before = user_count(db)

    with pytest.raises(error, match=message.replace(".", r"\.")):
        services.create_user(username, role, password=password)

    assert user_count(db) == before


def test_get_user_of_an_unknown_id_is_not_found(db):
    with pytest.raises(NotFound, match="There is no such user."):
        services.get_user(12345)


# --- signing in ------------------------------------------------------------------------


def test_the_right_password_signs_in_and_forgets_earlier_failures(db):
    user = new_user()
    with pytest.raises(LoginRefused):
        services.authenticate("ratna", "guess", ip="10.0.0.5")

    assert services.authenticate(" RATNA ", PASSWORD, ip="10.0.0.5") is user
    db.session.flush()
    assert db.session.get(LoginThrottle, "ratna") is None


@pytest.mark.parametrize(
    ("username", "password"), [("ratna", "guess"), ("nobody", PASSWORD), ("", PASSWORD)]
)
def test_a_failed_sign_in_says_nothing_about_who_exists(db, username, password):
    new_user()

    with pytest.raises(LoginRefused) as refused:
        services.authenticate(username, password, ip="10.0.0.5")

    assert str(refused.value) == INVALID
    assert db.session.get(LoginThrottle, username).failures == 1
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "login_failed"))
    assert event.ip == "10.0.0.5"
    assert json.loads(event.details)["username"] == username


def refusal(username, password) -> str:
    with pytest.raises(LoginRefused) as refused:
        services.authenticate(username, password, ip=None)
    return str(refused.value)


def test_the_lock_after_five_failures_doubles_and_has_a_ceiling(app, db, travel):
    new_user()
    messages = [refusal("ratna", "guess") for _ in range(5)]
    assert messages[:4] == [INVALID] * 4
    assert "Try again in 1 minute" in messages[4]

    throttle = db.session.get(LoginThrottle, "ratna")
    waits = []
    for _failure in range(6):
        travel(throttle.locked_until + timedelta(seconds=1))
        refusal("ratna", "guess")
        waits.append(round((throttle.locked_until - throttle.last_failed_at).total_seconds()))

    assert waits == [120, 240, 480, 960, 1920, app.config["LOGIN_LOCK_MAX_SECONDS"]]


def test_a_locked_name_refuses_the_right_password_until_the_delay_has_passed(db, travel):
    user = new_user()
    for _attempt in range(5):
        refusal("ratna", "guess")
    locked_until = db.session.get(LoginThrottle, "ratna").locked_until

    travel(locked_until - timedelta(seconds=30))
    assert "Try again in 1 minute" in refusal("ratna", PASSWORD)
    assert db.session.get(LoginThrottle, "ratna").failures == 5

    travel(locked_until + timedelta(seconds=1))
    assert services.authenticate("ratna", PASSWORD, ip=None) is user


def test_an_unknown_name_locks_like_a_real_one(db):
    new_user()

    real = [refusal("ratna", "guess") for _ in range(6)]
    unknown = [refusal("siapa", "guess") for _ in range(6)]

    assert real == unknown
    assert db.session.get(LoginThrottle, "siapa").locked_until is not None


def test_an_unknown_name_costs_a_password_check_too(db, monkeypatch):
    checked = []
    monkeypatch.setattr(passwords, "dummy_check", checked.append)

    refusal("siapa", "guess")

    assert checked == ["guess"]


def test_unlocking_clears_the_failures(db):
    user = new_user()
    for _attempt in range(5):
        refusal("ratna", "guess")

    assert services.unlock_user(user) is True
    db.session.flush()
    assert services.authenticate("ratna", PASSWORD, ip=None) is user
    assert services.unlock_user(user) is False


def test_a_deactivated_account_is_refused_without_counting_a_guess(db):
    user = new_user()
    user.is_active_account = False

    assert refusal("ratna", PASSWORD) == "This account has been deactivated. Ask an administrator."
    assert refusal("ratna", "guess") == INVALID
    assert db.session.get(LoginThrottle, "ratna").failures == 1


# --- sessions -------------------------------------------------------------------------


def test_each_session_has_its_own_token_and_only_its_hash_is_stored(db):
    user = new_user()

    first, second = open_session(db, user), open_session(db, user)

    assert first != second
    stored = [row.token_hash for row in sessions(db, user)]
    assert first not in stored and second not in stored
    assert services.find_session(first).user is user
    assert services.find_session("not a token") is None
    assert services.find_session(None) is None


def test_a_session_resumes_while_in_use(db):
    user = new_user()
    token = open_session(db, user)

    check = services.resume_session(token, utcnow() - timedelta(minutes=5))

    assert check.user is user
    assert check.reason is None


def test_a_session_idle_too_long_ends(app, db):
    user = new_user()
    token = open_session(db, user)
    idle = timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1)

    check = services.resume_session(token, utcnow() - idle)

    assert check == services.SessionCheck(None, "idle")
    assert sessions(db, user)[0].ended_reason == "idle"
    assert services.resume_session(token, utcnow()) == services.SessionCheck(None, "ended")


def test_a_session_without_a_last_activity_is_not_resumed(db):
    token = open_session(db, new_user())

    assert services.resume_session(token, None).reason == "idle"


def test_a_session_of_a_deactivated_account_ends(db):
    user = new_user()
    token = open_session(db, user)
    user.is_active_account = False

    assert services.resume_session(token, utcnow()).reason == "inactive"
    assert sessions(db, user)[0].ended_reason == "deactivated"


def test_last_seen_is_written_only_now_and_then(db, travel):
    user = new_user()
    token = open_session(db, user)
    (row,) = sessions(db, user)
    opened = row.last_seen_at

    soon = travel(opened + timedelta(minutes=1))
    assert services.resume_session(token, soon).user is user
    assert row.last_seen_at == opened
    assert not db.session.dirty

    later = travel(opened + timedelta(minutes=6))
    assert services.resume_session(token, later).user is user
    assert row.last_seen_at == later


def test_signing_out_ends_only_that_session(db):
    user = new_user()
    token, other = open_session(db, user), open_session(db, user)

    services.logout(token)

    first, second = sessions(db, user)
    assert first.ended_reason == "logout"
    assert second.ended_at is None
    assert services.find_session(other) is not None


# --- passwords ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "new", "message"),
    [
        ("guess", "a fresh and long passphrase", "The current password is not correct."),
        (PASSWORD, PASSWORD, "The new password must differ from the current one."),
        (PASSWORD, "too-short", "The password must be at least 12 characters long."),
        (PASSWORD, "passwordpassword", TOO_COMMON),
        (PASSWORD, "ratna-at-the-centre", "The password must not contain the username."),
    ],
    ids=["wrong-current", "unchanged", "short", "repeated-word", "username"],
)
def test_a_refused_password_change_changes_nothing(db, current, new, message):
    user = new_user(one_time=True)
    token, other = open_session(db, user), open_session(db, user)
    before = (user.password_hash, user.must_change_password, user.password_changed_at)

    with pytest.raises(DomainError, match=message):
        services.change_password(user, current, new, token=token)

    assert (user.password_hash, user.must_change_password, user.password_changed_at) == before
    assert all(row.ended_at is None for row in sessions(db, user))
    assert services.find_session(other) is not None


def test_changing_the_password_ends_every_other_session(db):
    user = new_user(one_time=True)
    token, other = open_session(db, user), open_session(db, user)
    someone_else = open_session(db, new_user("sinta"))

    services.change_password(user, PASSWORD, "a fresh and long passphrase", token=token)

    assert passwords.check_password(user.password_hash, "a fresh and long passphrase")
    assert user.must_change_password is False
    assert services.find_session(token) is not None
    assert services.find_session(other) is None
    assert sessions(db, user)[1].ended_reason == "password_changed"
    assert services.find_session(someone_else) is not None


def test_an_operator_sets_a_password_and_every_session_ends(db):
    user = new_user()
    token = open_session(db, user)

    services.set_password(user, "chosen by the operator", one_time=True)

    assert passwords.check_password(user.password_hash, "chosen by the operator")
    assert user.must_change_password is True
    assert services.find_session(token) is None


def test_an_operator_cannot_set_a_weak_password(db):
    user = new_user()
    before = user.password_hash

    with pytest.raises(DomainError, match="at least 12 characters"):
        services.set_password(user, "short")

    assert user.password_hash == before


def test_a_reset_gives_a_new_one_time_password_and_ends_every_session(db):
    user = new_user()
    token = open_session(db, user)

    given = services.reset_password(user)

    assert passwords.check_password(user.password_hash, given)
    assert not passwords.check_password(user.password_hash, PASSWORD)
    assert user.must_change_password is True
    assert services.find_session(token) is None


def test_passwords_are_redacted_in_the_audit_trail(db):
    user = new_user()
    db.session.flush()
    services.set_password(user, "chosen by the operator")
    db.session.flush()

    events = list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.object_type == "User", AuditEvent.object_id == str(user.id))
            .order_by(AuditEvent.id)
        )
    )

    assert [event.action for event in events] == ["create", "update"]
    assert json.loads(events[0].changes)["password_hash"] == "[redacted]"
    assert json.loads(events[1].changes)["password_hash"] == ["[redacted]", "[redacted]"]
    for event in events:
        assert PASSWORD not in event.changes
        assert "chosen by the operator" not in event.changes
        assert "$argon2" not in event.changes


# --- account state --------------------------------------------------------------------


def test_deactivation_ends_the_sessions_and_reactivation_lets_in_again(db):
    admin, user = new_user("andi", "admin"), new_user()
    token = open_session(db, user)

    services.deactivate_user(user, admin)

    assert user.is_active_account is False
    assert services.find_session(token) is None
    with pytest.raises(DomainError, match="This account is already deactivated."):
        services.deactivate_user(user, admin)

    services.reactivate_user(user)

    assert services.authenticate("ratna", PASSWORD, ip=None) is user
    with pytest.raises(DomainError, match="This account is already active."):
        services.reactivate_user(user)


def test_nobody_deactivates_their_own_account(db):
    admin = new_user("andi", "admin")

    with pytest.raises(DomainError, match="You cannot deactivate your own account."):
        services.deactivate_user(admin, admin)

    assert admin.is_active_account is True


def test_the_language_must_be_one_the_centre_offers(db):
    user = new_user()

    assert services.set_locale(user, "en") == "en"
    assert user.locale == "en"
    with pytest.raises(DomainError, match="That language is not available."):
        services.set_locale(user, "fr")
    assert user.locale == "en"


def test_bootstrap_makes_the_first_administrator_only(db):
    given = services.bootstrap_admin()

    admin = services.find_user("admin")
    assert admin.role is Role.ADMIN
    assert admin.must_change_password is True
    assert passwords.check_password(admin.password_hash, given)
    assert services.bootstrap_admin() is None
    assert user_count(db) == 1
