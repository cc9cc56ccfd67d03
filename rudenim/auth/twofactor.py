"""Two-factor sign-in with TOTP (pyotp), QR codes drawn as SVG (segno), and
one-time recovery codes stored as hashes.

A password alone never opens a session for an enrolled user: the login view
keeps the half-signed-in user in the cookie only until the second factor is
given, and no server-side session exists before that.
"""

import hashlib
import io
import secrets
from datetime import datetime

import pyotp
import segno
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, select

from rudenim.audit.context import Actor
from rudenim.audit.services import record_event
from rudenim.auth.models import RecoveryCode, User
from rudenim.auth.services import check_not_locked, count_failure, end_sessions_of
from rudenim.clock import utcnow
from rudenim.errors import DomainError
from rudenim.extensions import db

RECOVERY_CODES = 10
STEP_SECONDS = 30


def required_for(user: User) -> bool:
    """Whether the user's role must use two-factor sign-in (REQUIRE_2FA_FOR)."""
    roles = {
        role.strip().lower()
        for role in current_app.config.get("REQUIRE_2FA_FOR", "").split(",")
        if role.strip()
    }
    return user.role.value in roles


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(
        name=username, issuer_name=current_app.config["TOTP_ISSUER"]
    )


def qr_svg(secret: str, username: str) -> str:
    """The enrolment QR code as an inline SVG element (no external service)."""
    buffer = io.BytesIO()
    segno.make(provisioning_uri(secret, username), error="m").save(
        buffer, kind="svg", scale=5, border=2, xmldecl=False, svgns=True, nl=False,
        title=_("QR code for your authenticator app"),
    )  # fmt: skip
    return buffer.getvalue().decode("utf-8")


def _hash_code(code: str) -> str:
    return hashlib.sha256(_normalise_recovery(code).encode("ascii", "ignore")).hexdigest()


def _normalise_recovery(code: str) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def _new_recovery_codes(user: User) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
    for _n in range(RECOVERY_CODES):
        code = "".join(secrets.choice(alphabet) for _i in range(10))
        codes.append(f"{code[:5]}-{code[5:]}")
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_hash_code(code)))
    return codes


def _accept_totp(user: User, secret: str, code: str, now: datetime) -> bool:
    code = "".join(ch for ch in (code or "") if ch.isdigit())
    if len(code) != 6:
        return False
    totp = pyotp.TOTP(secret)
    step = totp.timecode(now)
    for candidate in (step - 1, step, step + 1):
        if candidate <= (user.totp_last_step or -1):
            continue  # a code is accepted once only
        if secrets.compare_digest(totp.generate_otp(candidate), code):
            user.totp_last_step = candidate
            return True
    return False


def confirm_enrolment(user: User, secret: str, code: str) -> list[str]:
    """Switch two-factor sign-in on once the user proves their app works.

    Returns ten recovery codes, shown once; only their hashes are kept.
    """
    if not secret:
        raise DomainError(_("Start the enrolment again: the secret has expired."))
    if not _accept_totp(user, secret, code, utcnow()):
        raise DomainError(
            _("That code is not right. Check the time on your phone and try again."),
            field="code",
        )
    user.totp_secret = secret
    user.totp_enabled_at = utcnow()
    codes = _new_recovery_codes(user)
    record_event("2fa_enrolled", object_type="User", object_id=user.id)
    db.session.flush()
    return codes


def verify_second_factor(user: User, code: str, *, ip: str | None) -> str:
    """Check a TOTP or recovery code at sign-in; returns "totp" or "recovery".

    Wrong codes count towards the same lockout as wrong passwords.
    """
    check_not_locked(user.username, ip)
    now = utcnow()
    if user.has_2fa and _accept_totp(user, user.totp_secret, code, now):
        return "totp"
    hashed = _hash_code(code)
    recovery = db.session.scalar(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == hashed,
            RecoveryCode.used_at.is_(None),
        )
    )
    if recovery is not None and len(_normalise_recovery(code)) == 10:
        recovery.used_at = now
        record_event("2fa_recovery_code_used", object_type="User", object_id=user.id)
        return "recovery"
    record_event(
        "login_failed",
        object_type="User",
        object_id=user.id,
        details={"username": user.username, "reason": "bad_second_factor"},
        actor=Actor(None, user.username, ip),
    )
    raise count_failure(user.username, now, _("That code is not right."))


def remaining_recovery_codes(user: User) -> int:
    return len(
        db.session.scalars(
            select(RecoveryCode.id).where(
                RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
            )
        ).all()
    )


def reset_2fa(user: User) -> None:
    """An administrator switches a user's two-factor sign-in off (they re-enrol)."""
    if not user.has_2fa:
        raise DomainError(_("This account has no two-factor sign-in to reset."))
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    end_sessions_of(user, "2fa_reset")
    record_event("2fa_reset", object_type="User", object_id=user.id)
