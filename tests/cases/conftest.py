"""Factories and helpers for the people registry's tests.

Factories are fixtures that return callables. Called inside an app context
(the ``ctx``/``db`` fixtures) they work in that context's session and return
live objects; called outside one (page tests, between requests) they open a
context of their own and return the saved object detached, its columns loaded
(``.id``, ``.case_number``, ``.version`` …).
"""

import html
import itertools
import re
from contextlib import contextmanager
from datetime import date, timedelta
from functools import cache

import pytest
from flask import has_app_context
from sqlalchemy import func, select

from rudenim.audit.context import Actor, acting_as
from rudenim.audit.models import AuditEvent
from rudenim.auth.models import User
from rudenim.cases import names, services
from rudenim.cases.models import (
    Alias,
    CaseNumberCounter,
    CustodyEvent,
    DetentionReview,
    EthnicitySuggestion,
    Identifier,
    Person,
    PersonVulnerability,
    Placement,
)
from rudenim.clock import local_today
from rudenim.extensions import db as _db
from tests.conftest import PASSWORD

#: Tables whose rows must not change when a request is refused.
CASE_TABLES = (
    Person,
    Alias,
    Identifier,
    PersonVulnerability,
    CustodyEvent,
    DetentionReview,
    Placement,
    EthnicitySuggestion,
    CaseNumberCounter,
)

_GIVEN = [
    "Amina",
    "Bashir",
    "Farida",
    "Hassan",
    "Jamila",
    "Karim",
    "Laila",
    "Nasrin",
    "Omid",
    "Parwin",
    "Samir",
    "Tariq",
    "Wahid",
    "Zahra",
    "Daud",
    "Gul",
    "Rohullah",
    "Shukria",
    "Mustafa",
    "Fatuma",
    "Ismail",
    "Halima",
    "Abebe",
    "Tesfaye",
]
_FAMILY = [
    "Yusuf",
    "Karimi",
    "Haidari",
    "Osman",
    "Jalali",
    "Rostami",
    "Sultani",
    "Barakzai",
    "Faizi",
    "Qasemi",
    "Wardak",
    "Ebadi",
    "Mirza",
    "Tahir",
    "Zaki",
    "Lutfi",
    "Noorzai",
    "Dirie",
    "Warsame",
    "Gebremedhin",
    "Kebede",
    "Abdi",
    "Popalzai",
    "Siddiqi",
]


@cache
def distinct_names() -> tuple[str, ...]:
    """Synthetic names no two of which the duplicate check takes for one person."""
    kept: list[str] = []
    for family, given in itertools.product(_FAMILY, _GIVEN):
        name = f"{given} {family}"
        if all(names.similarity(name, other) < 80 for other in kept):
            kept.append(name)
    return tuple(kept)


@contextmanager
def _session(app):
    """The caller's session if an app context is active, else one of our own."""
    if has_app_context():
        yield False
    else:
        with app.app_context():
            yield True


def _hand_back(obj, own_context: bool):
    _db.session.commit()
    if own_context:
        _db.session.refresh(obj)
        _db.session.expunge(obj)
    return obj


def english(browser) -> None:
    """Switch a browser's interface to English, as a user would."""
    response = browser.post("/auth/language", data={"locale": "en", "next": "/auth/account"})
    assert response.status_code == 302, response.get_data(as_text=True)


@pytest.fixture
def sign_in(app, client, make_user):
    """Sign a browser (default: ``client``) in as a new user with ``role``, in English."""

    def _sign_in(role="officer", browser=None, **options):
        browser = browser or client
        user_id = make_user(role, **options)
        with app.app_context():
            username = _db.session.get(User, user_id).username
        response = browser.post("/auth/login", data={"username": username, "password": PASSWORD})
        assert response.status_code == 302, response.get_data(as_text=True)
        english(browser)
        return user_id

    return _sign_in


@pytest.fixture
def make_staff(app):
    """A user of ``role`` (committed), in the caller's session."""
    from rudenim.auth.services import create_user

    counter = itertools.count(1)

    def _make(role="officer"):
        with _session(app) as own, acting_as(Actor(None, "test-setup")):
            user, _ = create_user(f"{role}-staff{next(counter)}", role, password=PASSWORD)
            return _hand_back(user, own)

    return _make


@pytest.fixture
def make_placement(app):
    """A placement: make_placement(kind="centre", name=..., capacity=...)."""
    counter = itertools.count(1)

    def _make(kind="centre", name=None, capacity=None, is_active=True):
        number = next(counter)
        name = name or (f"Blok {number}" if kind == "centre" else f"Wisma {number}")
        with _session(app) as own, acting_as(Actor(None, "test-setup")):
            placement = services.save_placement(
                None, kind=kind, name=name, capacity=capacity, is_active=is_active
            )
            return _hand_back(placement, own)

    return _make


@pytest.fixture
def make_person(app, make_staff, make_placement):
    """Register a person through ``register_person``, with sensible defaults.

    Keyword arguments are PersonData fields, plus ``status``, ``placement``
    (an id; by default a centre block for detention, a housing site for
    community housing), ``effective_on`` and ``actor`` (a User).
    """
    names_left = iter(distinct_names())
    defaults: dict = {}
    officer: dict = {}

    def _default_placement(kind):
        if kind not in defaults:
            placement = make_placement(kind=kind, name=f"Default {kind}")
            defaults[kind] = placement.id
        return defaults[kind]

    def _make(
        *, status="detained", placement=None, effective_on=None, actor=None, confirm=(), **fields
    ):
        today = local_today()
        data = {
            "full_name": fields.pop("full_name", None) or next(names_left),
            "sex": "male",
            "nationality": "AF",
            "legal_category": "asylum_seeker",
            "arrived_on": today - timedelta(days=100),
            "date_of_birth": date(1990, 6, 15),
        }
        data.update(fields)
        kind = {"detained": "centre", "community_housing": "housing"}.get(status)
        if placement is None and kind:
            placement = _default_placement(kind)
        with _session(app) as own:
            if actor is None:
                if "id" not in officer:
                    officer["id"] = make_staff("officer").id
                actor = _db.session.get(User, officer["id"])
            with acting_as(Actor(actor.id, actor.username)):
                person = services.register_person(
                    services.PersonData(**data),
                    services.CustodyData(
                        status=status, placement_id=placement, effective_on=effective_on
                    ),
                    actor=actor,
                    confirmed_different_from=list(confirm),
                )
            return _hand_back(person, own)

    return _make


# --- reading what happened --------------------------------------------------------


def row_counts(app) -> dict[str, int]:
    """Rows in each of the registry's tables."""
    with _session(app):
        return {
            model.__tablename__: _db.session.scalar(select(func.count()).select_from(model))
            for model in CASE_TABLES
        }


def person_row(app, person_id: int) -> dict:
    """A person's columns as they are in the database now."""
    with _session(app):
        _db.session.expire_all()
        person = _db.session.get(Person, person_id)
        return {column.key: getattr(person, column.key) for column in Person.__table__.columns}


def audit_events(app, action=None, *, subject_id=None) -> list[AuditEvent]:
    """Audit events (of one action, about one person), oldest first."""
    with _session(app):
        query = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        if subject_id is not None:
            query = query.where(
                AuditEvent.subject_type == "Person", AuditEvent.subject_id == str(subject_id)
            )
        events = list(_db.session.scalars(query))
        for event in events:
            _db.session.expunge(event)
        return events


def messages(response) -> list[str]:
    """Flashed messages and field errors, as the user reads them."""
    text = response.get_data(as_text=True)
    found = re.findall(r'<p class="(?:flash flash-\w+|error)"[^>]*>(.*?)</p>', text, re.S)
    return [html.unescape(item).strip() for item in found]


def listed(response) -> list[str]:
    """The case numbers a people list shows, in order."""
    assert response.status_code == 200, response.status_code
    body = response.get_data(as_text=True)
    table = body[body.index('<table class="people">') :]
    return re.findall(r'<a href="/cases/\d+">([A-Z]+-\d{4}-\d{4})</a>', table)
