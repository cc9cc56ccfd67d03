"""Template filters: dates and times in the centre's zone and the user's language.

The same text as Flask-Babel's format_date and format_datetime, with each
locale's pattern parsed once, and its fields written by functions made once
per pattern (``_Written``): a violation log shows 150 dates and times, and
Babel looks up and parses the locale's patterns, and the names of its months
and days, again for every one (8 to 12 µs a medium date and time on the
benchmark's machine; 3 to 5 µs here). The names themselves are Babel's,
written once per locale.
"""

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import lru_cache

from babel import Locale
from babel.dates import DateTimeFormat, DateTimePattern, parse_pattern
from flask_babel import get_locale, get_timezone
from markupsafe import Markup

NAMED = ("full", "long", "medium", "short")


def localdatetime(value: datetime | None, format: str = "medium") -> str:
    """A stored UTC time shown in the centre's time zone."""
    if value is None:
        return ""
    return _written(get_locale(), "datetime", format)(_in_zone(value))


def localdate(value: date | datetime | None, format: str = "medium") -> str:
    """A date in the user's language."""
    if value is None:
        return ""
    locale = get_locale()
    if isinstance(value, datetime):
        format = "dd MMM yyyy" if format == "medium" else format
        return _written(locale, "datetime", format)(_in_zone(value))
    return _written(locale, "date", format)(value)


def _in_zone(value: datetime) -> datetime:
    """A stored time (UTC when it carries no zone) in the centre's time zone."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(get_timezone())


@lru_cache(maxsize=256)
def _written(locale: Locale, kind: str, format: str) -> Callable[[date], str]:
    """The function that writes a date or time in this format and locale."""
    pattern = _pattern(locale, kind, format)
    written = _Written(pattern, locale)
    return written if written.fields is not None else lambda value: pattern.apply(value, locale)


def _number(attribute: str, width: int, last_two: bool = False) -> Callable:
    template = f"%0{width}d"
    if last_two:
        return lambda value: template % (getattr(value, attribute) % 100)
    return lambda value: template % getattr(value, attribute)


def _twelve_hour(width: int) -> Callable:
    template = f"%0{width}d"
    return lambda value: template % (value.hour % 12 or 12)


#: The pattern fields written without Babel: numbers as Babel pads them.
NUMBERS = {
    "d": _number("day", 1),
    "dd": _number("day", 2),
    "M": _number("month", 1),
    "MM": _number("month", 2),
    "y": _number("year", 1),
    "yy": _number("year", 2, last_two=True),
    "yyyy": _number("year", 4),
    "H": _number("hour", 1),
    "HH": _number("hour", 2),
    "h": _twelve_hour(1),
    "hh": _twelve_hour(2),
    "m": _number("minute", 1),
    "mm": _number("minute", 2),
    "s": _number("second", 1),
    "ss": _number("second", 2),
}
#: Fields that are names (months, weekdays, AM/PM), with the value they depend
#: on and sample dates of each: Babel writes each name once, for its sample.
NAMES = {
    **{
        field: (lambda value: value.month, {m: date(2001, m, 1) for m in range(1, 13)})
        for field in ("MMM", "MMMM", "LLL", "LLLL")
    },
    # 1 January 2001 was a Monday: weekday() 0.
    **{
        field: (lambda value: value.weekday(), {d: date(2001, 1, 1 + d) for d in range(7)})
        for field in ("E", "EE", "EEE", "EEEE", "EEEEE", "EEEEEE")
    },
    "a": (
        lambda value: value.hour >= 12,
        {False: datetime(2001, 1, 1, 1), True: datetime(2001, 1, 1, 13)},
    ),
}
_FIELD = re.compile(r"%\((\w+)\)s")


class _Written:
    """A pattern's text with its fields as positions, and a function for each
    (``fields`` is None when a field is neither a number nor a name above:
    Babel then writes the whole pattern)."""

    def __init__(self, pattern: DateTimePattern, locale: Locale):
        names = _FIELD.findall(pattern.format)
        self.template = _FIELD.sub("%s", pattern.format)
        self.fields = []
        for name in names:
            if name in NUMBERS:
                self.fields.append(NUMBERS[name])
            elif name in NAMES:
                key, samples = NAMES[name]
                written = {k: DateTimeFormat(sample, locale)[name] for k, sample in samples.items()}
                self.fields.append(lambda value, key=key, written=written: written[key(value)])
            else:
                self.fields = None
                return

    def __call__(self, value: date) -> str:
        return self.template % tuple(field(value) for field in self.fields)


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
