"""Time in one place: UTC for storage, the centre's zone for people.

Everything that asks "what time is it" goes through here so tests can fix it.
"""

from datetime import UTC, date, datetime
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
    """A naive datetime typed by a user, taken as local time, in UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=centre_zone())
    return value.astimezone(UTC)
