"""Factories and readers for monitoring periods, roll calls and flags.

People, violations and staff come from ``tests/conduct/conftest.py``: people are
in community housing at "Wisma Lavender" by default, violations are taken
through due process to ``step="decided"``. Like those, the factories here work
in the caller's app context when one is active (returning live objects) and
otherwise open one of their own (returning the saved object detached, its
columns loaded).
"""

import html
import re
from contextlib import contextmanager
from datetime import date, datetime, timedelta

import pytest
from babel.dates import format_date
from flask import has_app_context
from sqlalchemy import func, select

from rudenim.audit.context import Actor, acting_as
from rudenim.audit.models import AuditEvent
from rudenim.auth.models import User
from rudenim.cases import services as cases
from rudenim.cases.models import CustodyEvent, Person
from rudenim.clock import local_today
from rudenim.conduct.models import Violation
from rudenim.extensions import db as _db
from rudenim.monitoring import services
from rudenim.monitoring.models import CheckIn, MonitoringFlag, MonitoringPeriod
from tests.conduct.conftest import (  # noqa: F401  (fixtures used by the tests here)
    browser,
    catalogue,
    english,
    make_person,
    make_staff,
    make_violation,
    messages,
)

REASON = "Received threats on social media after a local news story about refugees."
HANDLING = "Ask how they are; report threats to the duty supervisor."


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


def day(offset: int = 0) -> date:
    """Today in the centre, moved by ``offset`` days."""
    return local_today() + timedelta(days=offset)


def shown(value: date) -> str:
    """A date as the English interface shows it."""
    return format_date(value, "medium", locale="en")


@pytest.fixture
def staff(make_staff):  # noqa: F811  (the conduct factory, as a fixture)
    """Ids of the default staff, made on first use: ``staff("officer")``,
    ``staff("supervisor")`` and a second one, ``staff("supervisor2")``."""
    made: dict[str, int] = {}

    def _get(name: str = "officer") -> int:
        if name not in made:
            made[name] = make_staff(name.rstrip("0123456789")).id
        return made[name]

    return _get


@pytest.fixture
def make_period(app, staff):
    """Open a monitoring period through the service; dates are offsets from today."""

    def _make(*, starts=-1, ends=10, interval=24, name="Pilkada 2024", kind="election", notes=""):
        with _session(app) as own:
            actor = _user(staff("supervisor"))
            with acting_as(Actor(actor.id, actor.username)):
                period = services.create_period(
                    name=name,
                    kind=kind,
                    starts_on=day(starts),
                    ends_on=day(ends),
                    checkin_interval_hours=interval,
                    notes=notes,
                    actor=actor,
                )
            return _hand_back(period, own)

    return _make


@pytest.fixture
def make_flag(app, staff, make_period):
    """A flag proposed by an officer and (by default) approved by a supervisor.

    ``decision`` is "approve", "reject" or None (left proposed); ``period`` is
    made on first use (today−1 … today+10) unless given.
    """
    default: dict = {}

    def _make(
        person,
        *,
        period=None,
        category="protection_concern",
        violation=None,
        reason=REASON,
        handling=HANDLING,
        ends_on=None,
        decision="approve",
        proposer=None,
        decider=None,
    ):
        if period is None:
            if "period" not in default:
                default["period"] = make_period()
            period = default["period"]
        with _session(app) as own:
            period = _db.session.get(MonitoringPeriod, period.id)
            proposer = _user(proposer or staff("officer"))
            with acting_as(Actor(proposer.id, proposer.username)):
                flag = services.propose_flag(
                    _db.session.get(Person, person.id),
                    period,
                    category=category,
                    reason=reason,
                    handling_instructions=handling,
                    ends_on=ends_on or period.last_day(),
                    violation_id=violation.id if violation else None,
                    actor=proposer,
                )
            if decision:
                decider = _user(decider or staff("supervisor"))
                with acting_as(Actor(decider.id, decider.username)):
                    services.decide_flag(
                        flag,
                        approve=decision == "approve",
                        note="Reasoned and proportionate; review in a week.",
                        actor=decider,
                    )
            return _hand_back(flag, own)

    return _make


@pytest.fixture
def check_in(app, staff):
    """Record one check-in through the service: ``check_in(person, "absent", at=…)``."""

    def _record(person, outcome="present", *, at: datetime | None = None, note=""):
        with _session(app) as own:
            actor = _user(staff("officer"))
            with acting_as(Actor(actor.id, actor.username)):
                (checkin,) = services.record_checkins(
                    [services.CheckInEntry(person.id, outcome, note)],
                    placement=None,
                    checked_at=at,
                    actor=actor,
                )
            return _hand_back(checkin, own)

    return _record


@pytest.fixture
def move_person(app, staff):
    """Record a custody change today: ``move_person(person, "released")``."""

    def _move(person, status, placement=None):
        with _session(app) as own:
            actor = _user(staff("supervisor"))
            person = _db.session.get(Person, person.id)
            with acting_as(Actor(actor.id, actor.username)):
                cases.record_custody_change(
                    person,
                    cases.CustodyData(
                        status=status,
                        placement_id=placement,
                        effective_on=local_today(),
                        reason="Decision of the head of the centre.",
                    ),
                    actor=actor,
                )
            return _hand_back(person, own)

    return _move


# --- reading what happened --------------------------------------------------------------


def state(app=None) -> dict:
    """Every row a monitoring action may touch, and the length of the audit trail.

    Inside an app context (service tests) ``app`` may be left out.
    """
    with _session(app):
        _db.session.expire_all()

        def rows(model):
            table = model.__table__
            return [tuple(row) for row in _db.session.execute(select(table).order_by(table.c.id))]

        return {
            "periods": rows(MonitoringPeriod),
            "flags": rows(MonitoringFlag),
            "checkins": rows(CheckIn),
            "people": rows(Person),
            "custody": rows(CustodyEvent),
            "violations": rows(Violation),
            "audit": _db.session.scalar(select(func.count()).select_from(AuditEvent)),
        }


def audit_of(app, object_type: str) -> list[AuditEvent]:
    """Audit events about one kind of object, oldest first."""
    with _session(app):
        events = list(
            _db.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.object_type == object_type)
                .order_by(AuditEvent.id)
            )
        )
        for event in events:
            _db.session.expunge(event)
        return events


def plain(fragment: str) -> str:
    """HTML as the reader sees it: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def element(body: str, element_id: str) -> str:
    """The HTML of the element with ``id=element_id`` up to the end of its section."""
    start = body.index(f'id="{element_id}"')
    end = body.find("</section>", start)
    return body[start : end if end != -1 else None]


def banner(body: str) -> str | None:
    """The monitoring banner's text, or None when the page has none."""
    match = re.search(r'<div[^>]*id="monitoring-banner"[^>]*>(.*?)</div>', body, re.S)
    return plain(match.group(1)) if match else None
