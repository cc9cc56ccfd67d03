"""Route declarations (``permission_required``, ``public``) and the session hooks."""

from datetime import datetime
from functools import wraps
from urllib.parse import urlsplit

from flask import abort, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from rudenim.audit.context import Actor, set_actor
from rudenim.audit.services import record_event
from rudenim.auth.models import User
from rudenim.auth.permissions import PERMISSIONS, PUBLIC
from rudenim.auth.services import resume_session
from rudenim.clock import utcnow
from rudenim.extensions import db, login_manager

#: Endpoints a user who must change their password may still reach.
ALLOWED_BEFORE_PASSWORD_CHANGE = frozenset(
    {"auth.change_password", "auth.logout", "auth.set_language", "static", "health.healthz"}
)
#: Endpoints a user who must enrol in two-factor sign-in may still reach.
ALLOWED_BEFORE_2FA = ALLOWED_BEFORE_PASSWORD_CHANGE | {"auth.enrol_2fa"}


def permission_required(permission: str):
    """Let the view run only for a signed-in user whose role holds ``permission``."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.can(permission):
                deny(permission)
            return view(*args, **kwargs)

        wrapped.permission = permission
        return wrapped

    return decorator


def public(view):
    """Declare a route open to everyone, signed in or not."""
    view.permission = PUBLIC
    return view


def deny(permission: str, **details) -> None:
    """Record the refusal in the audit trail and answer 403."""
    db.session.rollback()
    record_event(
        "permission_denied",
        details={
            "permission": permission,
            "endpoint": request.endpoint,
            "method": request.method,
            "path": request.path,
            **details,
        },
    )
    db.session.commit()
    abort(403)


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None (no open redirects)."""
    if not target or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    last_active = session.get("last_active")
    check = resume_session(
        session.get("sid"),
        datetime.fromisoformat(last_active) if last_active else None,
    )
    if db.session.dirty:
        db.session.commit()
    if check.user is None or str(check.user.id) != user_id:
        g.session_end_reason = check.reason
        session.pop("sid", None)
        session.pop("_user_id", None)
        return None
    return check.user


@login_manager.unauthorized_handler
def _unauthorized():
    reason = g.get("session_end_reason")
    if reason == "idle":
        flash(
            _("Your session expired after a period of inactivity. Please sign in again."), "warning"
        )
    elif reason == "inactive":
        flash(_("Your account has been deactivated."), "error")
    elif reason == "ended":
        flash(_("Your session has ended. Please sign in again."), "warning")
    else:
        flash(_("Please sign in to continue."), "info")
    target = request.full_path if request.method == "GET" else None
    if target and target.endswith("?"):
        target = target[:-1]
    return redirect(url_for("auth.login", next=safe_next(target)))


def load_actor() -> None:
    """Before each request: resolve the user once, attribute audit events to them."""
    if request.endpoint == "static":
        return
    user = current_user._get_current_object()
    if user.is_authenticated:
        session["last_active"] = utcnow().isoformat()
        set_actor(Actor(user.id, user.username, request.remote_addr, g.get("request_id")))
        if user.must_change_password and request.endpoint not in ALLOWED_BEFORE_PASSWORD_CHANGE:
            if request.method == "GET":
                flash(_("Choose a new password before you continue."), "warning")
            return redirect(url_for("auth.change_password"))
        if request.endpoint not in ALLOWED_BEFORE_2FA and not user.has_2fa:
            from rudenim.auth.twofactor import required_for

            if required_for(user):
                if request.method == "GET":
                    flash(_("Your role requires two-factor sign-in. Enrol before you continue."),
                          "warning")  # fmt: skip
                return redirect(url_for("auth.enrol_2fa"))
    else:
        set_actor(Actor(None, "anonymous", request.remote_addr, g.get("request_id")))
    return None
