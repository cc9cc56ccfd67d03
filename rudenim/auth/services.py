"""Accounts, signing in and sessions: the rules, without any request handling."""

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import joinedload

from rudenim.audit.context import Actor
from rudenim.audit.services import record_event
from rudenim.auth import passwords
from rudenim.auth.models import LoginThrottle, User, UserSession
from rudenim.auth.permissions import Role
from rudenim.clock import as_utc, utcnow
from rudenim.errors import DomainError, DuplicateRecord, NotFound
from rudenim.extensions import built_once, db, writing

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
#: How often an open session's last_seen_at is written (not on every request).
LAST_SEEN_RESOLUTION = timedelta(minutes=5)


class LoginRefused(DomainError):
    """Signing in did not succeed; the message never says whether the user exists."""


def normalise_username(username: str) -> str:
    """Usernames are compared trimmed and lower-case."""
    return (username or "").strip().lower()


def parse_role(role: str) -> Role:
    """The Role named by ``role``, or a clear refusal."""
    try:
        return Role((role or "").strip().lower())
    except ValueError:
        names = ", ".join(member.value for member in Role)
        raise DomainError(
            _("There is no role %(role)s. Choose one of: %(names)s.", role=role, names=names),
            field="role",
        ) from None


def generate_password() -> str:
    """A random one-time password, easy to read out and type."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    groups = ["".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4)]
    return "-".join(groups)


def get_user(user_id: int) -> User:
    """The user with this id, or NotFound."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_("There is no such user."))
    return user


def find_user(username: str) -> User | None:
    """The user with this username (any case), if there is one."""
    return db.session.scalar(select(User).where(User.username == normalise_username(username)))


def create_user(
    username: str,
    role: str,
    *,
    password: str | None = None,
    one_time: bool = False,
    full_name: str = "",
) -> tuple[User, str]:
    """Create an account; without a password, a one-time password is generated.

    Returns the user and the password it was given (to show once).
    """
    name = normalise_username(username)
    if not USERNAME_PATTERN.match(name):
        raise DomainError(
            _(
                "A username has 3 to 64 characters: letters, digits, dot, dash or "
                "underscore, starting with a letter or digit."
            ),
            field="username",
        )
    parsed_role = parse_role(role)
    if find_user(name) is not None:
        raise DuplicateRecord(
            _("The username %(name)s is already taken.", name=name), field="username"
        )
    if password is None:
        password, one_time = generate_password(), True
    else:
        passwords.check_policy(password, name)
    user = User(
        username=name,
        full_name=(full_name or "").strip(),
        role=parsed_role,
        password_hash=passwords.hash_password(password),
        must_change_password=one_time,
        is_active_account=True,
        password_changed_at=utcnow(),
    )
    db.session.add(user)
    db.session.flush()
    return user, password


def _throttle_for(name: str) -> LoginThrottle | None:
    return db.session.get(LoginThrottle, name)


def _lock_seconds(failures: int) -> int:
    config = current_app.config
    over = failures - config["LOGIN_LOCK_AFTER"]
    if over < 0:
        return 0
    return min(config["LOGIN_LOCK_BASE_SECONDS"] * 2**over, config["LOGIN_LOCK_MAX_SECONDS"])


def _locked_message(until: datetime, now: datetime) -> str:
    minutes = max(1, int((as_utc(until) - now).total_seconds() + 59) // 60)
    return ngettext(
        "Too many failed sign-ins for this username. Try again in %(num)d minute, "
        "or ask an administrator to unlock the account.",
        "Too many failed sign-ins for this username. Try again in %(num)d minutes, "
        "or ask an administrator to unlock the account.",
        minutes,
    )


def authenticate(username: str, password: str, *, ip: str | None) -> User:
    """The user these credentials belong to, or LoginRefused with a generic message.

    Failures are counted per username, whether or not the account exists; after
    LOGIN_LOCK_AFTER failures the name is locked for a delay that doubles with
    each further failure.
    """
    name = normalise_username(username)[:64]
    now = utcnow()
    throttle = _throttle_for(name)
    if throttle and throttle.locked_until and as_utc(throttle.locked_until) > now:
        record_event(
            "login_refused_locked",
            object_type="User",
            details={"username": name},
            actor=Actor(None, name or "anonymous", ip),
        )
        raise LoginRefused(_locked_message(throttle.locked_until, now))

    user = find_user(name) if name else None
    if user is None:
        passwords.dummy_check(password)
        valid = False
    else:
        valid = passwords.check_password(user.password_hash, password)

    if valid and user.is_active_account:
        if throttle is not None:
            db.session.delete(throttle)
        return user

    reason = "inactive" if valid else "bad_credentials"
    record_event(
        "login_failed",
        object_type="User",
        object_id=user.id if user else None,
        details={"username": name, "reason": reason},
        actor=Actor(None, name or "anonymous", ip),
    )
    if valid:
        # Right password, deactivated account: say so, it is not a guess.
        raise LoginRefused(_("This account has been deactivated. Ask an administrator."))
    raise count_failure(name, now, _("Invalid username or password."))


def count_failure(name: str, now, message: str) -> LoginRefused:
    """Count a failed attempt for this username; the refusal to raise (locked or not)."""
    throttle = _throttle_for(name)
    if throttle is None:
        throttle = LoginThrottle(username=name, failures=0)
        db.session.add(throttle)
    throttle.failures += 1
    throttle.last_failed_at = now
    seconds = _lock_seconds(throttle.failures)
    if seconds:
        throttle.locked_until = now + timedelta(seconds=seconds)
        db.session.flush()
        return LoginRefused(_locked_message(throttle.locked_until, now))
    db.session.flush()
    return LoginRefused(message)


def check_not_locked(name: str, ip: str | None) -> None:
    """Refuse at once while this username is locked."""
    now = utcnow()
    throttle = _throttle_for(name)
    if throttle and throttle.locked_until and as_utc(throttle.locked_until) > now:
        record_event(
            "login_refused_locked",
            object_type="User",
            details={"username": name},
            actor=Actor(None, name or "anonymous", ip),
        )
        raise LoginRefused(_locked_message(throttle.locked_until, now))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def start_session(user: User, *, ip: str | None, user_agent: str | None) -> str:
    """Open a new session for ``user``; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    db.session.add(
        UserSession(
            user=user,
            token_hash=_token_hash(token),
            ip=ip,
            user_agent=(user_agent or "")[:255],
        )
    )
    record_event("login", object_type="User", object_id=user.id)
    db.session.flush()
    return token


def find_session(token: str | None) -> UserSession | None:
    """The open session this token belongs to, if any."""
    if not token:
        return None
    return db.session.scalar(_open_session_statement(), {"token_hash": _token_hash(token)})


@built_once
def _open_session_statement():
    return (
        select(UserSession)
        .where(UserSession.token_hash == bindparam("token_hash"), UserSession.ended_at.is_(None))
        # Every request needs the user next: one statement, not two.
        .options(joinedload(UserSession.user))
    )


@dataclass(frozen=True)
class SessionCheck:
    """The outcome of resuming a session from its cookie."""

    user: User | None
    #: Why there is no user: None, "ended", "idle" or "inactive".
    reason: str | None = None


def resume_session(token: str | None, last_active: datetime | None) -> SessionCheck:
    """The signed-in user of this cookie, or why the session is over.

    Writes only when a session ends or its last_seen_at is more than
    LAST_SEEN_RESOLUTION old, never on every request.
    """
    session_row = find_session(token)
    if session_row is None:
        if not token:
            return SessionCheck(None, None)
        ended = db.session.scalar(
            select(UserSession.ended_reason).where(UserSession.token_hash == _token_hash(token))
        )
        return SessionCheck(None, "inactive" if ended == "deactivated" else "ended")
    now = utcnow()
    idle = timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
    # A GET request reads until here: what this writes is committed at once.
    if last_active is None or now - as_utc(last_active) > idle:
        with writing():
            end_session(session_row, "idle")
        return SessionCheck(None, "idle")
    if not session_row.user.is_active_account:
        with writing():
            end_session(session_row, "deactivated")
        return SessionCheck(None, "inactive")
    if now - as_utc(session_row.last_seen_at) > LAST_SEEN_RESOLUTION:
        with writing():
            session_row.last_seen_at = now
    return SessionCheck(session_row.user)


def end_session(session_row: UserSession, reason: str) -> None:
    """Close one session."""
    if session_row.ended_at is None:
        session_row.ended_at = utcnow()
        session_row.ended_reason = reason


def end_sessions_of(user: User, reason: str, *, except_token: str | None = None) -> int:
    """Close every open session of ``user`` (but the one with ``except_token``)."""
    query = update(UserSession).where(
        UserSession.user_id == user.id, UserSession.ended_at.is_(None)
    )
    if except_token:
        query = query.where(UserSession.token_hash != _token_hash(except_token))
    result = db.session.execute(
        query.values(ended_at=utcnow(), ended_reason=reason),
        execution_options={"synchronize_session": False},
    )
    db.session.expire_all()
    return result.rowcount


def logout(token: str | None) -> None:
    """End the session this token belongs to."""
    session_row = find_session(token)
    if session_row is not None:
        record_event("logout", object_type="User", object_id=session_row.user_id)
        end_session(session_row, "logout")


def change_password(user: User, current: str, new: str, *, token: str | None) -> None:
    """The user replaces their password; every other session of theirs ends."""
    if not passwords.check_password(user.password_hash, current):
        raise DomainError(_("The current password is not correct."), field="current_password")
    if passwords.check_password(user.password_hash, new):
        raise DomainError(_("The new password must differ from the current one."), field="password")
    passwords.check_policy(new, user.username)
    user.password_hash = passwords.hash_password(new)
    user.must_change_password = False
    user.password_changed_at = utcnow()
    end_sessions_of(user, "password_changed", except_token=token)


def set_password(user: User, new: str, *, one_time: bool = False) -> None:
    """An operator sets a user's password (checked against the policy)."""
    passwords.check_policy(new, user.username)
    user.password_hash = passwords.hash_password(new)
    user.must_change_password = one_time
    user.password_changed_at = utcnow()
    end_sessions_of(user, "password_reset")


def reset_password(user: User) -> str:
    """Give the user a new one-time password; returns it to show once."""
    password = generate_password()
    user.password_hash = passwords.hash_password(password)
    user.must_change_password = True
    user.password_changed_at = utcnow()
    end_sessions_of(user, "password_reset")
    return password


def deactivate_user(user: User, actor: User | None = None) -> None:
    """Stop the account from signing in; its open sessions end now."""
    if actor is not None and actor.id == user.id:
        raise DomainError(_("You cannot deactivate your own account."))
    if not user.is_active_account:
        raise DomainError(_("This account is already deactivated."))
    user.is_active_account = False
    end_sessions_of(user, "deactivated")


def reactivate_user(user: User) -> None:
    """Let a deactivated account sign in again."""
    if user.is_active_account:
        raise DomainError(_("This account is already active."))
    user.is_active_account = True


def unlock_user(user: User) -> bool:
    """Clear the failed sign-ins of this username; whether it was locked."""
    throttle = _throttle_for(user.username)
    if throttle is None:
        return False
    db.session.delete(throttle)
    record_event("unlock", object_type="User", object_id=user.id)
    return True


def lock_state(usernames: list[str]) -> dict[str, LoginThrottle]:
    """Failed sign-in counters of these usernames, for the user list."""
    if not usernames:
        return {}
    rows = db.session.scalars(select(LoginThrottle).where(LoginThrottle.username.in_(usernames)))
    return {row.username: row for row in rows}


def set_locale(user: User | None, locale: str) -> str:
    """Remember the interface language; refuse one the app does not offer."""
    if locale not in current_app.config["LANGUAGES"]:
        raise DomainError(_("That language is not available."))
    if user is not None and user.locale != locale:
        user.locale = locale
    return locale


def count_users() -> int:
    """How many accounts exist."""
    return db.session.scalar(select(func.count(User.id)))


def bootstrap_admin() -> str | None:
    """Create ``admin`` with a one-time password when there is no user at all."""
    if count_users():
        return None
    _user, password = create_user("admin", Role.ADMIN, full_name="Administrator")
    return password
