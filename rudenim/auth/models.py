"""User accounts, their sessions and the login throttle."""

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rudenim.audit.capture import Audited
from rudenim.auth.permissions import Role, role_has
from rudenim.clock import utcnow
from rudenim.db_types import UTCDateTime, str_enum
from rudenim.extensions import db


class User(Audited, UserMixin, db.Model):
    """A member of staff (or the system administrator) who signs in."""

    __tablename__ = "user"
    __audit_redact__ = frozenset({"password_hash", "totp_secret"})

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stored lower-case; usernames are compared without regard to case.
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(120), default="")
    role: Mapped[Role] = mapped_column(str_enum(Role, 16))
    password_hash: Mapped[str] = mapped_column(String(255))
    #: The user must choose a new password before doing anything else.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active_account: Mapped[bool] = mapped_column("is_active", Boolean, default=True)
    #: Interface language chosen by the user ("id" or "en").
    locale: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Base32 TOTP secret, set once enrolment is confirmed.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The last TOTP time step accepted, so a code is never accepted twice.
    totp_last_step: Mapped[int | None] = mapped_column(Integer)

    sessions: Mapped[list["UserSession"]] = relationship(back_populates="user")

    @property
    def is_active(self) -> bool:  # Flask-Login asks this
        return self.is_active_account

    @property
    def has_2fa(self) -> bool:
        return self.totp_enabled_at is not None and bool(self.totp_secret)

    def can(self, permission: str) -> bool:
        """Whether this user's role holds ``permission``."""
        return role_has(self.role, permission)

    def __repr__(self) -> str:
        return f"<User {self.username} ({self.role})>"


class UserSession(db.Model):
    """One signed-in browser. The cookie holds a token; the row holds its hash.

    Ending the row (logout, password change, deactivation, idle timeout) ends
    the session at the next request, whatever the cookie says.
    """

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    #: SHA-256 of the token in the cookie; a copy of the table opens no session.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: logout, password_changed, deactivated, idle, ended_by_user, ended_by_admin
    ended_reason: Mapped[str | None] = mapped_column(String(32))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(255))

    user: Mapped[User] = relationship(back_populates="sessions")

    @property
    def is_open(self) -> bool:
        return self.ended_at is None

    def __repr__(self) -> str:
        return f"<UserSession {self.id} of user {self.user_id}>"


class LoginThrottle(db.Model):
    """Failed sign-ins per username, whether or not such a user exists.

    Keeping unknown names too means a locked name answers exactly like a
    locked account, so the login form does not reveal who has an account.
    """

    __tablename__ = "login_throttle"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<LoginThrottle {self.username} {self.failures}>"


class RecoveryCode(db.Model):
    """A one-time code that stands in for a TOTP code; only its hash is kept."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<RecoveryCode {self.id} of user {self.user_id}>"
