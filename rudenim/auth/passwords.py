"""Password hashing (argon2id) and the password policy."""

import gzip
import re
from functools import cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import gettext as _

from rudenim.errors import DomainError


@cache
def _hasher(fast: bool) -> PasswordHasher:
    # Tests use cheaper parameters; the hash is still a real argon2id hash.
    if fast:
        return PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    return PasswordHasher()


def _current_hasher() -> PasswordHasher:
    return _hasher(bool(current_app.config.get("ARGON2_FAST")))


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _current_hasher().hash(password)


def check_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches the stored hash."""
    try:
        return _current_hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def dummy_check(password: str) -> None:
    """Spend the time of a real check, so an unknown username answers as slowly."""
    check_password(_dummy_hash(bool(current_app.config.get("ARGON2_FAST"))), password)


@cache
def _dummy_hash(fast: bool) -> str:
    return _hasher(fast).hash("not a real password, only here to take time")


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords (from Django's list, lower-case)."""
    data = resources.files("rudenim.auth").joinpath("data/common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(data).decode("utf-8").split())


def check_policy(password: str, username: str | None = None) -> None:
    """Refuse a password that is short, common, or the username; say why."""
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password) < minimum:
        raise DomainError(
            _("The password must be at least %(n)d characters long.", n=minimum),
            field="password",
        )
    lowered = password.lower()
    # A word said twice ("passwordpassword") is no harder to guess than once.
    repeated = re.fullmatch(r"(.+?)\1+", lowered)
    if lowered in common_passwords() or repeated or len(set(password)) < 4:
        raise DomainError(
            _("This password is too common. Choose one that is harder to guess."),
            field="password",
        )
    if username and username.lower() in lowered:
        raise DomainError(_("The password must not contain the username."), field="password")
