"""Template filters: dates and times in the centre's zone and the user's language.

The same text as Flask-Babel's format_date and format_datetime, with each
locale's pattern parsed once: a log page shows hundreds of times, and Babel
looks up and parses the locale's patterns again for every one.
"""

from datetime import UTC, date, datetime
from functools import lru_cache

from babel import Locale
from babel.dates import DateTimePattern, parse_pattern
from flask_babel import get_locale, get_timezone
from markupsafe import Markup

NAMED = ("full", "long", "medium", "short")


def localdatetime(value: datetime | None, format: str = "medium") -> str:
    """A stored UTC time shown in the centre's time zone."""
    if value is None:
        return ""
    locale = get_locale()
    return _pattern(locale, "datetime", format).apply(_in_zone(value), locale)


def localdate(value: date | datetime | None, format: str = "medium") -> str:
    """A date in the user's language."""
    if value is None:
        return ""
    locale = get_locale()
    if isinstance(value, datetime):
        format = "dd MMM yyyy" if format == "medium" else format
        return _pattern(locale, "datetime", format).apply(_in_zone(value), locale)
    return _pattern(locale, "date", format).apply(value, locale)


def _in_zone(value: datetime) -> datetime:
    """A stored time (UTC when it carries no zone) in the centre's time zone."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(get_timezone())


@lru_cache(maxsize=256)
def _pattern(locale: Locale, kind: str, format: str) -> DateTimePattern:
    """A named format ("medium" …) of the locale, or a pattern, parsed.

    A named date-and-time format is the locale's date and time patterns set
    into its joining pattern, as babel.dates.format_datetime joins them.
    """
    if format not in NAMED:
        return parse_pattern(format)
    if kind == "date":
        return locale.date_formats[format]
    joined = locale.datetime_formats.get(format) or locale.datetime_formats[None]
    return parse_pattern(
        joined.replace("{1}", locale.date_formats[format].pattern).replace(
            "{0}", locale.time_formats[format].pattern
        )
    )


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
