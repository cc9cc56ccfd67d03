"""Template filters: dates and times in the centre's zone and the user's language."""

from datetime import date, datetime

from flask_babel import format_date, format_datetime
from markupsafe import Markup


def localdatetime(value: datetime | None, format: str = "medium") -> str:
    """A stored UTC time shown in the centre's time zone."""
    return "" if value is None else format_datetime(value, format)


def localdate(value: date | datetime | None, format: str = "medium") -> str:
    """A date in the user's language."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return format_datetime(value, format="dd MMM yyyy" if format == "medium" else format)
    return format_date(value, format)


def isodate(value: date | None) -> Markup | str:
    """A date as YYYY-MM-DD (for inputs and machine-readable cells)."""
    return "" if value is None else value.isoformat()


def role_label(role) -> str:
    """A role's name in the interface language."""
    from rudenim.auth.forms import role_choices

    return str(dict(role_choices()).get(str(role), role))


def init_app(app) -> None:
    """Register the filters."""
    app.add_template_filter(localdatetime)
    app.add_template_filter(localdate)
    app.add_template_filter(isodate)
    app.add_template_global(role_label)
