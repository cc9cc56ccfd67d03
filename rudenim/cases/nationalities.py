"""Nationalities: the ISO 3166-1 list (pycountry) plus "Stateless" and "Unknown"."""

import gettext
from functools import cache

import pycountry
from flask_babel import get_locale
from flask_babel import gettext as _

STATELESS = "stateless"
UNKNOWN = "unknown"


@cache
def _translation(language: str) -> gettext.NullTranslations:
    return gettext.translation(
        "iso3166-1", pycountry.LOCALES_DIR, languages=[language], fallback=True
    )


@cache
def _codes() -> frozenset[str]:
    return frozenset(country.alpha_2 for country in pycountry.countries)


def is_valid(code: str | None) -> bool:
    """Whether ``code`` is a nationality this system knows."""
    return code in (STATELESS, UNKNOWN) or code in _codes()


def _language() -> str:
    locale = get_locale()
    return locale.language if locale else "id"


def label(code: str | None, language: str | None = None) -> str:
    """A nationality's name in the interface language."""
    if code == STATELESS:
        return _("Stateless")
    if code == UNKNOWN or not code:
        return _("Unknown")
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    name = getattr(country, "common_name", None) or country.name
    translated = _translation(language or _language()).gettext(country.name)
    return translated if translated != country.name else name


def choices(language: str | None = None) -> list[tuple[str, str]]:
    """Every nationality as (code, name), sorted by name, Stateless and Unknown first."""
    language = language or _language()
    return _choices(language, str(_("Stateless")), str(_("Unknown")))


@cache
def _choices(language: str, stateless: str, unknown: str) -> list[tuple[str, str]]:
    countries = sorted(
        ((c.alpha_2, label(c.alpha_2, language)) for c in pycountry.countries),
        key=lambda pair: pair[1].casefold(),
    )
    return [(STATELESS, stateless), (UNKNOWN, unknown), *countries]
