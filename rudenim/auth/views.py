"""Signing in and out, one's own account, and user administration."""

from datetime import datetime, timedelta

from flask import abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from markupsafe import Markup
from sqlalchemy import select

from rudenim.audit.services import record_event
from rudenim.auth import bp, services, twofactor
from rudenim.auth.access import permission_required, public, safe_next
from rudenim.auth.forms import (
    ChangePasswordForm,
    EnrolForm,
    LanguageForm,
    LoginForm,
    SecondFactorForm,
    UserCreateForm,
)
from rudenim.auth.models import User, UserSession
from rudenim.clock import utcnow
from rudenim.errors import DomainError, NotFound
from rudenim.extensions import db, limiter
from rudenim.forms import ActionForm, show_domain_error


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(_login_limit, methods=["POST"])
def login():
    """Sign in with username and password."""
    if current_user.is_authenticated:
        return redirect(url_for("reports.dashboard"))
    form = LoginForm(next=request.args.get("next"))
    if form.validate_on_submit():
        try:
            user = services.authenticate(
                form.username.data, form.password.data, ip=request.remote_addr
            )
        except DomainError as exc:
            db.session.commit()  # the failure is counted and audited
            flash(str(exc), "error")
        else:
            if user.has_2fa:
                # The password alone opens nothing: wait for the second factor.
                locale = session.get("locale")
                session.clear()
                if locale:
                    session["locale"] = locale
                session["pending_2fa"] = {
                    "user_id": user.id,
                    "at": utcnow().isoformat(),
                    "next": safe_next(form.next.data),
                }
                db.session.commit()
                return redirect(url_for("auth.second_factor"))
            return _open_session(user, safe_next(form.next.data))
    return render_template("auth/login.html", form=form)


def _open_session(user, next_url: str | None):
    """Start a fresh server-side session for ``user`` and send them on."""
    # A fresh session: nothing from before signing in survives (fixation).
    locale = session.get("locale")
    session.clear()
    token = services.start_session(
        user, ip=request.remote_addr, user_agent=request.user_agent.string
    )
    db.session.commit()
    session["sid"] = token
    session["last_active"] = utcnow().isoformat()
    if user.locale is None and locale:
        session["locale"] = locale
    session.permanent = True
    login_user(user)
    if user.must_change_password:
        return redirect(url_for("auth.change_password"))
    if twofactor.required_for(user) and not user.has_2fa:
        return redirect(url_for("auth.enrol_2fa"))
    return redirect(next_url or url_for("reports.dashboard"))


PENDING_2FA_MINUTES = 5


@bp.route("/2fa", methods=["GET", "POST"])
@public
@limiter.limit(_login_limit, methods=["POST"])
def second_factor():
    """The second step of signing in for an enrolled user: a TOTP or recovery code."""
    pending = session.get("pending_2fa")
    started = datetime.fromisoformat(pending["at"]) if pending else None
    if not pending or utcnow() - started > timedelta(minutes=PENDING_2FA_MINUTES):
        session.pop("pending_2fa", None)
        flash(_("Please sign in again."), "warning")
        return redirect(url_for("auth.login"))
    user = db.session.get(User, pending["user_id"])
    if user is None or not user.is_active_account or not user.has_2fa:
        session.pop("pending_2fa", None)
        return redirect(url_for("auth.login"))
    form = SecondFactorForm()
    if form.validate_on_submit():
        try:
            used = twofactor.verify_second_factor(user, form.code.data, ip=request.remote_addr)
        except DomainError as exc:
            db.session.commit()  # the failure is counted and audited
            flash(str(exc), "error")
        else:
            if used == "recovery":
                flash(
                    _("You used a recovery code. %(n)d remain.",
                      n=twofactor.remaining_recovery_codes(user)),
                    "warning",
                )  # fmt: skip
            return _open_session(user, pending.get("next"))
    return render_template("auth/second_factor.html", form=form)


@bp.route("/2fa/setup", methods=["GET", "POST"])
@permission_required("account.manage_own")
def enrol_2fa():
    """Enrol in two-factor sign-in: scan the QR code, confirm a code."""
    if current_user.has_2fa:
        flash(_("Two-factor sign-in is already on for your account."), "info")
        return redirect(url_for("auth.account"))
    secret = session.get("enrol_secret") or twofactor.new_secret()
    session["enrol_secret"] = secret
    form = EnrolForm()
    if form.validate_on_submit():
        try:
            codes = twofactor.confirm_enrolment(current_user, secret, form.code.data)
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc)
        else:
            db.session.commit()
            session.pop("enrol_secret", None)
            return render_template("auth/recovery_codes.html", codes=codes)
    return render_template(
        "auth/enrol_2fa.html",
        form=form,
        secret=secret,
        # segno draws the SVG from our own otpauth URI; nothing user-typed is in it.
        qr=Markup(twofactor.qr_svg(secret, current_user.username)),  # noqa: S704
        required=twofactor.required_for(current_user),
    )


@bp.route("/sessions/<int:session_id>/end", methods=["POST"])
@permission_required("account.manage_own")
def end_own_session(session_id: int):
    """End one of one's own sessions (another browser, a lost phone)."""
    row = db.session.get(UserSession, session_id)
    if row is None or row.user_id != current_user.id:
        abort(404)
    if ActionForm().validate_on_submit():
        services.end_session(row, "ended_by_user")
        db.session.commit()
        flash(_("The session has ended."), "success")
    return redirect(url_for("auth.account"))


@bp.route("/logout", methods=["POST"])
@permission_required("account.manage_own")
def logout():
    """Sign out: the session ends on the server, not only in the browser."""
    form = ActionForm()
    if form.validate_on_submit():
        services.logout(session.get("sid"))
        db.session.commit()
    locale = current_user.locale or session.get("locale")
    logout_user()
    session.clear()
    if locale:
        session["locale"] = locale  # the sign-in page stays in the language chosen
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@permission_required("account.manage_own")
def change_password():
    """Choose a new password (required after a one-time password)."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(
                current_user,
                form.current_password.data,
                form.password.data,
                token=session.get("sid"),
            )
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc)
        else:
            db.session.commit()
            flash(_("Your password has been changed. Your other sessions have ended."), "success")
            return redirect(url_for("reports.dashboard"))
    return render_template("auth/change_password.html", form=form)


@bp.route("/account")
@permission_required("account.manage_own")
def account():
    """One's own account: role, language, open sessions."""
    sessions = db.session.scalars(
        select(UserSession)
        .where(UserSession.user_id == current_user.id, UserSession.ended_at.is_(None))
        .order_by(UserSession.created_at.desc())
    ).all()
    return render_template(
        "auth/account.html",
        sessions=sessions,
        current_sid=services.find_session(session.get("sid")),
        language_form=LanguageForm(locale=g.get("locale")),
    )


@bp.route("/language", methods=["POST"])
@public
def set_language():
    """Switch the interface language; kept on the account when signed in."""
    form = LanguageForm()
    if form.validate_on_submit():
        user = current_user if current_user.is_authenticated else None
        try:
            locale = services.set_locale(user, form.locale.data)
        except DomainError as exc:
            flash(str(exc), "error")
        else:
            session["locale"] = locale
            db.session.commit()
    else:
        flash(_("That language is not available."), "error")
    return redirect(safe_next(form.next.data) or url_for("reports.dashboard"))


# --- user administration -------------------------------------------------------


def _get_user_or_404(user_id: int) -> User:
    try:
        return services.get_user(user_id)
    except NotFound:
        abort(404)


@bp.route("/users/")
@permission_required("users.manage")
def users():
    """Every account with its role, state and failed sign-ins."""
    accounts = db.session.scalars(select(User).order_by(User.username)).all()
    throttles = services.lock_state([user.username for user in accounts])
    return render_template(
        "auth/users.html", users=accounts, throttles=throttles, now=utcnow(), action=ActionForm()
    )


@bp.route("/users/new", methods=["GET", "POST"])
@permission_required("users.manage")
def create_user():
    """Create an account; its one-time password is shown once."""
    form = UserCreateForm()
    if form.validate_on_submit():
        try:
            user, password = services.create_user(
                form.username.data, form.role.data, full_name=form.full_name.data
            )
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc)
        else:
            db.session.commit()
            return render_template("auth/one_time_password.html", user=user, password=password)
    return render_template("auth/user_new.html", form=form)


@bp.route("/users/<int:user_id>")
@permission_required("users.manage")
def user_detail(user_id: int):
    """One account: its state, open sessions and the actions on it."""
    user = _get_user_or_404(user_id)
    open_sessions = [row for row in user.sessions if row.is_open]
    throttle = services.lock_state([user.username]).get(user.username)
    return render_template(
        "auth/user_detail.html",
        user=user,
        open_sessions=open_sessions,
        throttle=throttle,
        now=utcnow(),
        action=ActionForm(),
    )


def _user_action(user_id: int, act, success: str):
    user = _get_user_or_404(user_id)
    form = ActionForm()
    if form.validate_on_submit():
        try:
            result = act(user)
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            if isinstance(result, str):
                return render_template("auth/one_time_password.html", user=user, password=result)
            flash(success, "success")
    return redirect(url_for("auth.user_detail", user_id=user.id))


@bp.route("/users/<int:user_id>/deactivate", methods=["POST"])
@permission_required("users.manage")
def deactivate_user(user_id: int):
    """Stop an account from signing in; its sessions end at once."""
    return _user_action(
        user_id,
        lambda user: services.deactivate_user(user, current_user),
        _("The account has been deactivated and its sessions ended."),
    )


@bp.route("/users/<int:user_id>/reactivate", methods=["POST"])
@permission_required("users.manage")
def reactivate_user(user_id: int):
    """Let a deactivated account sign in again."""
    return _user_action(user_id, services.reactivate_user, _("The account can sign in again."))


@bp.route("/users/<int:user_id>/reset-password", methods=["POST"])
@permission_required("users.manage")
def reset_password(user_id: int):
    """Give the account a new one-time password, shown once."""
    return _user_action(user_id, services.reset_password, "")


@bp.route("/users/<int:user_id>/reset-2fa", methods=["POST"])
@permission_required("users.manage")
def reset_2fa(user_id: int):
    """Switch a user's two-factor sign-in off so they can enrol again."""
    return _user_action(
        user_id, twofactor.reset_2fa, _("Two-factor sign-in has been reset; they enrol again.")
    )


@bp.route("/users/<int:user_id>/end-sessions", methods=["POST"])
@permission_required("users.manage")
def end_user_sessions(user_id: int):
    """End every open session of a user."""

    def end_all(user):
        count = services.end_sessions_of(user, "ended_by_admin")
        record_event("sessions_ended", object_type="User", object_id=user.id, details={"n": count})

    return _user_action(user_id, end_all, _("All of the user's sessions have ended."))


@bp.route("/users/<int:user_id>/unlock", methods=["POST"])
@permission_required("users.manage")
def unlock_user(user_id: int):
    """Clear the account's failed sign-ins."""

    def unlock(user):
        if not services.unlock_user(user):
            raise DomainError(_("This account is not locked."))

    return _user_action(user_id, unlock, _("The account has been unlocked."))
