"""Factories and helpers for the house-rule and violation tests.

Factories are fixtures that return callables. Called inside an app context
(the ``ctx``/``db`` fixtures) they work in that context's session and return
live objects; called outside one (page tests, between requests) they open a
context of their own and return the saved object detached, its columns loaded
(``.id``, ``.status``, ``.version`` …).
"""

import html
import itertools
import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from flask import has_app_context
from sqlalchemy import func, select

from rudenim.audit.context import Actor, acting_as
from rudenim.audit.models import AuditEvent
from rudenim.auth.models import User
from rudenim.cases import services as cases
from rudenim.cases.models import CustodyEvent, Person, Placement
from rudenim.clock import local_now, local_today
from rudenim.conduct import services
from rudenim.conduct.models import (
    HouseRule,
    RuleSanction,
    RulesExplanation,
    Violation,
    ViolationAmendment,
)
from rudenim.extensions import db as _db
from rudenim.reference import load_reference
from tests.conftest import PASSWORD

#: Tables whose rows must not change when a request is refused.
CONDUCT_TABLES = (
    HouseRule,
    RuleSanction,
    RulesExplanation,
    Violation,
    ViolationAmendment,
    CustodyEvent,
    Person,
)

#: Punishments the Mandela Rules forbid: none of them may exist in the system.
FORBIDDEN = (
    "collective_punishment",
    "corporal_punishment",
    "reduced_food",
    "reduced_water",
    "dark_cell",
    "always_lit_cell",
    "restraints",
    "family_contact_ban",
)


#: Synthetic names far enough apart that the duplicate check never stops a registration.
NAMES = (
    "Amina Yusuf",
    "Bashir Karimi",
    "Farida Osman",
    "Tesfaye Kebede",
    "Omid Rostami",
    "Laila Sultani",
    "Wahid Barakzai",
    "Shukria Noorzai",
    "Ismail Warsame",
    "Parwin Ebadi",
    "Daud Gebremedhin",
    "Halima Dirie",
)
NATIONALITIES = ("AF", "MM", "SO", "ET", "IR", "SD", "PK", "IQ", "LK", "ER", "YE", "SY")

#: The steps a violation can be brought to by ``make_violation``, in order.
STEPS = ("reported", "notified", "statement", "decided")


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


def _user(user) -> User:
    return _db.session.get(User, user if isinstance(user, int) else user.id)


@dataclass(frozen=True)
class Catalogue:
    """Ids of the starting reference data."""

    rules: dict[str, int]
    #: A block of the centre and a housing site.
    centre: int
    housing: int
    other_housing: int


@pytest.fixture
def catalogue(app):
    """Load the starting reference data (rules, placements) through ``load_reference``."""

    def _load() -> Catalogue:
        with _session(app), acting_as(Actor(None, "test-setup")):
            load_reference()
            _db.session.commit()
            rules = dict(_db.session.execute(select(HouseRule.code, HouseRule.id)).all())
            places = dict(_db.session.execute(select(Placement.name, Placement.id)).all())
            return Catalogue(
                rules=rules,
                centre=places["Blok A"],
                housing=places["Wisma Lavender"],
                other_housing=places["Hotel Ina Boi"],
            )

    return _load


@pytest.fixture
def make_staff(app):
    """A user of ``role`` (committed), in the caller's session."""
    from rudenim.auth.services import create_user

    counter = itertools.count(1)

    def _make(role="officer"):
        with _session(app) as own, acting_as(Actor(None, "test-setup")):
            user, _ = create_user(f"{role}-c{next(counter)}", role, password=PASSWORD)
            return _hand_back(user, own)

    return _make


@pytest.fixture
def make_person(app, catalogue, make_staff):
    """Register a person through ``register_person``: in community housing by default.

    ``make_person(status="detained")``, ``vulnerabilities=["minor"]``,
    ``arrived_on=…`` and any other PersonData field.
    """
    numbers = itertools.count()
    state: dict = {}

    def _make(*, status="community_housing", placement=None, actor=None, **fields):
        if "catalogue" not in state:
            state["catalogue"] = catalogue()
        places = state["catalogue"]
        number = next(numbers)
        data = {
            "full_name": NAMES[number % len(NAMES)],
            "sex": "male",
            "nationality": NATIONALITIES[number % len(NATIONALITIES)],
            "legal_category": "asylum_seeker",
            "arrived_on": local_today() - timedelta(days=200),
            "date_of_birth": date(1985 + number % 10, 3, 1 + number % 27),
            "languages": "Dari",
        }
        data.update(fields)
        if placement is None:
            placement = {"detained": places.centre, "community_housing": places.housing}.get(status)
        with _session(app) as own:
            if actor is None:
                if "officer" not in state:
                    state["officer"] = make_staff("officer").id
                actor = state["officer"]
            actor = _user(actor)
            with acting_as(Actor(actor.id, actor.username)):
                person = cases.register_person(
                    cases.PersonData(**data),
                    cases.CustodyData(status=status, placement_id=placement, effective_on=None),
                    actor=actor,
                )
            return _hand_back(person, own)

    return _make


@pytest.fixture
def make_violation(app, catalogue, make_person, make_staff):
    """A violation brought to ``step``: reported, notified, statement (recorded) or decided.

    ``reporter``/``decider`` are users (or ids); by default an officer reports and
    a supervisor decides. When decided, ``outcome`` (upheld) and ``sanction``
    (verbal warning) with ``ends_on``, ``privilege`` and ``placement`` as the
    decision needs them.
    """
    state: dict = {}

    def _staff(role):
        if role not in state:
            state[role] = make_staff(role).id
        return state[role]

    def _make(
        person=None,
        *,
        step="reported",
        rule="TT-01",
        reporter=None,
        decider=None,
        occurred_at: datetime | None = None,
        location="Wisma Lavender, gate",
        description="Left the site at 21:00 without signing out.",
        witnesses="Guard on duty",
        severity="minor",
        outcome="upheld",
        sanction="verbal_warning",
        ends_on: date | None = None,
        privilege="",
        placement=None,
        declined=False,
    ):
        assert step in STEPS, step
        if "catalogue" not in state:
            state["catalogue"] = catalogue()
        places = state["catalogue"]
        with _session(app) as own:
            person = _db.session.get(Person, (person or make_person()).id)
            reporter = _user(reporter or _staff("officer"))
            decider = _user(decider or _staff("supervisor"))
            when = occurred_at or (local_now() - timedelta(hours=3)).replace(tzinfo=None)
            with acting_as(Actor(reporter.id, reporter.username)):
                violation = services.report_violation(
                    person,
                    services.ReportData(
                        rule_id=places.rules[rule],
                        occurred_at=when,
                        location=location,
                        description=description,
                        witnesses=witnesses,
                        severity=severity,
                    ),
                    actor=reporter,
                )
                if STEPS.index(step) >= 1:
                    services.notify_charge(
                        violation,
                        local_today(),
                        "Dari",
                        "Rahim Azizi",
                        no_interpreter_needed=False,
                        actor=reporter,
                    )
                if STEPS.index(step) >= 2:
                    services.record_statement(
                        violation,
                        "" if declined else "I went to buy medicine for my son.",
                        declined=declined,
                        actor=reporter,
                    )
            if step == "decided":
                with acting_as(Actor(decider.id, decider.username)):
                    if sanction == "transfer_to_detention" and placement is None:
                        placement = places.centre
                    services.decide_violation(
                        violation,
                        services.DecisionData(
                            outcome=outcome,
                            reasons="The guard's log and the person's own account agree.",
                            alternatives_considered="A conversation with the site coordinator.",
                            sanction=sanction if outcome == "upheld" else None,
                            privilege=privilege,
                            ends_on=ends_on,
                            appeal_rights_told_on=local_today(),
                            placement_id=placement,
                        ),
                        actor=decider,
                    )
            return _hand_back(violation, own)

    return _make


# --- reading what happened -----------------------------------------------------------------------


def row_counts(app) -> dict[str, int]:
    """Rows in each of the tables a refused request must leave alone."""
    with _session(app):
        return {
            model.__tablename__: _db.session.scalar(select(func.count()).select_from(model))
            for model in CONDUCT_TABLES
        }


def violation_row(app, violation_id: int) -> dict:
    """A violation's columns as they are in the database now."""
    with _session(app):
        _db.session.expire_all()
        violation = _db.session.get(Violation, violation_id)
        return {
            column.key: getattr(violation, column.key) for column in Violation.__table__.columns
        }


def person_row(app, person_id: int) -> dict:
    """A person's columns as they are in the database now."""
    with _session(app):
        _db.session.expire_all()
        person = _db.session.get(Person, person_id)
        return {column.key: getattr(person, column.key) for column in Person.__table__.columns}


def audit_events(app, action=None, *, object_type=None) -> list[AuditEvent]:
    """Audit events (of one action, about one kind of object), oldest first."""
    with _session(app):
        query = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        if object_type:
            query = query.where(AuditEvent.object_type == object_type)
        events = list(_db.session.scalars(query))
        for event in events:
            _db.session.expunge(event)
        return events


def messages(response) -> list[str]:
    """Flashed messages and field errors, as the user reads them."""
    text = response.get_data(as_text=True)
    found = re.findall(r'<p class="(?:flash flash-\w+|error)"[^>]*>(.*?)</p>', text, re.S)
    return [html.unescape(item).strip() for item in found]


def english(browser) -> None:
    """Switch a browser's interface to English, as a user would."""
    response = browser.post("/auth/language", data={"locale": "en", "next": "/auth/account"})
    assert response.status_code == 302, response.get_data(as_text=True)


@pytest.fixture
def browser(app, make_user):
    """A new signed-in browser reading English: ``browser("supervisor")`` → (client, user id)."""

    def _open(role="officer"):
        user_id = make_user(role)
        with app.app_context():
            username = _db.session.get(User, user_id).username
        client = app.test_client()
        response = client.post("/auth/login", data={"username": username, "password": PASSWORD})
        assert response.status_code == 302, response.get_data(as_text=True)
        english(client)
        return client, user_id

    return _open
