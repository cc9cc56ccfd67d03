"""Every page that lists rows costs as many SQL statements for 100 rows as for 10.

Each scenario fills the database with 10 rows of what its page lists, counts the
statements of one request, adds 90 rows and counts again. The rows are written
with bulk inserts (no audit hooks: fast), and each points at a person, user,
placement, rule or period of its own, so a relationship loaded row by row would
show as extra statements (loads of objects already in the session would not).
Each count is also checked against what the page shows, so an empty page
cannot pass. The people list by page size is in tests/cases/test_views.py.
"""

import itertools
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import insert

from rudenim.audit.context import Actor, acting_as
from rudenim.audit.services import record_event
from rudenim.auth.models import LoginThrottle, User
from rudenim.cases.models import (
    Alias,
    CustodyEvent,
    Identifier,
    Person,
    PersonVulnerability,
    Placement,
    VerificationEvent,
    VerificationTrack,
)
from rudenim.clock import local_today, utcnow
from rudenim.conduct.models import HouseRule, RulesExplanation, Violation
from rudenim.extensions import db as _db
from rudenim.monitoring.models import CheckIn, MonitoringFlag, MonitoringPeriod
from rudenim.reports.models import DisclosedPerson, Disclosure

SMALL, LARGE = 10, 100


class Rows:
    """Bulk inserts of rows that each refer to rows of their own."""

    def __init__(self, app):
        self.app = app
        self.serial = itertools.count(1)

    def insert(self, model, values: list[dict]) -> list[int]:
        """Insert ``values`` into ``model``'s table; returns the new ids in order."""
        with self.app.app_context():
            ids = list(
                _db.session.scalars(
                    insert(model).returning(model.id, sort_by_parameter_order=True), values
                )
            )
            _db.session.commit()
        return ids

    def insert_plain(self, model, values: list[dict]) -> None:
        """Insert rows of a table without an ``id`` column."""
        with self.app.app_context():
            _db.session.execute(insert(model), values)
            _db.session.commit()

    def numbers(self, count: int) -> list[int]:
        return [next(self.serial) for _ in range(count)]

    def users(self, count: int, role: str = "officer") -> list[tuple[int, str]]:
        """``count`` staff accounts; returns (id, username) pairs."""
        names = [f"staff{n:04d}" for n in self.numbers(count)]
        ids = self.insert(
            User,
            [
                {"username": name, "role": role, "password_hash": "-", "full_name": name.title()}
                for name in names
            ],
        )
        return list(zip(ids, names, strict=True))

    def placements(self, count: int, kind: str = "centre") -> list[tuple[int, str]]:
        names = [f"Place {n:04d}" for n in self.numbers(count)]
        ids = self.insert(Placement, [{"kind": kind, "name": name} for name in names])
        return list(zip(ids, names, strict=True))

    def people(self, placement_ids: list[int], status: str = "detained") -> list[tuple[int, str]]:
        """One person per placement id; returns (id, case number) pairs."""
        today, now = local_today(), utcnow()
        numbers = [f"QRY-2024-{n:05d}" for n in self.numbers(len(placement_ids))]
        ids = self.insert(
            Person,
            [
                {
                    "case_number": number,
                    "full_name": f"Person {number}",
                    "name_key": f"prsn {number.lower()}",
                    "sex": "female" if i % 2 else "male",
                    "nationality": ("AF", "MM", "SO")[i % 3],
                    "legal_category": "asylum_seeker",
                    "arrived_on": today - timedelta(days=400),
                    "custody_status": status,
                    "placement_id": placement_id,
                    "status_since": today - timedelta(days=400),
                    "is_in_care": True,
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }
                for i, (number, placement_id) in enumerate(zip(numbers, placement_ids, strict=True))
            ],
        )
        self.insert_plain(
            PersonVulnerability,
            [
                {"person_id": person_id, "kind": kind}
                for person_id in ids
                for kind in ("medical", "elderly")
            ],
        )
        return list(zip(ids, numbers, strict=True))

    def rules(self, count: int) -> list[tuple[int, str]]:
        """House rules; returns (id, code) pairs."""
        codes = [f"Q{n:04d}" for n in self.numbers(count)]
        ids = self.insert(
            HouseRule,
            [
                {"code": code, "title_id": f"Aturan {code}", "title_en": f"Rule {code}"}
                for code in codes
            ],
        )
        return list(zip(ids, codes, strict=True))

    def periods(self, count: int) -> list[tuple[int, str]]:
        """Monitoring periods in force today; returns (id, name) pairs."""
        today = local_today()
        names = [f"Period {n:04d}" for n in self.numbers(count)]
        ids = self.insert(
            MonitoringPeriod,
            [
                {
                    "name": name,
                    "kind": "election",
                    "starts_on": today - timedelta(days=10),
                    "ends_on": today + timedelta(days=30),
                    "checkin_interval_hours": 24,
                }
                for name in names
            ],
        )
        return list(zip(ids, names, strict=True))

    def violations(self, person_ids, rule_ids, reporter_ids, *, statuses=("upheld",)) -> list[int]:
        today, now = local_today(), utcnow()
        values = []
        for i, (person_id, rule_id, reporter_id) in enumerate(
            zip(person_ids, rule_ids, reporter_ids, strict=True)
        ):
            status = statuses[i % len(statuses)]
            row = {
                "person_id": person_id,
                "rule_id": rule_id,
                "occurred_at": now - timedelta(hours=i + 1),
                "location": "Blok A",
                "description": "Shouting at night",
                "severity": "moderate",
                "status": status,
                "reported_by_id": reporter_id,
                "reported_at": now - timedelta(hours=i + 1),
                "version": 1,
            }
            if status == "upheld":
                row.update(
                    decided_by_id=reporter_id,
                    decided_at=now,
                    decided_on=today,
                    reasons="Witnessed",
                    sanction="privilege_restriction",
                    sanction_privilege="evening outings",
                    sanction_starts_on=today - timedelta(days=1),
                    sanction_ends_on=today + timedelta(days=5),
                )
            values.append(row)
        return self.insert(Violation, values)

    def flags(self, person_ids, period_ids, proposer_ids, *, status="approved") -> list[int]:
        today = local_today()
        values = []
        for person_id, period_id, proposer_id in zip(
            person_ids, period_ids, proposer_ids, strict=True
        ):
            row = {
                "person_id": person_id,
                "period_id": period_id,
                "category": "absconding_risk",
                "reason": "Said twice that he would leave before the vote.",
                "ends_on": today + timedelta(days=20),
                "status": status,
                "proposed_by_id": proposer_id,
            }
            if status == "approved":
                row.update(decided_by_id=proposer_id, decided_at=utcnow(), decided_on=today)
            values.append(row)
        return self.insert(MonitoringFlag, values)

    def check_ins(self, person_ids, placement_ids, recorder_ids, *, outcome="present") -> list[int]:
        now = utcnow()
        return self.insert(
            CheckIn,
            [
                {
                    "person_id": person_id,
                    "placement_id": placement_id,
                    "checked_at": now - timedelta(hours=i + 1),
                    "outcome": outcome,
                    "recorded_by_id": recorder_id,
                }
                for i, (person_id, placement_id, recorder_id) in enumerate(
                    zip(person_ids, placement_ids, recorder_ids, strict=True)
                )
            ],
        )


@dataclass
class Shown:
    """What a page must show: at least ``least`` of ``markers``."""

    markers: list[str]
    least: int

    def found(self, body: str) -> int:
        return sum(marker in body for marker in self.markers)


@dataclass
class Repeated:
    """What a page must show: ``text`` at least ``least`` times."""

    text: str
    least: int

    def found(self, body: str) -> int:
        return body.count(self.text)


@dataclass
class Scenario:
    """A page, the role that sees it, and how to add ``count`` rows to it."""

    url: str
    role: str
    #: Adds ``count`` rows; returns what the page must show of all rows added so far.
    grow: Callable[[int], list[Shown | Repeated]]


@pytest.fixture
def rows(app):
    return Rows(app)


# --- the scenarios --------------------------------------------------------------------------


def board(rows: Rows) -> Scenario:
    """The verification board: people with a UNHCR track each, in a placement each."""
    people: list = []

    def grow(count: int) -> list[Shown]:
        added = rows.people([pid for pid, _ in rows.placements(count)])
        today = local_today()
        rows.insert(
            VerificationTrack,
            [
                {
                    "person_id": person_id,
                    "agency": "unhcr",
                    "status": "in_progress",
                    "status_on": today - timedelta(days=3),
                    "reference": f"UN-{number}",
                    "reference_key": f"UN{number.replace('-', '')}",
                }
                for person_id, number in added
            ],
        )
        people.extend(number for _, number in added)
        return [Shown(list(people), len(people))]

    return Scenario("/cases/verification?agency=unhcr&per_page=100", "supervisor", grow)


def people_list_with_marks(rows: Rows) -> Scenario:
    """The people list whose rows carry flag and sanction marks."""
    people: list = []
    ((rule_id, _code),) = rows.rules(1)

    def grow(count: int) -> list[Shown]:
        added = rows.people([pid for pid, _ in rows.placements(count)])
        ids = [person_id for person_id, _ in added]
        staff = [user_id for user_id, _ in rows.users(count)]
        rows.flags(ids, [period_id for period_id, _ in rows.periods(count)], staff)
        rows.violations(ids, [rule_id] * count, staff)
        people.extend(number for _, number in added)
        return [
            Shown(list(people), len(people)),
            Repeated('class="tag tag-flag"', len(people)),
            Repeated('class="tag tag-sanction"', len(people)),
        ]

    return Scenario("/cases/?per_page=100&sort=name", "officer", grow)


def violation_log(rows: Rows) -> Scenario:
    """The violation log and its review queue: each violation its own person,
    rule and reporter; half await review."""
    people: list = []

    def grow(count: int) -> list[Shown]:
        added = rows.people([pid for pid, _ in rows.placements(count)])
        reporters = [user_id for user_id, _ in rows.users(count)]
        rows.violations(
            [person_id for person_id, _ in added],
            [rule_id for rule_id, _ in rows.rules(count)],
            reporters,
            statuses=("upheld", "reported"),
        )
        people.extend(number for _, number in added)
        return [Shown(list(people), min(len(people), 50))]

    return Scenario("/conduct/", "supervisor", grow)


def audit_log(rows: Rows) -> Scenario:
    """The audit log: events by as many different actors."""
    actors: list = []

    def grow(count: int) -> list[Shown]:
        names = [f"actor{n:04d}" for n in rows.numbers(count)]
        with rows.app.app_context():
            for name in names:
                with acting_as(Actor(None, name)):
                    record_event("export", object_type="Disclosure", object_id=name)
            _db.session.commit()
        actors.extend(names)
        return [Shown(list(actors), min(len(actors), 40))]

    return Scenario("/audit/", "supervisor", grow)


def monitoring_overview(rows: Rows) -> Scenario:
    """Periods, flags awaiting decision, flags in force and open absences."""
    people: list = []

    def grow(count: int) -> list[Shown]:
        places = rows.placements(count)
        added = rows.people([pid for pid, _ in places])
        ids = [person_id for person_id, _ in added]
        staff = [user_id for user_id, _ in rows.users(count)]
        periods = [period_id for period_id, _ in rows.periods(count)]
        rows.flags(ids, periods, staff, status="proposed")
        rows.flags(ids, periods, staff, status="approved")
        rows.check_ins(ids, [pid for pid, _ in places], staff, outcome="absent")
        people.extend(number for _, number in added)
        return [Shown(list(people), len(people))]

    return Scenario("/monitoring/", "supervisor", grow)


def roll_call(rows: Rows) -> Scenario:
    """One placement's roll call: everyone placed there, checked in by someone
    different each, half of them flagged."""
    ((place_id, _),) = rows.placements(1)
    people: list = []

    def grow(count: int) -> list[Shown]:
        added = rows.people([place_id] * count)
        ids = [person_id for person_id, _ in added]
        staff = [user_id for user_id, _ in rows.users(count)]
        rows.check_ins(ids, [place_id] * count, staff)
        half = count // 2
        rows.flags(ids[:half], [period_id for period_id, _ in rows.periods(half)], staff[:half])
        people.extend(number for _, number in added)
        return [Shown(list(people), len(people))]

    return Scenario(f"/monitoring/roll-call/{place_id}", "officer", grow)


def user_list(rows: Rows) -> Scenario:
    """The accounts, each with failed sign-ins (some locked)."""
    names: list = []

    def grow(count: int) -> list[Shown]:
        added = [name for _, name in rows.users(count)]
        now = utcnow()
        rows.insert_plain(
            LoginThrottle,
            [
                {
                    "username": name,
                    "failures": 3,
                    "last_failed_at": now,
                    "locked_until": now + timedelta(minutes=10) if i % 2 else None,
                }
                for i, name in enumerate(added)
            ],
        )
        names.extend(added)
        return [Shown(list(names), len(names))]

    return Scenario("/auth/users/", "admin", grow)


def person_page(rows: Rows) -> Scenario:
    """One person with a growing history of every kind the page lists, each row
    recorded by a different member of staff."""
    ((place_id, _),) = rows.placements(1)
    ((person_id, _number),) = rows.people([place_id])
    tracks = rows.insert(
        VerificationTrack,
        [
            {
                "person_id": person_id,
                "agency": agency,
                "status": "in_progress",
                "status_on": local_today(),
            }
            for agency in ("unhcr", "iom")
        ],
    )
    shown: dict[str, list[str]] = {}

    def listed(kind: str, pairs: list[tuple[int, str]]) -> list[int]:
        """The ids of ``pairs``; their labels are what the page shows for ``kind``."""
        shown.setdefault(kind, []).extend(label for _, label in pairs)
        return [row_id for row_id, _ in pairs]

    def staff(kind: str, count: int) -> list[int]:
        return listed(kind, rows.users(count))

    def grow(count: int) -> list[Shown]:
        today, now = local_today(), utcnow()
        recorders = staff("custody", count)
        rows.insert(
            CustodyEvent,
            [
                {
                    "person_id": person_id,
                    "status": "detained",
                    "placement_id": where,
                    "effective_on": today - timedelta(days=300),
                    "reason": "Moved",
                    "recorded_by_id": recorder,
                }
                for (where, _), recorder in zip(rows.placements(count), recorders, strict=True)
            ],
        )
        rows.insert(
            VerificationEvent,
            [
                {
                    "track_id": tracks[i % 2],
                    "person_id": person_id,
                    "agency": ("unhcr", "iom")[i % 2],
                    "from_status": "referred",
                    "to_status": "in_progress",
                    "occurred_on": today - timedelta(days=i),
                    "recorded_by_id": recorder,
                }
                for i, recorder in enumerate(staff("verification", count))
            ],
        )
        reporters = [user_id for user_id, _ in rows.users(count)]
        rows.violations([person_id] * count, listed("violations", rows.rules(count)), reporters)
        rows.check_ins([person_id] * count, [place_id] * count, staff("check-ins", count))
        proposers = [user_id for user_id, _ in rows.users(count)]
        rows.flags([person_id] * count, listed("flags", rows.periods(count)), proposers)
        rows.insert(
            RulesExplanation,
            [
                {
                    "person_id": person_id,
                    "explained_on": today - timedelta(days=i),
                    "language": "Dari",
                    "explained_by_id": explainer,
                }
                for i, explainer in enumerate(staff("explanations", count))
            ],
        )
        disclosures = rows.insert(
            Disclosure,
            [
                {
                    "profile": "unhcr",
                    "format": "csv",
                    "filters": "{}",
                    "row_count": 1,
                    "exported_by_id": exporter,
                    "exported_at": now,
                }
                for exporter in staff("disclosures", count)
            ],
        )
        rows.insert_plain(
            DisclosedPerson,
            [{"disclosure_id": d, "person_id": person_id} for d in disclosures],
        )
        serials = rows.numbers(count)
        aliases = [f"Alias{n:04d}" for n in serials]
        shown.setdefault("aliases", []).extend(aliases)
        rows.insert(Alias, [{"person_id": person_id, "name": a, "name_key": a} for a in aliases])
        values = [f"ID{n:04d}" for n in serials]
        shown.setdefault("identifiers", []).extend(values)
        rows.insert(
            Identifier,
            [{"person_id": person_id, "kind": "other", "value": v, "value_key": v} for v in values],
        )
        return [
            Shown(list(names), min(len(names), 50 if kind == "check-ins" else len(names)))
            for kind, names in shown.items()
        ]

    return Scenario(f"/cases/{person_id}", "supervisor", grow)


SCENARIOS = {
    "verification board": board,
    "people list with marks": people_list_with_marks,
    "violation log": violation_log,
    "audit log": audit_log,
    "monitoring overview": monitoring_overview,
    "roll call": roll_call,
    "user list": user_list,
    "person page": person_page,
}


# --- the test ---------------------------------------------------------------------------------


def _shape(statement: str) -> str:
    """A statement without its parameter lists, to compare what repeats."""
    text = re.sub(r"^SELECT .*? FROM ", "SELECT … FROM ", " ".join(statement.split()))
    return re.sub(r"\((?:\s*(?:\?|%\(\w+\)s)\s*,?)+\)", "(…)", text)


def _extra(small: list[str], large: list[str]) -> list[str]:
    """Statements the larger page issued more often than the smaller one."""
    more = Counter(map(_shape, large)) - Counter(map(_shape, small))
    return [f"{count}× {shape[:160]}" for shape, count in more.items()]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_a_listing_page_costs_the_same_statements_for_100_rows_as_for_10(
    name, app, client, login_as, rows, count_queries
):
    scenario = SCENARIOS[name](rows)
    login_as(scenario.role)
    measured = {}
    for added in (SMALL, LARGE - SMALL):
        expected = scenario.grow(added)
        client.get(scenario.url)  # caches of the first request (labels, templates)
        with count_queries() as statements:
            response = client.get(scenario.url)
        assert response.status_code == 200, response.status_code
        body = response.get_data(as_text=True)
        for shown in expected:
            assert shown.found(body) >= shown.least, (name, shown, shown.found(body))
        measured[len(measured)] = list(statements)
    small, large = measured[0], measured[1]
    assert len(small) == len(large), _extra(small, large)
