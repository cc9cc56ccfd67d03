"""A database with something in every table, and what the route-walking tests share.

``populate(app)`` loads the reference data and a few dozen synthetic people with
their history (the demo loader), so every route with an id in its URL has a real
record to point at. ``url_for_rule`` fills a rule's URL with such ids.
"""

import re
from html import unescape

from flask import url_for
from sqlalchemy import func, select

from rudenim import models  # noqa: F401  (every mapper, before any of them is used)
from rudenim.audit.context import Actor, acting_as
from rudenim.auth.models import User, UserSession
from rudenim.cases.models import EthnicitySuggestion, Person, Placement, PlacementKind
from rudenim.conduct.models import HouseRule, Violation
from rudenim.demo import ensure_demo_accounts, load_demo
from rudenim.extensions import db
from rudenim.monitoring.models import CheckIn, CheckInOutcome, MonitoringFlag, MonitoringPeriod

#: URL argument → the model whose ids it takes.
ID_MODELS = {
    "person_id": Person,
    "violation_id": Violation,
    "flag_id": MonitoringFlag,
    "period_id": MonitoringPeriod,
    "checkin_id": CheckIn,
    "placement_id": Placement,
    "rule_id": HouseRule,
    "suggestion_id": EthnicitySuggestion,
    "user_id": User,
    "session_id": UserSession,
}

CSRF_FIELD = re.compile(
    r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"'
)


def populate(app, people: int = 40, seed: int = 7) -> dict[str, int]:
    """Fill the database; returns one existing id per URL argument."""
    with app.app_context(), acting_as(Actor(None, "test-setup")):
        ensure_demo_accounts()
        db.session.flush()
        load_demo(people, seed=seed)
        db.session.commit()
        ids = {}
        for argument, model in ID_MODELS.items():
            ids[argument] = db.session.scalar(select(func.min(model.id)))
        ids["person_id"] = db.session.scalar(
            select(func.min(Person.id)).where(Person.is_in_care.is_(True))
        )
        ids["placement_id"] = db.session.scalar(
            select(func.min(Person.placement_id)).where(
                Person.is_in_care.is_(True), Person.placement_id.is_not(None)
            )
        ) or db.session.scalar(
            select(func.min(Placement.id)).where(Placement.kind == PlacementKind.CENTRE)
        )
        ids["checkin_id"] = (
            db.session.scalar(
                select(func.min(CheckIn.id)).where(CheckIn.outcome == CheckInOutcome.ABSENT)
            )
            or ids["checkin_id"]
        )
        ids["user_id"] = db.session.scalar(select(User.id).where(User.username == "demo-officer"))
        return ids


def url_for_rule(app, rule, ids: dict, agency: str = "iom") -> str:
    """The rule's URL with an existing record's id in every argument."""
    values = {}
    for argument in rule.arguments:
        if argument == "agency":
            values[argument] = agency
        elif argument == "filename":
            values[argument] = "favicon.svg"
        else:
            values[argument] = ids.get(argument) or 1
    with app.test_request_context():
        return url_for(rule.endpoint, **values)


def post_rules(app) -> list:
    """Every rule that accepts POST (every state-changing route)."""
    return sorted(
        (rule for rule in app.url_map.iter_rules() if "POST" in (rule.methods or ())),
        key=lambda rule: rule.endpoint,
    )


def get_rules(app) -> list:
    """Every page (GET rule) but the static files."""
    return sorted(
        (
            rule
            for rule in app.url_map.iter_rules()
            if "GET" in (rule.methods or ()) and rule.endpoint != "static"
        ),
        key=lambda rule: rule.endpoint,
    )


def csrf_token(page: str) -> str:
    """The CSRF token of the first form on ``page``."""
    match = CSRF_FIELD.search(page)
    assert match, "no CSRF token on the page"
    return unescape(match.group(1) or match.group(2))


def row_counts(app) -> dict[str, int]:
    """The number of rows of every table."""
    with app.app_context():
        counts = {
            table.name: db.session.scalar(select(func.count()).select_from(table))
            for table in db.metadata.sorted_tables
        }
        db.session.rollback()
        return counts
