"""Synthetic demo data: ``flask demo load --people N --seed S``.

Every person here is invented. Names are drawn from common given and family
names of each region, with the spelling variants real records show, so search
and the duplicate check have something realistic to work on. The same seed on
the same day gives the same records. Rows are written in bulk (Core inserts,
not the ORM), so the per-row audit hooks do not run: one ``demo_load`` event
records what was loaded.
"""

import random
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, insert, select, text

from rudenim.audit.capture import lock_chain
from rudenim.audit.context import Actor, acting_as
from rudenim.audit.services import record_event
from rudenim.auth import services as accounts
from rudenim.auth.models import User
from rudenim.auth.permissions import Role
from rudenim.cases import names
from rudenim.cases.models import (
    Agency,
    Alias,
    CaseNumberCounter,
    CustodyEvent,
    CustodyStatus,
    Identifier,
    IdentifierKind,
    LegalCategory,
    Person,
    PersonVulnerability,
    Placement,
    PlacementKind,
    VerificationEvent,
    VerificationStatus,
    VerificationTrack,
    Vulnerability,
)
from rudenim.clock import centre_zone, local_today, utcnow
from rudenim.conduct.models import HouseRule, Sanction, Severity, Violation, ViolationStatus
from rudenim.errors import DomainError
from rudenim.extensions import db
from rudenim.monitoring.models import (
    CheckIn,
    CheckInOutcome,
    FlagCategory,
    FlagStatus,
    MonitoringFlag,
    MonitoringPeriod,
    PeriodKind,
)
from rudenim.reference import load_reference

#: nationality → (share of people, claimed ethnicities with weights)
NATIONALITIES = {
    "AF": (34, [("Hazara", 70), ("Tajik", 12), ("Pashtun", 8), ("Uzbek", 5), (None, 5)]),
    "MM": (15, [("Rohingya", 92), ("Kaman", 3), (None, 5)]),
    "SO": (12, [("Somali", 80), ("Bajuni", 10), (None, 10)]),
    "SD": (8, [("Fur", 30), ("Masalit", 25), ("Nuba", 20), ("Arab", 15), (None, 10)]),
    "IQ": (6, [("Arab", 55), ("Kurdish", 35), (None, 10)]),
    "PK": (6, [("Hazara", 45), ("Pashtun", 25), ("Baloch", 15), ("Punjabi", 10), (None, 5)]),
    "LK": (5, [("Tamil", 85), ("Sinhala", 10), (None, 5)]),
    "IR": (5, [("Persian", 50), ("Kurdish", 25), ("Arab", 15), (None, 10)]),
    "ET": (5, [("Oromo", 55), ("Amhara", 20), ("Tigrayan", 15), (None, 10)]),
    "stateless": (4, [("Rohingya", 80), ("Bidoon", 15), (None, 5)]),
}

GIVEN = {
    "muslim_m": [
        "Mohammad",
        "Muhammad",
        "Mohamed",
        "Mohd",
        "Ahmad",
        "Ahmed",
        "Ali",
        "Hassan",
        "Hussain",
        "Hussein",
        "Reza",
        "Abdul",
        "Abdoul",
        "Nur",
        "Noor",
        "Yusuf",
        "Yousef",
        "Ibrahim",
        "Ismail",
        "Karim",
        "Jawad",
        "Mustafa",
        "Omar",
        "Osman",
        "Rahim",
        "Sayed",
        "Zakir",
        "Hamid",
        "Bilal",
        "Faisal",
        "Anwar",
        "Rashid",
        "Abdullah",
    ],  # fmt: skip
    "muslim_f": [
        "Fatima",
        "Fatema",
        "Zahra",
        "Masuma",
        "Maryam",
        "Mariam",
        "Aisha",
        "Aisyah",
        "Khadija",
        "Hawa",
        "Amina",
        "Halima",
        "Nasrin",
        "Shabnam",
        "Sakina",
        "Rukhsana",
        "Nur",
        "Noor",
        "Zainab",
        "Sumaya",
        "Hafsa",
        "Layla",
        "Roshan",
    ],  # fmt: skip
    "tamil_m": ["Sivakumar", "Rajan", "Tharshan", "Kannan", "Nimal", "Suresh", "Prakash"],
    "tamil_f": ["Kavitha", "Shanthi", "Priya", "Malathi", "Nirosha", "Sumathi"],
    "ethiopian_m": ["Abebe", "Tesfaye", "Girma", "Dawit", "Kebede", "Mulugeta", "Bekele"],
    "ethiopian_f": ["Almaz", "Tigist", "Hirut", "Meron", "Selam", "Genet", "Aster"],
}
FAMILY = {
    "AF": [
        "Rezaie",
        "Hosseini",
        "Jafari",
        "Mohammadi",
        "Ahmadi",
        "Rahimi",
        "Karimi",
        "Nazari",
        "Sultani",
        "Haidari",
    ],  # noqa: E501
    "MM": ["Rahman", "Rehman", "Alam", "Ullah", "Hussain", "Islam", "Begum", "Khatun", "Amin"],
    "SO": ["Abdi", "Warsame", "Farah", "Mohamud", "Hersi", "Jama", "Osman", "Ali"],
    "SD": ["Adam", "Abakar", "Idris", "Musa", "Yahya", "Abdelrahman", "Abdulrahman", "Ishaq"],
    "IQ": ["Al-Jaburi", "Al Obaidi", "Kareem", "Hamad", "Saleh", "Barzani", "Aziz"],
    "PK": ["Changezi", "Khan", "Baloch", "Hazara", "Shah", "Qureshi", "Iqbal"],
    "LK": ["Sivarajah", "Kanagaratnam", "Thevarajah", "Perera", "Selvaraj", "Nadarajah"],
    "IR": ["Rostami", "Moradi", "Kazemi", "Sadeghi", "Ebrahimi", "Akbari", "Sharifi"],
    "ET": ["Tadesse", "Haile", "Gebremedhin", "Wolde", "Tesfaye", "Mekonnen", "Alemu"],
    "stateless": ["Rahman", "Ullah", "Alam", "Begum", "Al-Enezi", "Hussain"],
}
NAME_STYLE = {"LK": "tamil", "ET": "ethiopian"}

#: Where people are now, with weights; the history leading there is generated.
CURRENT_STATUS = [
    (CustodyStatus.COMMUNITY_HOUSING, 44),
    (CustodyStatus.DETAINED, 33),
    (CustodyStatus.HOSPITAL, 3),
    (CustodyStatus.ABSCONDED, 3),
    (CustodyStatus.RESETTLED, 7),
    (CustodyStatus.VOLUNTARY_RETURN, 4),
    (CustodyStatus.RELEASED, 4),
    (CustodyStatus.DEPORTED, 1),
    (CustodyStatus.DECEASED, 1),
]
LANGUAGES = {
    "AF": "Dari", "MM": "Rohingya", "SO": "Somali", "SD": "Arabic", "IQ": "Arabic",
    "PK": "Urdu", "LK": "Tamil", "IR": "Farsi", "ET": "Amharic", "stateless": "Rohingya",
}  # fmt: skip
BATCH = 5000
VS = VerificationStatus


def _weighted(rng: random.Random, pairs):
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights=weights)[0]


@dataclass
class DemoGenerator:
    """Builds rows for N synthetic people and writes them in batches."""

    rng: random.Random
    today: date
    site: str
    placements: dict[PlacementKind, list[int]]
    actor_ids: list[int]
    next_ids: dict = field(default_factory=dict)
    rows: dict = field(default_factory=dict)
    counters: dict = field(default_factory=dict)
    totals: dict = field(default_factory=dict)
    identifier_serial: int = 0
    #: (rule id, code, [(sanction, longest days)]) of the catalogue.
    rules: list = field(default_factory=list)
    officer_ids: list[int] = field(default_factory=list)
    supervisor_ids: list[int] = field(default_factory=list)
    person_violations: dict = field(default_factory=dict)
    flag_candidates: list = field(default_factory=list)

    def next_id(self, model) -> int:
        if model not in self.next_ids:
            current = db.session.scalar(select(func.max(model.id))) or 0
            self.next_ids[model] = current
        self.next_ids[model] += 1
        return self.next_ids[model]

    def add(self, model, row: dict) -> None:
        self.rows.setdefault(model, []).append(row)

    def flush(self) -> None:
        connection = db.session.connection()
        for model in INSERT_ORDER + [m for m in self.rows if m not in INSERT_ORDER]:
            rows = self.rows.get(model)
            if rows:
                # executemany needs the same keys in every row.
                keys = set().union(*rows)
                rows = [row if len(row) == len(keys) else dict.fromkeys(keys) | row for row in rows]
                connection.execute(insert(model), rows)
                self.totals[model.__tablename__] = self.totals.get(model.__tablename__, 0) + len(
                    rows
                )
        self.rows.clear()

    def person(self) -> dict:
        rng = self.rng
        nationality = _weighted(rng, [(code, share) for code, (share, _e) in NATIONALITIES.items()])
        ethnicity = _weighted(rng, NATIONALITIES[nationality][1])
        sex = rng.choices(["male", "female"], weights=[68, 32])[0]
        style = NAME_STYLE.get(nationality, "muslim")
        given = rng.choice(GIVEN[f"{style}_{'m' if sex == 'male' else 'f'}"])
        family = rng.choice(FAMILY[nationality])
        full_name = f"{given} {family}"
        if style == "muslim" and rng.random() < 0.25:
            full_name = f"{given} {rng.choice(GIVEN['muslim_m'])} {family}"
        age = int(rng.triangular(1, 70, 27))
        arrived = self.today - timedelta(days=rng.randint(20, 9 * 365))
        estimated = rng.random() < 0.35
        birth_year = arrived.year - age
        birth = (
            date(birth_year, 1, 1)
            if estimated
            else date(birth_year, rng.randint(1, 12), rng.randint(1, 28))
        )
        if birth > arrived:
            birth = arrived - timedelta(days=rng.randint(30, 300))
        person_id = self.next_id(Person)
        year = arrived.year
        self.counters[year] = self.counters.get(year, self._counter_start(year)) + 1
        case_number = f"{self.site}-{year}-{self.counters[year]:04d}"
        vulnerabilities = []
        age_now = (self.today - birth).days // 365
        if age_now < 18:
            vulnerabilities.append(Vulnerability.MINOR)
            if rng.random() < 0.3:
                vulnerabilities.append(Vulnerability.UNACCOMPANIED_MINOR)
        if age_now >= 60:
            vulnerabilities.append(Vulnerability.ELDERLY)
        for kind, chance in (
            (Vulnerability.MEDICAL, 0.08),
            (Vulnerability.DISABILITY, 0.03),
            (Vulnerability.SURVIVOR_OF_VIOLENCE, 0.05),
        ):
            if rng.random() < chance:
                vulnerabilities.append(kind)
        if sex == "female" and 18 <= age_now <= 42 and rng.random() < 0.06:
            vulnerabilities.append(Vulnerability.PREGNANT)

        events = self._custody_history(arrived)
        final = events[-1]
        status_since = final["effective_on"]
        for earlier in reversed(events[:-1]):
            if earlier["status"] != final["status"]:
                break
            status_since = earlier["effective_on"]
        category = rng.choices(
            [
                LegalCategory.REFUGEE,
                LegalCategory.ASYLUM_SEEKER,
                LegalCategory.IMMIGRATION_DETAINEE,
            ],
            weights=[45, 45, 10],
        )[0]
        row = {
            "id": person_id,
            "case_number": case_number,
            "full_name": full_name,
            "name_key": names.name_key(full_name),
            "sex": sex,
            "date_of_birth": birth,
            "is_birth_date_estimated": estimated,
            "nationality": nationality,
            "claimed_ethnicity": ethnicity,
            "languages": LANGUAGES[nationality],
            "needs_interpreter": rng.random() < 0.7,
            "legal_category": category,
            "arrived_on": arrived,
            "notes": "Synthetic demo record: not a real person.",
            "custody_status": final["status"],
            "placement_id": final["placement_id"],
            "status_since": status_since,
            "is_in_care": final["status"].is_in_care,
            "created_at": utcnow(),
            "updated_at": utcnow(),
            "version": 1,
        }
        self.add(Person, row)
        for event in events:
            self.add(
                CustodyEvent, {"id": self.next_id(CustodyEvent), "person_id": person_id, **event}
            )
        for kind in vulnerabilities:
            self.add(PersonVulnerability, {"person_id": person_id, "kind": kind})
        for alias in self._aliases(full_name, given, family, nationality):
            self.add(
                Alias,
                {"id": self.next_id(Alias), "person_id": person_id, "name": alias,
                 "name_key": names.name_key(alias)},
            )  # fmt: skip
        if category != LegalCategory.IMMIGRATION_DETAINEE or rng.random() < 0.3:
            self.identifier_serial += 1
            value = f"354-{arrived.strftime('%y')}C{self.identifier_serial:06d}"
            self.add(
                Identifier,
                {"id": self.next_id(Identifier), "person_id": person_id,
                 "kind": IdentifierKind.UNHCR_REGISTRATION, "value": value,
                 "value_key": names.normalise_identifier(value)},
            )  # fmt: skip
        if rng.random() < 0.5:
            value = f"IDN-IOM-{person_id:07d}"
            self.add(
                Identifier,
                {"id": self.next_id(Identifier), "person_id": person_id,
                 "kind": IdentifierKind.IOM_CASE, "value": value,
                 "value_key": names.normalise_identifier(value)},
            )  # fmt: skip
        self._verification(person_id, arrived, category)
        if row["is_in_care"]:
            self._checkins(row)
        self._violations(row)
        return row

    def _checkins(self, row: dict) -> None:
        """About four check-ins for people in housing or detention, the last weeks."""
        rng = self.rng
        if row["custody_status"] not in (
            CustodyStatus.COMMUNITY_HOUSING,
            CustodyStatus.DETAINED,
        ):
            return
        start = max(row["status_since"], self.today - timedelta(days=150))
        span = (self.today - start).days
        if span <= 0:
            return
        for _n in range(rng.choices([2, 3, 4, 5, 6], weights=[10, 20, 40, 20, 10])[0]):
            day = start + timedelta(days=rng.randint(0, span - 1))
            outcome = rng.choices(
                [CheckInOutcome.PRESENT, CheckInOutcome.ABSENT, CheckInOutcome.UNWELL,
                 CheckInOutcome.REFUSED],
                weights=[90, 4, 5, 1],
            )[0]  # fmt: skip
            at = datetime.combine(day, time(9, rng.randint(0, 59)), tzinfo=centre_zone())
            absent = outcome is CheckInOutcome.ABSENT
            followed = absent and rng.random() < 0.8
            self.add(
                CheckIn,
                {
                    "id": self.next_id(CheckIn),
                    "person_id": row["id"],
                    "placement_id": row["placement_id"],
                    "checked_at": at,
                    "outcome": outcome,
                    "note": "",
                    "recorded_by_id": rng.choice(self.actor_ids),
                    "followed_up_at": at + timedelta(days=1)
                    if followed and outcome is CheckInOutcome.ABSENT
                    else None,
                    "followed_up_by_id": rng.choice(self.actor_ids)
                    if followed and outcome is CheckInOutcome.ABSENT
                    else None,
                    "follow_up_note": "Found at the housing site the next day"
                    if followed and outcome is CheckInOutcome.ABSENT
                    else None,
                },
            )

    def _violations(self, row: dict) -> None:
        """On average 0.3 violations a person, at every step of the process."""
        rng = self.rng
        if not self.rules or rng.random() >= 0.26:
            return
        for _n in range(rng.choices([1, 2], weights=[85, 15])[0]):
            self._violation(row)

    def _violation(self, row: dict) -> None:
        rng = self.rng
        span = (self.today - row["arrived_on"]).days
        if span < 10:
            return
        occurred_day = row["arrived_on"] + timedelta(days=rng.randint(1, span - 1))
        occurred = datetime.combine(
            occurred_day, time(rng.randint(6, 23), rng.randint(0, 59)), tzinfo=centre_zone()
        )
        rule_id, code, allowed = rng.choice(self.rules)
        reporter = rng.choice(self.officer_ids or self.actor_ids)
        deciders = [u for u in self.supervisor_ids if u != reporter]
        age = (self.today - occurred_day).days
        status = rng.choices(
            [ViolationStatus.REPORTED, ViolationStatus.UNDER_REVIEW, ViolationStatus.UPHELD,
             ViolationStatus.DISMISSED, ViolationStatus.APPEAL_UPHELD,
             ViolationStatus.APPEAL_OVERTURNED],
            weights=[6, 8, 52, 24, 6, 4],
        )[0]  # fmt: skip
        if age < 3 or not deciders:
            status = ViolationStatus.REPORTED
        violation = {
            "id": self.next_id(Violation),
            "person_id": row["id"],
            "rule_id": rule_id,
            "occurred_at": occurred,
            "location": rng.choice(["Wisma", "Blok", "Dapur umum", "Halaman", "Pasar Oesapa"]),
            "description": "Synthetic demo incident.",
            "witnesses": "",
            "severity": rng.choice(list(Severity)),
            "status": status,
            "reported_by_id": reporter,
            "reported_at": occurred + timedelta(hours=rng.randint(1, 20)),
            "statement_declined": False,
            "version": 1,
        }
        if status is not ViolationStatus.REPORTED:
            told = occurred_day + timedelta(days=1)
            violation.update(
                charge_notified_on=told,
                charge_language=LANGUAGES.get(row["nationality"], "English"),
                charge_interpreter=rng.choice(["", "Pak Reza (IOM)", "Ibu Amina"]),
                charge_notified_by_id=reporter,
                charge_notified_at=occurred + timedelta(days=1),
                statement=rng.choice(["I did not know the rule.", "It was not me.", None]),
                statement_recorded_by_id=reporter,
                statement_recorded_at=occurred + timedelta(days=1, hours=1),
            )
            if violation["statement"] is None:
                violation["statement_declined"] = True
        if status.is_decided:
            decided_on = occurred_day + timedelta(days=rng.randint(2, 6))
            decided_on = min(decided_on, self.today)
            decider = rng.choice(deciders)
            violation.update(
                decided_by_id=decider,
                decided_at=datetime.combine(decided_on, time(11), tzinfo=centre_zone()),
                decided_on=decided_on,
                reasons="Synthetic demo decision with written reasons.",
            )
            if status is not ViolationStatus.DISMISSED:
                sanction, max_days = rng.choice(
                    [pair for pair in allowed if pair[0] is not Sanction.TRANSFER_TO_DETENTION]
                    or allowed
                )
                days = rng.randint(1, max_days) if max_days else 0
                violation.update(
                    alternatives_considered="A conversation with the person and their family.",
                    sanction=sanction,
                    sanction_privilege="Evening outings"
                    if sanction is Sanction.PRIVILEGE_RESTRICTION
                    else None,
                    sanction_starts_on=decided_on,
                    sanction_ends_on=decided_on + timedelta(days=days),
                    appeal_rights_told_on=decided_on,
                )
            if status in (ViolationStatus.APPEAL_UPHELD, ViolationStatus.APPEAL_OVERTURNED):
                second = [u for u in deciders if u != decider] or deciders
                violation.update(
                    appealed_on=decided_on + timedelta(days=2),
                    appeal_grounds="Synthetic demo appeal.",
                    appeal_recorded_by_id=decider,
                    appeal_decided_by_id=rng.choice(second),
                    appeal_decided_at=datetime.combine(
                        decided_on + timedelta(days=5), time(10), tzinfo=centre_zone()
                    ),
                    appeal_reasons="Synthetic demo appeal decision.",
                )
        self.add(Violation, violation)
        self.person_violations.setdefault(row["id"], []).append(violation)

    def _verification(self, person_id: int, arrived: date, category: LegalCategory) -> None:
        """UNHCR and IOM tracks consistent with the legal category."""
        rng = self.rng
        unhcr_path = {
            LegalCategory.REFUGEE: [VS.REFERRED, VS.IN_PROGRESS, VS.VERIFIED],
            LegalCategory.ASYLUM_SEEKER: rng.choice(
                [[VS.REFERRED], [VS.REFERRED, VS.IN_PROGRESS],
                 [VS.REFERRED, VS.IN_PROGRESS, VS.NOT_VERIFIED]]
            ),
            LegalCategory.IMMIGRATION_DETAINEE: [],
        }[category]  # fmt: skip
        iom_path = rng.choice(
            [[], [VS.REFERRED], [VS.REFERRED, VS.IN_PROGRESS],
             [VS.REFERRED, VS.IN_PROGRESS, VS.VERIFIED]]
        )  # fmt: skip
        for agency, path in ((Agency.UNHCR, unhcr_path), (Agency.IOM, iom_path)):
            if not path:
                continue
            span = max(1, (self.today - arrived).days)
            days = sorted(rng.randint(0, span) for _ in path)
            reference = (
                f"{'UNHCR' if agency is Agency.UNHCR else 'IOM'}-{arrived.year}-{person_id:07d}"
            )
            track_id = self.next_id(VerificationTrack)
            previous = VS.NOT_REFERRED
            for status, offset in zip(path, days, strict=True):
                self.add(
                    VerificationEvent,
                    {
                        "id": self.next_id(VerificationEvent),
                        "track_id": track_id,
                        "person_id": person_id,
                        "agency": agency,
                        "from_status": previous,
                        "to_status": status,
                        "occurred_on": arrived + timedelta(days=offset),
                        "reference": reference if status is VS.VERIFIED else None,
                        "reference_key": (
                            names.normalise_identifier(reference) if status is VS.VERIFIED else None
                        ),
                        "note": "",
                        "recorded_by_id": rng.choice(self.actor_ids) if self.actor_ids else None,
                        "recorded_at": utcnow(),
                    },
                )
                previous = status
            self.add(
                VerificationTrack,
                {
                    "id": track_id,
                    "person_id": person_id,
                    "agency": agency,
                    "status": previous,
                    "status_on": arrived + timedelta(days=days[-1]),
                    "reference": reference if previous is VS.VERIFIED else None,
                    "reference_key": (
                        names.normalise_identifier(reference) if previous is VS.VERIFIED else None
                    ),
                },
            )

    def _counter_start(self, year: int) -> int:
        counter = db.session.get(CaseNumberCounter, (self.site, year))
        return counter.last if counter else 0

    def _aliases(self, full_name, given, family, nationality) -> list[str]:
        rng = self.rng
        result = []
        variants = {
            "Mohammad": ["Muhammad", "Mohamed", "Mohd"], "Hussain": ["Hussein", "Husain"],
            "Ahmad": ["Ahmed"], "Nur": ["Noor"], "Yusuf": ["Yousef", "Yosuf"],
            "Abdul": ["Abdoul"], "Rahman": ["Rehman"], "Fatima": ["Fatema"],
        }  # fmt: skip
        for _ in range(rng.choices([0, 1, 2, 3, 4], weights=[15, 20, 30, 20, 15])[0]):
            choice = rng.random()
            if choice < 0.4 and given in variants:
                alias = full_name.replace(given, rng.choice(variants[given]), 1)
            elif choice < 0.7:
                alias = f"{given} {rng.choice(FAMILY[nationality])}"
            else:
                alias = f"{family} {given}"
            if alias != full_name and alias not in result:
                result.append(alias)
        return result

    def _custody_history(self, arrived: date) -> list[dict]:
        rng = self.rng
        final = _weighted(rng, CURRENT_STATUS)
        span = (self.today - arrived).days
        actor = rng.choice(self.actor_ids) if self.actor_ids else None
        steps = [(CustodyStatus.DETAINED, 0)]
        path_by_final = {
            CustodyStatus.COMMUNITY_HOUSING: [CustodyStatus.COMMUNITY_HOUSING],
            CustodyStatus.DETAINED: rng.choice(
                [[], [CustodyStatus.HOSPITAL, CustodyStatus.DETAINED]]
            ),
            CustodyStatus.HOSPITAL: [CustodyStatus.HOSPITAL],
            CustodyStatus.ABSCONDED: [CustodyStatus.COMMUNITY_HOUSING, CustodyStatus.ABSCONDED],
        }
        path = path_by_final.get(final, [CustodyStatus.COMMUNITY_HOUSING, final])
        if final is CustodyStatus.DETAINED and not path and rng.random() < 0.4:
            path = [CustodyStatus.DETAINED]  # a move between blocks
        offsets = sorted(rng.randint(1, max(1, span)) for _ in path)
        steps += list(zip(path, offsets, strict=True))
        events = []
        for status, offset in steps:
            kind = status.placement_kind
            placement = (
                rng.choice(self.placements[kind]) if kind and self.placements[kind] else None
            )
            events.append(
                {
                    "status": status,
                    "placement_id": placement,
                    "effective_on": arrived + timedelta(days=offset),
                    "reason": REASONS.get(status, "Recorded"),
                    "is_reopening": False,
                    "recorded_by_id": actor,
                    "recorded_at": utcnow(),
                }
            )
        return events


REASONS = {
    CustodyStatus.DETAINED: "Placed in the centre",
    CustodyStatus.COMMUNITY_HOUSING: "Moved to community housing (IOM-supported)",
    CustodyStatus.HOSPITAL: "Admitted to hospital",
    CustodyStatus.ABSCONDED: "Did not return to the housing site",
    CustodyStatus.RESETTLED: "Resettled to a third country",
    CustodyStatus.VOLUNTARY_RETURN: "Assisted voluntary return",
    CustodyStatus.RELEASED: "Released by decision of the head of centre",
    CustodyStatus.DEPORTED: "Removed after final negative decision",
    CustodyStatus.DECEASED: "Died in hospital",
}
INSERT_ORDER = [
    Person,
    CustodyEvent,
    PersonVulnerability,
    Alias,
    Identifier,
    VerificationTrack,
    VerificationEvent,
    CheckIn,
    Violation,
    MonitoringFlag,
]

DEMO_ACCOUNTS = [
    ("demo-officer", Role.OFFICER, "Petugas Demo"),
    ("demo-officer2", Role.OFFICER, "Petugas Demo Dua"),
    ("demo-supervisor", Role.SUPERVISOR, "Kepala Seksi Demo"),
    ("demo-supervisor2", Role.SUPERVISOR, "Kepala Seksi Demo Dua"),
    ("demo-viewer", Role.VIEWER, "Kepala Rudenim Demo"),
    ("demo-admin", Role.ADMIN, "Admin Demo"),
]


def ensure_demo_accounts() -> list[tuple[str, str, str]]:
    """Create (or reset) one account per role; returns (username, role, password)."""
    created = []
    for username, role, full_name in DEMO_ACCOUNTS:
        password = "demo-" + secrets.token_urlsafe(9)
        user = accounts.find_user(username)
        if user is None:
            accounts.create_user(username, role, password=password, full_name=full_name)
        else:
            accounts.set_password(user, password)
        created.append((username, role.value, password))
    return created


def _ensure_placements(people: int) -> dict[PlacementKind, list[int]]:
    """Enough blocks and housing sites for ``people`` (about a third detained,
    half in housing), so demo occupancy looks like a real centre's."""
    placements = {kind: [] for kind in PlacementKind}
    capacity = dict.fromkeys(PlacementKind, 0)
    for placement in db.session.scalars(select(Placement).where(Placement.is_active.is_(True))):
        placements[placement.kind].append(placement.id)
        capacity[placement.kind] += placement.capacity or 0
    need = {PlacementKind.CENTRE: int(people * 0.3), PlacementKind.HOUSING: int(people * 0.45)}
    size = {PlacementKind.CENTRE: 60, PlacementKind.HOUSING: 100}
    name = {PlacementKind.CENTRE: "Blok demo {n}", PlacementKind.HOUSING: "Wisma demo {n}"}
    for kind in PlacementKind:
        number = len(placements[kind])
        while capacity[kind] < need[kind]:
            number += 1
            placement = Placement(
                kind=kind, name=name[kind].format(n=number), capacity=size[kind], is_active=True
            )
            db.session.add(placement)
            db.session.flush()
            placements[kind].append(placement.id)
            capacity[kind] += size[kind]
    return placements


def _catalogue() -> list:
    rules = []
    for rule in db.session.scalars(select(HouseRule).where(HouseRule.is_active.is_(True))):
        allowed = [(row.sanction, row.max_days) for row in rule.sanctions]
        rules.append((rule.id, rule.code, allowed))
    return sorted(rules)


def _demo_period_and_flags(generator: DemoGenerator) -> None:
    """An active election period and flags on about 2% of the people in care."""
    rng, today = generator.rng, generator.today
    period = MonitoringPeriod(
        name=f"Pilkada {today.year} (demo)",
        kind=PeriodKind.ELECTION,
        starts_on=today - timedelta(days=10),
        ends_on=today + timedelta(days=20),
        checkin_interval_hours=72,
        notes="Synthetic demo period.",
    )
    db.session.add(period)
    db.session.flush()
    categories = [
        (
            FlagCategory.PROTECTION_CONCERN,
            "Received threats on social media after a local news story about refugees.",
            "Ask how they are; report any threat to the duty supervisor.",
        ),  # noqa: E501
        (
            FlagCategory.ABSCONDING_RISK,
            "Told staff twice this month that they intend to travel to Jakarta.",
            "Check in daily; explain the consequences calmly.",
        ),  # noqa: E501
        (
            FlagCategory.MEDICAL,
            "Needs daily medication and missed two clinic visits this month.",
            "Ask whether medication was taken; call the clinic if unwell.",
        ),  # noqa: E501
    ]
    supervisors = generator.supervisor_ids
    for person_id in generator.flag_candidates:
        if rng.random() >= 0.02:
            continue
        category, reason, handling = rng.choice(categories)
        proposer = rng.choice(generator.officer_ids or generator.actor_ids)
        deciders = [u for u in supervisors if u != proposer]
        if not deciders:
            return
        decided_on = today - timedelta(days=rng.randint(0, 9))
        generator.add(
            MonitoringFlag,
            {
                "id": generator.next_id(MonitoringFlag),
                "person_id": person_id,
                "period_id": period.id,
                "category": category,
                "reason": reason,
                "handling_instructions": handling,
                "ends_on": period.ends_on,
                "status": FlagStatus.APPROVED,
                "proposed_by_id": proposer,
                "proposed_at": datetime.combine(decided_on, time(8), tzinfo=centre_zone()),
                "decided_by_id": rng.choice(deciders),
                "decided_at": datetime.combine(decided_on, time(10), tzinfo=centre_zone()),
                "decided_on": decided_on,
                "decision_note": "Approved for the period; reviewed weekly.",
                "person_told_on": decided_on,
            },
        )


def load_demo(people: int, seed: int, today: date | None = None) -> dict[str, int]:
    """Generate ``people`` synthetic people (and their history) in bulk."""
    today = today or local_today()
    lock_chain(db.session)
    load_reference()
    users = db.session.execute(
        select(User.id, User.role)
        .where(User.role.in_([Role.OFFICER, Role.SUPERVISOR]), User.is_active_account.is_(True))
        .order_by(User.id)
    ).all()
    if not any(role is Role.SUPERVISOR for _id, role in users):
        raise DomainError(
            "Demo data needs at least one officer and two supervisors; create the demo accounts."
        )
    generator = DemoGenerator(
        rng=random.Random(seed),  # noqa: S311  (synthetic data, reproducible by seed)
        today=today,
        site=current_app.config["SITE_CODE"],
        placements=_ensure_placements(people),
        actor_ids=[user_id for user_id, _role in users],
        officer_ids=[user_id for user_id, role in users if role is Role.OFFICER],
        supervisor_ids=[user_id for user_id, role in users if role is Role.SUPERVISOR],
        rules=_catalogue(),
    )
    for index in range(people):
        row = generator.person()
        if row["is_in_care"]:
            generator.flag_candidates.append(row["id"])
        if (index + 1) % BATCH == 0:
            generator.flush()
    generator.flush()
    _demo_period_and_flags(generator)
    generator.flush()
    _advance_sequences(generator)
    _save_counters(generator)
    record_event(
        "demo_load",
        details={"people": people, "seed": seed, "rows": generator.totals},
    )
    return generator.totals


def _advance_sequences(generator: DemoGenerator) -> None:
    """On PostgreSQL, move each id sequence past the ids the bulk insert chose itself.

    Without this the next row the app inserts (a check-in, a verification
    track, a registered person) takes an id the demo data already holds.
    """
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        return
    for model in generator.next_ids:
        table = f'"{model.__table__.name}"'  # a mapped table's name, not user input
        highest = f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table})"  # noqa: S608
        connection.execute(
            text(f"SELECT setval(pg_get_serial_sequence(:table, 'id'), {highest}, false)"),
            {"table": table},
        )


def _save_counters(generator: DemoGenerator) -> None:
    for year, last in generator.counters.items():
        counter = db.session.get(CaseNumberCounter, (generator.site, year))
        if counter is None:
            db.session.add(CaseNumberCounter(site=generator.site, year=year, last=last))
        else:
            counter.last = max(counter.last, last)
    db.session.flush()


@click.group("demo")
def demo_cli():
    """Synthetic demo data (never real people)."""


@demo_cli.command("load")
@click.option("--people", default=500, show_default=True, help="How many people to invent.")
@click.option("--seed", default=2024, show_default=True, help="Same seed, same records.")
@click.option("--accounts/--no-accounts", default=True, help="Create demo accounts per role.")
@with_appcontext
def load(people, seed, accounts):
    """Fill the database with synthetic people, their history and demo accounts."""
    with acting_as(Actor(user_id=None, name="demo-load")):
        credentials = ensure_demo_accounts() if accounts else []
        db.session.flush()
        try:
            totals = load_demo(people, seed)
        except DomainError as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from None
        db.session.commit()
    for table, count in totals.items():
        click.echo(f"{table}: {count} rows")
    if credentials:
        click.echo("Demo accounts (synthetic data only; passwords shown once):")
        for username, role, password in credentials:
            click.echo(f"  {username:<18} {role:<11} {password}")
