"""Time in one place: UTC for storage, the centre's zone for people.

Everything that asks "what time is it" goes through here so tests can fix it.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context


def utcnow() -> datetime:
    """The current time in UTC, timezone-aware."""
    return datetime.now(UTC)


def centre_zone() -> ZoneInfo:
    """The centre's time zone (setting TIMEZONE)."""
    name = current_app.config["TIMEZONE"] if has_app_context() else "Asia/Makassar"
    return ZoneInfo(name)


def local_now() -> datetime:
    """The current time in the centre's time zone."""
    return utcnow().astimezone(centre_zone())


def local_today() -> date:
    """Today's date where the centre is."""
    return local_now().date()


def as_utc(value: datetime) -> datetime:
    """A stored datetime as aware UTC (SQLite hands them back naive)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def to_local(value: datetime) -> datetime:
    """A stored UTC datetime in the centre's time zone."""
    return as_utc(value).astimezone(centre_zone())


def local_to_utc(value: datetime) -> datetime:
    """A naive datetime typed by a user, taken as local time, in UTC.

    A time whose UTC instant Python cannot hold (in year 1 east of UTC, in year
    9999 west of it) becomes the first or last instant it can: still earlier or
    later than anything a rule accepts, so the rule, not an OverflowError, answers.
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=centre_zone())
    try:
        return value.astimezone(UTC)
    except OverflowError:
        edge = datetime.min if value.year == datetime.min.year else datetime.max
        return edge.replace(tzinfo=UTC)


def local_days_span(
    first: date | None, last: date | None
) -> tuple[datetime | None, datetime | None]:
    """The instants, in UTC, that a filter "from ``first`` to ``last``" (the
    centre's calendar days, both included) spans: the start of ``first`` and
    the start of the day after ``last``.

    A bound at the calendar's edge (the first day of year 1 east of UTC, the
    last day of year 9999), which no stored time can pass, is None: no bound,
    rather than a time Python cannot hold.
    """

    def start(day: date) -> datetime | None:
        try:
            return datetime.combine(day, time.min, tzinfo=centre_zone()).astimezone(UTC)
        except OverflowError:
            return None

    begin = start(first) if first else None
    end = start(last + timedelta(days=1)) if last and last < date.max else None
    return begin, end
