"""Settings for Rudenim.

Every setting has a safe default for a single centre running on one machine and
can be overridden from the environment. ``create_app`` takes one of these
classes, or a mapping, so tests and deployments pass their own.
"""

import os
from datetime import timedelta


def env_bool(name: str, default: bool = False) -> bool:
    """Read a yes/no setting from the environment."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    """Read a whole-number setting from the environment."""
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


class Config:
    """Defaults for the embedded, single-centre deployment."""

    RUDENIM_ENV = os.environ.get("RUDENIM_ENV", "development")
    #: None means: read or create ``secret_key`` in the instance folder.
    SECRET_KEY = os.environ.get("SECRET_KEY") or None
    #: None means: SQLite in the instance folder.
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or None
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}

    CENTRE_NAME = os.environ.get("CENTRE_NAME", "Rumah Detensi Imigrasi Kupang")
    SITE_CODE = os.environ.get("SITE_CODE", "KPG")
    TIMEZONE = os.environ.get("TIMEZONE", "Asia/Makassar")
    BABEL_DEFAULT_LOCALE = "id"
    LANGUAGES = ("id", "en")

    #: A detained person's detention is reviewed at least this often.
    DETENTION_REVIEW_DAYS = env_int("DETENTION_REVIEW_DAYS", 30)
    #: A referred or in-progress verification that has not moved this long is stalled.
    VERIFICATION_STALLED_DAYS = env_int("VERIFICATION_STALLED_DAYS", 90)
    #: An upheld decision can be appealed within this many days.
    APPEAL_DAYS = env_int("APPEAL_DAYS", 14)
    #: A reported violation not decided within this many days is overdue.
    REVIEW_DUE_DAYS = env_int("REVIEW_DUE_DAYS", 7)
    #: People in community housing report to the centre at least this often.
    CHECKIN_BASE_DAYS = env_int("CHECKIN_BASE_DAYS", 30)
    #: Someone with an active flag is checked in at least this often.
    FLAG_CHECKIN_HOURS = env_int("FLAG_CHECKIN_HOURS", 24)
    #: Records of people who left care this many years ago are anonymised.
    RETENTION_YEARS = env_int("RETENTION_YEARS", 5)

    SESSION_IDLE_MINUTES = env_int("SESSION_IDLE_MINUTES", 30)
    #: Absolute lifetime of a signed session cookie; idleness is checked separately.
    PERMANENT_SESSION_LIFETIME = timedelta(hours=env_int("SESSION_MAX_HOURS", 12))
    SESSION_COOKIE_NAME = "rudenim_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
    #: Number of reverse proxies whose X-Forwarded-* headers are trusted.
    TRUSTED_PROXIES = env_int("TRUSTED_PROXIES", 0)

    #: Roles that must use two-factor sign-in, e.g. "admin,supervisor".
    REQUIRE_2FA_FOR = os.environ.get("REQUIRE_2FA_FOR", "")
    TOTP_ISSUER = os.environ.get("TOTP_ISSUER", "Rudenim")

    PASSWORD_MIN_LENGTH = 12
    LOGIN_LOCK_AFTER = env_int("LOGIN_LOCK_AFTER", 5)
    #: First lockout in seconds; it doubles with every further failure.
    LOGIN_LOCK_BASE_SECONDS = env_int("LOGIN_LOCK_BASE_SECONDS", 60)
    LOGIN_LOCK_MAX_SECONDS = env_int("LOGIN_LOCK_MAX_SECONDS", 3600)
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "10 per minute;100 per hour")

    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_ENABLED = env_bool("RATELIMIT_ENABLED", True)

    #: The dashboard's figures are reused for this many seconds (at most 60:
    #: no count it shows is older than that); 0 computes them on every request.
    DASHBOARD_CACHE_SECONDS = min(60, env_int("DASHBOARD_CACHE_SECONDS", 30))
    #: Pages reuse the list of active placements for their choice lists this many
    #: seconds (a worker's own changes at once); forms that are sent are always
    #: checked against the current list. 0 reads it on every page.
    PLACEMENT_CACHE_SECONDS = min(60, env_int("PLACEMENT_CACHE_SECONDS", 30))

    WTF_CSRF_TIME_LIMIT = 8 * 3600
    AUDIT_PAGE_SIZE = 50
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")


class ProductionConfig(Config):
    """Behind HTTPS: cookies only over TLS; a secret key must be given."""

    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)


class TestConfig(Config):
    """Fast and isolated: tests pass their own database URL."""

    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    WTF_CSRF_ENABLED = False
    RATELIMIT_ENABLED = False
    RATELIMIT_STORAGE_URI = "memory://"
    #: argon2 at its slowest is needless in tests; still a real argon2 hash.
    ARGON2_FAST = True
    SESSION_COOKIE_SECURE = False
    #: Tests see each change on the next page; the cache has its own tests.
    DASHBOARD_CACHE_SECONDS = 0
    PLACEMENT_CACHE_SECONDS = 0


def config_for_environment() -> type[Config]:
    """The settings class named by RUDENIM_ENV."""
    return ProductionConfig if os.environ.get("RUDENIM_ENV") == "production" else Config
