"""Factories and readers for the verification tracks, the board and the exports.

The registry's factories (``make_person``, ``make_staff``, ``sign_in`` …) come
from ``tests/cases/conftest.py``. The helpers here are plain functions, so that
``tests/cases/test_verification.py`` can import them too; like the registry's
factories they open an app context of their own when none is active.
"""

import html
import re
from contextlib import contextmanager
from datetime import date, timedelta

from flask import has_app_context
from sqlalchemy import func, select

from rudenim.audit.context import Actor, acting_as
from rudenim.audit.models import AuditEvent
from rudenim.auth.models import User
from rudenim.cases import verification
from rudenim.cases.models import Person, VerificationEvent, VerificationTrack
from rudenim.clock import local_today
from rudenim.extensions import db as _db
from rudenim.reports.models import DisclosedPerson, Disclosure
from tests.cases.conftest import (  # noqa: F401  (fixtures used by the tests here)
    make_person,
    make_placement,
    make_staff,
    sign_in,
)


@contextmanager
def _session(app):
    """The caller's app context if one is active, else one of our own."""
    if has_app_context():
        yield
    else:
        with app.app_context():
            yield


def days_ago(n: int) -> date:
    return local_today() - timedelta(days=n)


def take_steps(app, person_id: int, agency: str, *steps, actor_id: int) -> None:
    """Record verification steps through the service, committed.

    Each step is ``(to_status, days_ago)`` or ``(to_status, days_ago, reference)``.
    """
    with _session(app):
        actor = _db.session.get(User, actor_id)
        person = _db.session.get(Person, person_id)
        with acting_as(Actor(actor.id, actor.username)):
            for to_status, ago, *reference in steps:
                verification.record_verification_step(
                    person,
                    agency,
                    verification.StepData(
                        to_status=to_status,
                        occurred_on=days_ago(ago),
                        reference=reference[0] if reference else None,
                        note=f"{to_status} noted",
                    ),
                    actor=actor,
                )
        _db.session.commit()


#: How to reach each status from "not referred", a step a day.
PATHS = {
    "not_referred": [],
    "referred": ["referred"],
    "in_progress": ["referred", "in_progress"],
    "verified": ["referred", "in_progress", "verified"],
    "not_verified": ["referred", "in_progress", "not_verified"],
    "closed": ["referred", "in_progress", "not_verified", "closed"],
}


def bring_to(app, person_id: int, agency: str, status: str, *, actor_id: int, start=40, ref=None):
    """Walk a person's track to ``status`` (a verified step gets a reference)."""
    steps = []
    for offset, to_status in enumerate(PATHS[status]):
        reference = (
            (ref or f"{agency.upper()}-{person_id:05d}") if to_status == "verified" else None
        )
        steps.append((to_status, start - offset, reference))
    take_steps(app, person_id, agency, *steps, actor_id=actor_id)


def state(app) -> dict:
    """Everything a verification step, a bulk step or an export may change."""
    with _session(app):
        _db.session.expire_all()

        def rows(model, *order):
            table = model.__table__
            return [tuple(row) for row in _db.session.execute(select(table).order_by(*order))]

        return {
            "tracks": rows(VerificationTrack, VerificationTrack.id),
            "events": rows(VerificationEvent, VerificationEvent.id),
            "people": rows(Person, Person.id),
            "disclosures": rows(Disclosure, Disclosure.id),
            "disclosed": rows(DisclosedPerson, DisclosedPerson.disclosure_id),
            "audit": _db.session.scalar(select(func.count()).select_from(AuditEvent)),
        }


def track_row(app, person_id: int, agency: str):
    """(status, status_on, reference) of a person's track, or None."""
    with _session(app):
        _db.session.expire_all()
        track = _db.session.scalar(
            select(VerificationTrack).where(
                VerificationTrack.person_id == person_id, VerificationTrack.agency == agency
            )
        )
        if track is None:
            return None
        return track.status.value, track.status_on, track.reference


# --- reading pages ------------------------------------------------------------------


def plain(fragment: str) -> str:
    """HTML as the reader sees it: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def section(response, section_id: str) -> str | None:
    """The raw HTML of ``<section … id="section_id">``, or None if absent."""
    body = response.get_data(as_text=True)
    match = re.search(rf'<section[^>]*id="{section_id}"[^>]*>(.*?)</section>', body, re.S)
    return match.group(1) if match else None


def table_rows(fragment: str) -> list[list[str]]:
    """The cells of each body row of the first table in ``fragment``."""
    body = re.search(r"<tbody>(.*?)</tbody>", fragment, re.S).group(1)
    return [
        [plain(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


# --- many people at once ----------------------------------------------------------------


def insert_people(app, count: int, *, first: int = 1) -> None:
    """``count`` invented people with a UNHCR and an IOM track, an alias and a
    UNHCR number, written with Core inserts (no audit hooks: fast)."""
    from rudenim.cases.models import Alias, Identifier
    from rudenim.clock import utcnow

    now, today = utcnow(), local_today()
    with _session(app):
        people = [
            {
                "case_number": f"BLK-2024-{n:06d}",
                "full_name": f"Person Number {n}",
                "name_key": f"person number {n}",
                "sex": "female" if n % 2 else "male",
                "date_of_birth": date(1980 + n % 30, 1 + n % 12, 1 + n % 28),
                "is_birth_date_estimated": False,
                "nationality": ("AF", "MM", "SO", "stateless")[n % 4],
                "claimed_ethnicity": ("Hazara", "Rohingya", "Somali", None)[n % 4],
                "needs_interpreter": False,
                "legal_category": "asylum_seeker",
                "arrived_on": today - timedelta(days=200),
                "notes": "Private note that no export carries",
                "custody_status": "community_housing",
                "status_since": today - timedelta(days=200),
                "is_in_care": True,
                # The person's copy of the tracks' status below (the board counts it).
                "iom_status": "in_progress",
                "unhcr_status": "in_progress",
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
            for n in range(first, first + count)
        ]
        _db.session.execute(Person.__table__.insert(), people)
        ids = dict(
            _db.session.execute(
                select(Person.case_number, Person.id).where(
                    Person.case_number.in_([p["case_number"] for p in people])
                )
            ).all()
        )
        _db.session.execute(
            VerificationTrack.__table__.insert(),
            [
                {
                    "person_id": ids[p["case_number"]],
                    "agency": agency,
                    "status": "in_progress",
                    "status_on": today - timedelta(days=30),
                    "reference": f"{agency.upper()}-{p['case_number']}",
                    "reference_key": f"{agency.upper()}{p['case_number']}".replace("-", ""),
                }
                for p in people
                for agency in ("unhcr", "iom")
            ],
        )
        _db.session.execute(
            Alias.__table__.insert(),
            [
                {
                    "person_id": ids[p["case_number"]],
                    "name": f"Alias {p['full_name']}",
                    "name_key": "",
                }
                for p in people
            ],
        )
        _db.session.execute(
            Identifier.__table__.insert(),
            [
                {
                    "person_id": ids[p["case_number"]],
                    "kind": "unhcr_registration",
                    "value": f"354-{p['case_number']}",
                    "value_key": f"354{p['case_number']}".replace("-", ""),
                }
                for p in people
            ],
        )
        _db.session.commit()
