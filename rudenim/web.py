"""What every response shares: request ids, security headers, error pages, health."""

import logging
import uuid

from flask import Blueprint, abort, g, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy import text
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from rudenim.auth.access import public
from rudenim.extensions import db

log = logging.getLogger("rudenim")

health_bp = Blueprint("health", __name__)

#: The largest id a table holds: both databases store ids as signed 64-bit
#: integers, and SQLite's driver refuses a larger number (an OverflowError, a 500).
MAX_ID = 2**63 - 1


def as_id(value) -> int | None:
    """``value`` (text from an address, a form or a hidden field) as a record id:
    ASCII digits making 1 to MAX_ID, else None."""
    text = str(value if value is not None else "").strip()
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


def record_id(value) -> int:
    """``as_id`` as a WTForms ``coerce``: a ValueError for what is not an id."""
    number = as_id(value)
    if number is None:
        raise ValueError(f"not a record id: {value!r}")
    return number


class IdConverter(IntegerConverter):
    """``<int:…>`` in the app's addresses: a number larger than any id matches
    no page (a 404) instead of reaching the database."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "object-src 'none'",
        "frame-ancestors 'none'",
    ]
)


@health_bp.route("/healthz")
@public
def healthz():
    """Liveness and database reachability, for monitors and load balancers."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # any failure to reach the database means "not healthy"
        log.exception("health check: database unreachable")
        db.session.rollback()
        return jsonify(status="error", database="error"), 503
    return jsonify(status="ok", database="ok")


#: No list has this many pages; a larger ?page= would overflow the database's OFFSET.
MAX_PAGE = 1_000_000


def page_number() -> int:
    """The list page asked for in ``?page=``, within 1 … MAX_PAGE."""
    return min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_PAGE)


class RequestIdFilter(logging.Filter):
    """Put the request id on every log record made while handling a request."""

    def filter(self, record):
        from flask import has_request_context

        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


def _assign_request_id():
    g.request_id = uuid.uuid4().hex[:16]


def _refuse_nul_characters():
    """Answer 400 to a NUL character anywhere in the request's text.

    No field has a use for one, and PostgreSQL refuses it in text, so a stray
    NUL in a search or a form used to end in a 500 there (SQLite stored it).
    """
    if "\x00" in request.path:
        abort(400)
    for source in (request.args, request.form):
        for key, values in source.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                abort(400)


def _secure_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.endpoint != "static":
        # Pages carry personal data: no browser or proxy may keep a copy.
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
    if "request_id" in g:
        headers["X-Request-ID"] = g.request_id
    return response


ERROR_TEXTS = {
    400: lambda: _("The request could not be understood."),
    403: lambda: _("You do not have permission to do this."),
    404: lambda: _("There is no page at this address."),
    405: lambda: _("This page cannot be used that way."),
    413: lambda: _("What you sent is too large."),
    429: lambda: _("Too many attempts. Wait a moment and try again."),
    500: lambda: _("Something went wrong on our side. The error has been logged."),
}


def _render_error(status: int, message: str | None = None):
    text_ = message or ERROR_TEXTS.get(status, ERROR_TEXTS[500])()
    if request.accept_mimetypes.best == "application/json":
        return jsonify(error=text_, request_id=g.get("request_id")), status
    return render_template("errors/error.html", status=status, message=text_), status


def _handle_http_error(exc: HTTPException):
    body, status = _render_error(exc.code or 500)
    # Keep what the exception says beyond its page, e.g. Allow on a 405.
    headers = [(name, value) for name, value in exc.get_headers() if name != "Content-Type"]
    return body, status, headers


def _handle_csrf_error(_exc: CSRFError):
    return _render_error(
        400,
        _("The form had expired or was sent from elsewhere. Reload the page and send it again."),
    )


def _handle_unexpected(exc: Exception):
    if isinstance(exc, HTTPException):
        return _handle_http_error(exc)
    db.session.rollback()
    log.error("unhandled error (request %s)", g.get("request_id"), exc_info=exc)
    return _render_error(500)


def init_app(app) -> None:
    """Register the shared hooks and error pages on ``app`` (before the blueprints:
    their addresses read numbers with IdConverter)."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(_assign_request_id)
    app.before_request(_refuse_nul_characters)
    app.after_request(_secure_headers)
    app.register_error_handler(CSRFError, _handle_csrf_error)
    app.register_error_handler(HTTPException, _handle_http_error)
    app.register_error_handler(Exception, _handle_unexpected)
    app.register_blueprint(health_bp)
