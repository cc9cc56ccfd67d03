"""Synthetic demo data: ``flask demo load --people N --seed S``.

Every person here is invented. Names are drawn from common given and family
names of each region, with the spelling variants real records show, so search
and the duplicate check have something realistic to work on. The same seed on
the same day gives the same records. Rows are written in bulk through the
driver (COPY on PostgreSQL, executemany on SQLite), not the ORM, so the per-row
audit hooks do not run: one ``demo_load`` event records what was loaded.

On average a person has about 3 custody events, 2 verification tracks of about
3 steps each, 0.3 violations, 4 check-ins and 2 aliases; 2% of the people are
flagged in the one demo monitoring period (tests/test_demo.py holds it to that).
"""

import random
import secrets
from bisect import bisect
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from itertools import accumulate
from operator import itemgetter

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
    NameToken,
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
from rudenim.extensions import db, refresh_statistics
from rudenim.monitoring.models import (
    CheckIn,
    CheckInOutcome,
    FlagCategory,
    FlagStatus,
    MonitoringFlag,
    MonitoringPeriod,
    PeriodKind,
)
from rudenim.monitoring.services import ROLL_CALL_STATUSES
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
CS = CustodyStatus
#: Of all the people loaded, the share with a monitoring flag in the demo period.
FLAGGED_SHARE = 0.02


class Draw:
    """Values with weights, drawn many times (the weights are summed once)."""

    def __init__(self, pairs):
        self.values = [value for value, _weight in pairs]
        self.cumulative = list(accumulate(weight for _value, weight in pairs))

    def __call__(self, rng: random.Random):
        return self.values[bisect(self.cumulative, rng.random() * self.cumulative[-1])]


NATIONALITY = Draw([(code, share) for code, (share, _e) in NATIONALITIES.items()])
ETHNICITY = {code: Draw(pairs) for code, (_share, pairs) in NATIONALITIES.items()}
FINAL_STATUS = Draw(CURRENT_STATUS)
#: The legal category of most people; resettlement and removal decide it otherwise.
CATEGORY = Draw(
    [
        (LegalCategory.REFUGEE, 45),
        (LegalCategory.ASYLUM_SEEKER, 45),
        (LegalCategory.IMMIGRATION_DETAINEE, 10),
    ]
)
DEPORTEE_CATEGORY = Draw(
    [(LegalCategory.IMMIGRATION_DETAINEE, 75), (LegalCategory.ASYLUM_SEEKER, 25)]
)

#: Everyone is detained on arrival; then the stays that lead to the current status.
ROUTES = {
    CS.DETAINED: Draw([((), 1)]),
    CS.COMMUNITY_HOUSING: Draw([((CS.COMMUNITY_HOUSING,), 1)]),
    CS.HOSPITAL: Draw([((CS.HOSPITAL,), 60), ((CS.COMMUNITY_HOUSING, CS.HOSPITAL), 40)]),
    CS.ABSCONDED: Draw([((CS.COMMUNITY_HOUSING, CS.ABSCONDED), 80), ((CS.ABSCONDED,), 20)]),
    **{
        final: Draw([((CS.COMMUNITY_HOUSING, final), 75), ((final,), 25)])
        for final in (CS.RESETTLED, CS.VOLUNTARY_RETURN, CS.RELEASED)
    },
    CS.DEPORTED: Draw([((CS.DEPORTED,), 1)]),
    CS.DECEASED: Draw(
        [((CS.HOSPITAL, CS.DECEASED), 50), ((CS.COMMUNITY_HOUSING, CS.HOSPITAL, CS.DECEASED), 50)]
    ),
}
#: Detours within a stay in detention or housing; each ends in the status it left.
DETOURS = {
    CS.DETAINED: Draw([((CS.DETAINED,), 60), ((CS.HOSPITAL, CS.DETAINED), 40)]),
    CS.COMMUNITY_HOUSING: Draw(
        [
            ((CS.COMMUNITY_HOUSING,), 40),
            ((CS.HOSPITAL, CS.COMMUNITY_HOUSING), 25),
            ((CS.DETAINED, CS.COMMUNITY_HOUSING), 20),
            ((CS.ABSCONDED, CS.DETAINED, CS.COMMUNITY_HOUSING), 15),
        ]
    ),
}
#: Detours a year since arrival, on average: about three custody events a person.
DETOURS_PER_YEAR = 0.17
#: A hospital stay lasts a small fraction of a stay elsewhere.
HOSPITAL_STAY = 0.02

#: UNHCR's refugee status determination by legal category. Refugees were verified
#: (some on appeal after a first "not verified"); others were not, or not yet.
UNHCR_PATHS = {
    LegalCategory.REFUGEE: Draw(
        [((VS.REFERRED, VS.IN_PROGRESS, VS.VERIFIED), 85),
         ((VS.REFERRED, VS.IN_PROGRESS, VS.NOT_VERIFIED, VS.IN_PROGRESS, VS.VERIFIED), 15)]
    ),
    LegalCategory.ASYLUM_SEEKER: Draw(
        [((VS.REFERRED,), 10),
         ((VS.REFERRED, VS.IN_PROGRESS), 40),
         ((VS.REFERRED, VS.IN_PROGRESS, VS.NOT_VERIFIED), 20),
         ((VS.REFERRED, VS.IN_PROGRESS, VS.NOT_VERIFIED, VS.IN_PROGRESS), 15),
         ((VS.REFERRED, VS.IN_PROGRESS, VS.NOT_VERIFIED, VS.CLOSED), 10),
         ((VS.REFERRED, VS.IN_PROGRESS, VS.NOT_VERIFIED, VS.CLOSED, VS.REFERRED), 5)]
    ),
    LegalCategory.IMMIGRATION_DETAINEE: Draw(
        [((), 25),
         ((VS.REFERRED, VS.IN_PROGRESS, VS.NOT_VERIFIED), 40),
         ((VS.REFERRED, VS.IN_PROGRESS, VS.NOT_VERIFIED, VS.CLOSED), 35)]
    ),
}  # fmt: skip
#: Nobody is deported while UNHCR examines or has verified their claim (non-refoulement).
UNHCR_REMOVABLE = Draw(
    [((VS.REFERRED, VS.IN_PROGRESS, VS.NOT_VERIFIED), 50),
     ((VS.REFERRED, VS.IN_PROGRESS, VS.NOT_VERIFIED, VS.CLOSED), 50)]
)  # fmt: skip
IOM_PATHS = Draw(
    [((), 3),
     ((VS.REFERRED,), 5),
     ((VS.REFERRED, VS.IN_PROGRESS), 22),
     ((VS.REFERRED, VS.IN_PROGRESS, VS.VERIFIED), 55),
     ((VS.REFERRED, VS.IN_PROGRESS, VS.NOT_VERIFIED), 5),
     ((VS.REFERRED, VS.IN_PROGRESS, VS.NOT_VERIFIED, VS.IN_PROGRESS), 5),
     ((VS.REFERRED, VS.IN_PROGRESS, VS.NOT_VERIFIED, VS.IN_PROGRESS, VS.VERIFIED), 5)]
)  # fmt: skip
#: IOM closes the case of someone it resettled or helped to return home.
IOM_DEPARTED = Draw(
    [((VS.REFERRED, VS.IN_PROGRESS, VS.VERIFIED, VS.CLOSED), 70),
     ((VS.REFERRED, VS.IN_PROGRESS, VS.VERIFIED), 30)]
)  # fmt: skip

CHECKINS = Draw([(2, 10), (3, 20), (4, 40), (5, 20), (6, 10)])
CHECKIN_OUTCOME = Draw(
    [(CheckInOutcome.PRESENT, 90), (CheckInOutcome.ABSENT, 4), (CheckInOutcome.UNWELL, 5),
     (CheckInOutcome.REFUSED, 1)]
)  # fmt: skip
ALIASES = Draw([(0, 15), (1, 20), (2, 30), (3, 20), (4, 15)])
LOCATIONS = {
    CS.DETAINED: ["Blok", "Dapur umum", "Halaman"],
    CS.COMMUNITY_HOUSING: ["Wisma", "Dapur umum", "Halaman", "Pasar Oesapa"],
}


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
    #: The batch being written in the background, if any.
    writing: Future | None = None
    counters: dict = field(default_factory=dict)
    totals: dict = field(default_factory=dict)
    identifier_serial: int = 0
    #: (rule id, code, [(sanction, longest days)]) of the catalogue.
    rules: list = field(default_factory=list)
    officer_ids: list[int] = field(default_factory=list)
    supervisor_ids: list[int] = field(default_factory=list)
    person_violations: dict = field(default_factory=dict)
    flag_candidates: list = field(default_factory=list)
    #: One "recorded at" for the whole load, and the centre's zone, looked up once.
    now: datetime = field(default_factory=utcnow)
    zone: tzinfo = field(default_factory=centre_zone)
    name_keys: dict = field(default_factory=dict)
    name_tokens: dict = field(default_factory=dict)

    def next_id(self, model) -> int:
        if model not in self.next_ids:
            current = db.session.scalar(select(func.max(model.id))) or 0
            self.next_ids[model] = current
        self.next_ids[model] += 1
        return self.next_ids[model]

    def add(self, model, row: dict) -> None:
        self.rows.setdefault(model, []).append(row)

    def flush(self, writer: Executor | None = None) -> None:
        """Write the rows made so far (after the previous batch, if still being written).

        Given a ``writer``, the batch is written in the background while the
        next one is made; nothing else may use the session until the next plain
        ``flush()``, which waits for it.
        """
        rows, self.rows = self.rows, {}
        if self.writing is not None:
            writing, self.writing = self.writing, None
            writing.result()
        connection = db.session.connection()
        if writer is None:
            self._write(connection, rows)
        else:
            self.writing = writer.submit(self._write, connection, rows)

    def _write(self, connection, rows: dict) -> None:
        for model in INSERT_ORDER + [m for m in rows if m not in INSERT_ORDER]:
            if rows.get(model):
                _bulk_insert(connection, model.__table__, rows[model])
                name = model.__tablename__
                self.totals[name] = self.totals.get(name, 0) + len(rows[model])

    def add_tokens(self, person_id: int, name_no: int, key: str) -> None:
        """The name's search tokens (``names.name_tokens``, remembered like the keys)."""
        tokens = self.name_tokens.get(key)
        if tokens is None:
            tokens = self.name_tokens[key] = tuple(names.name_tokens(key))
        for is_word, token in tokens:
            self.add(
                NameToken,
                {
                    "person_id": person_id,
                    "name_no": name_no,
                    "is_word": is_word,
                    "token": token,
                    "name_key": key,
                },
            )

    def name_key(self, name: str) -> str:
        """``names.name_key``, remembered: the same names come back again and again."""
        key = self.name_keys.get(name)
        if key is None:
            key = self.name_keys[name] = names.name_key(name)
        return key

    def person(self) -> dict:
        rng = self.rng
        nationality = NATIONALITY(rng)
        ethnicity = ETHNICITY[nationality](rng)
        sex = "male" if rng.random() < 0.68 else "female"
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
        self.counters[year] = self.counters.get(year, 0) + 1
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
        category = self._legal_category(final["status"])
        row = {
            "id": person_id,
            "case_number": case_number,
            "full_name": full_name,
            "name_key": self.name_key(full_name),
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
            "iom_status": VS.NOT_REFERRED,  # set by _verification
            "unhcr_status": VS.NOT_REFERRED,
            "created_at": self.now,
            "updated_at": self.now,
            "version": 1,
        }
        self.add(Person, row)
        for event in events:
            self.add(
                CustodyEvent, {"id": self.next_id(CustodyEvent), "person_id": person_id, **event}
            )
        for kind in vulnerabilities:
            self.add(PersonVulnerability, {"person_id": person_id, "kind": kind})
        # The search index (services.reindex_names writes it in the app).
        self.add_tokens(person_id, 0, row["name_key"])
        for alias in self._aliases(full_name, given, family, nationality):
            alias_id, key = self.next_id(Alias), self.name_key(alias)
            self.add(
                Alias,
                {"id": alias_id, "person_id": person_id, "name": alias, "name_key": key},
            )
            self.add_tokens(person_id, alias_id, key)
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
        left_on = self.today if row["is_in_care"] else final["effective_on"]
        self._verification(row, arrived, category, final["status"], left_on)
        stays = self._stays(events)
        self._checkins(row, stays)
        self._violations(row, stays)
        return row

    def _legal_category(self, status: CustodyStatus) -> LegalCategory:
        if status is CS.RESETTLED:  # resettlement is for recognised refugees
            return LegalCategory.REFUGEE
        if status is CS.DEPORTED:
            return DEPORTEE_CATEGORY(self.rng)
        return CATEGORY(self.rng)

    def _stays(self, events: list[dict]) -> list[tuple]:
        """Stretches in housing or detention: (first day, days, status, placement).

        A stretch ends the day before the next change (or yesterday, if it is
        the current one), so check-ins and incidents on its days fall inside it.
        """
        stays = []
        for event, following in zip(events, [*events[1:], None], strict=True):
            if event["status"] not in ROLL_CALL_STATUSES:
                continue
            start = event["effective_on"]
            days = ((following["effective_on"] if following else self.today) - start).days
            if days > 0:
                stays.append((start, days, event["status"], event["placement_id"]))
        return stays

    def _days_in(self, stays: list[tuple], count: int) -> list[tuple]:
        """Up to ``count`` different days within ``stays``, in order, with their stay."""
        total = sum(days for _start, days, _status, _placement in stays)
        picked = sorted(self.rng.sample(range(total), min(count, total)))
        result, index, before = [], 0, 0
        for offset in picked:
            while offset >= before + stays[index][1]:
                before += stays[index][1]
                index += 1
            start, _days, status, placement = stays[index]
            result.append((start + timedelta(days=offset - before), status, placement))
        return result

    def _checkins(self, row: dict, stays: list[tuple]) -> None:
        """About four check-ins a person, on days they were in housing or detention:
        the last weeks for those there now, their earlier stays for the others."""
        rng = self.rng
        if row["custody_status"] in ROLL_CALL_STATUSES:
            since = self.today - timedelta(days=150)
            recent = []
            for start, days, status, placement in stays:
                end = start + timedelta(days=days)
                if end > since:
                    recent.append(
                        (max(start, since), (end - max(start, since)).days, status, placement)
                    )
            stays = recent or stays
        for day, _status, placement in self._days_in(stays, CHECKINS(rng)):
            outcome = CHECKIN_OUTCOME(rng)
            at = datetime.combine(day, time(9, rng.randint(0, 59)), tzinfo=self.zone)
            # An absence stays open until followed up: only recent ones still are.
            age = (self.today - day).days
            followed = (
                outcome is CheckInOutcome.ABSENT and age > 1 and (age > 30 or rng.random() < 0.8)
            )
            self.add(
                CheckIn,
                {
                    "id": self.next_id(CheckIn),
                    "person_id": row["id"],
                    "placement_id": placement,
                    "checked_at": at,
                    "outcome": outcome,
                    "note": "",
                    "recorded_by_id": rng.choice(self.actor_ids),
                    "followed_up_at": at + timedelta(days=1) if followed else None,
                    "followed_up_by_id": rng.choice(self.actor_ids) if followed else None,
                    "follow_up_note": "Found at the housing site the next day"
                    if followed
                    else None,
                },
            )

    def _violations(self, row: dict, stays: list[tuple]) -> None:
        """On average 0.3 violations a person, at every step of the process."""
        rng = self.rng
        if not self.rules or not stays or rng.random() >= 0.26:
            return
        for _n in range(1 if rng.random() < 0.85 else 2):
            self._violation(row, stays)

    def _violation(self, row: dict, stays: list[tuple]) -> None:
        rng = self.rng
        [(occurred_day, where, _placement)] = self._days_in(stays, 1)
        occurred = datetime.combine(
            occurred_day, time(rng.randint(6, 23), rng.randint(0, 59)), tzinfo=self.zone
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
            "location": rng.choice(LOCATIONS[where]),
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
                decided_at=datetime.combine(decided_on, time(11), tzinfo=self.zone),
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
                        decided_on + timedelta(days=5), time(10), tzinfo=self.zone
                    ),
                    appeal_reasons="Synthetic demo appeal decision.",
                )
        self.add(Violation, violation)
        self.person_violations.setdefault(row["id"], []).append(violation)

    def _verification(
        self,
        row: dict,
        arrived: date,
        category: LegalCategory,
        status: CustodyStatus,
        until: date,
    ) -> None:
        """UNHCR and IOM tracks consistent with the legal category and custody.

        Each step follows ``VERIFICATION_STEPS`` and lies before ``until`` (the
        day someone left care, or today). The person's row gets each track's
        status, as the app's record_verification_step keeps it.
        """
        rng = self.rng
        person_id = row["id"]
        if status is CS.DEPORTED and category is LegalCategory.ASYLUM_SEEKER:
            unhcr_path = UNHCR_REMOVABLE(rng)
        else:
            unhcr_path = UNHCR_PATHS[category](rng)
        departed = status in (CS.RESETTLED, CS.VOLUNTARY_RETURN)
        iom_path = (IOM_DEPARTED if departed else IOM_PATHS)(rng)
        span = max(0, (until - arrived).days)
        for agency, path in ((Agency.UNHCR, unhcr_path), (Agency.IOM, iom_path)):
            if not path:
                continue
            days = sorted(rng.randint(0, span) for _ in path)
            reference = (
                f"{'UNHCR' if agency is Agency.UNHCR else 'IOM'}-{arrived.year}-{person_id:07d}"
            )
            reference_key = names.normalise_identifier(reference)
            track_id = self.next_id(VerificationTrack)
            previous = VS.NOT_REFERRED
            for step, offset in zip(path, days, strict=True):
                verified = step is VS.VERIFIED
                self.add(
                    VerificationEvent,
                    {
                        "id": self.next_id(VerificationEvent),
                        "track_id": track_id,
                        "person_id": person_id,
                        "agency": agency,
                        "from_status": previous,
                        "to_status": step,
                        "occurred_on": arrived + timedelta(days=offset),
                        "reference": reference if verified else None,
                        "reference_key": reference_key if verified else None,
                        "note": "",
                        "recorded_by_id": rng.choice(self.actor_ids) if self.actor_ids else None,
                        "recorded_at": self.now,
                    },
                )
                previous = step
            row[f"{agency.value}_status"] = previous
            # The track keeps the reference recorded with the verified step.
            verified = VS.VERIFIED in path
            self.add(
                VerificationTrack,
                {
                    "id": track_id,
                    "person_id": person_id,
                    "agency": agency,
                    "status": previous,
                    "status_on": arrived + timedelta(days=days[-1]),
                    "reference": reference if verified else None,
                    "reference_key": reference_key if verified else None,
                },
            )

    def _aliases(self, full_name, given, family, nationality) -> list[str]:
        rng = self.rng
        result = []
        variants = {
            "Mohammad": ["Muhammad", "Mohamed", "Mohd"], "Hussain": ["Hussein", "Husain"],
            "Ahmad": ["Ahmed"], "Nur": ["Noor"], "Yusuf": ["Yousef", "Yosuf"],
            "Abdul": ["Abdoul"], "Rahman": ["Rehman"], "Fatima": ["Fatema"],
        }  # fmt: skip
        wanted = ALIASES(rng)
        for _attempt in range(4 * wanted):  # a few tries: a draw may repeat a name
            if len(result) == wanted:
                break
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
        """Detained on arrival, then the stays (with detours) that lead to a drawn
        current status; a detour is a move, a hospital stay, a spell back in
        detention or an absconding, and ends in the status it left."""
        rng = self.rng
        final = FINAL_STATUS(rng)
        span = (self.today - arrived).days
        stages = (CS.DETAINED, *ROUTES[final](rng))
        stays = [index for index, status in enumerate(stages) if status in DETOURS]
        detours = [0] * len(stages)
        for _n in range(int(rng.uniform(0, 2) * DETOURS_PER_YEAR * span / 365 + rng.random())):
            detours[rng.choice(stays)] += 1
        path = []
        for stage, count in zip(stages, detours, strict=True):
            path.append(stage)
            for _n in range(count):
                path.extend(DETOURS[stage](rng))
        # How long each status lasted, scaled to the time since arrival.
        lengths = [
            rng.expovariate(1) * (HOSPITAL_STAY if status is CS.HOSPITAL else 1) for status in path
        ]
        scale = span / sum(lengths)
        actor = rng.choice(self.actor_ids) if self.actor_ids else None
        events = []
        elapsed = 0.0
        previous, placement = None, None
        for status, length in zip(path, lengths, strict=True):
            offset = int(elapsed * scale)
            elapsed += length
            kind = status.placement_kind
            options = self.placements[kind] if kind else []
            if status is previous:  # a move: another block or housing site
                if len(options) < 2:
                    continue
                moved_to = rng.choice(options)
                while moved_to == placement:
                    moved_to = rng.choice(options)
                placement = moved_to
            else:
                placement = rng.choice(options) if options else None
            events.append(
                {
                    "status": status,
                    "placement_id": placement,
                    "effective_on": arrived + timedelta(days=offset),
                    "reason": MOVE_REASONS[status]
                    if status is previous
                    else RETURN_REASONS.get((previous, status), REASONS[status]),
                    "is_reopening": False,
                    "recorded_by_id": actor,
                    "recorded_at": self.now,
                }
            )
            previous = status
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
#: Where the usual reason above does not fit the step.
RETURN_REASONS = {
    (CS.HOSPITAL, CS.DETAINED): "Discharged from hospital, back in the centre",
    (CS.HOSPITAL, CS.COMMUNITY_HOUSING): "Discharged from hospital, back in community housing",
    (CS.COMMUNITY_HOUSING, CS.DETAINED): "Returned to the centre pending a review",
    (CS.ABSCONDED, CS.DETAINED): "Found and returned to the centre",
    (CS.DETAINED, CS.ABSCONDED): "Left the centre without permission",
}
MOVE_REASONS = {
    CustodyStatus.DETAINED: "Moved to another block",
    CustodyStatus.COMMUNITY_HOUSING: "Moved to another housing site",
}
INSERT_ORDER = [
    Person,
    CustodyEvent,
    PersonVulnerability,
    Alias,
    NameToken,
    Identifier,
    VerificationTrack,
    VerificationEvent,
    CheckIn,
    Violation,
    MonitoringFlag,
]


@contextmanager
def _roomy_cache(connection):
    """On SQLite, a 256 MB page cache while loading (then the usual one again): a
    large load's indexes outgrow the default 2 MB, and each miss costs a read."""
    if connection.dialect.name != "sqlite":
        yield
        return
    usual = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    connection.exec_driver_sql("PRAGMA cache_size = -262144")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size = {int(usual)}")


def _shareable(connection) -> bool:
    """Whether another thread may write through this connection (an in-memory
    SQLite database belongs to the thread that opened it)."""
    url = connection.engine.url
    return url.get_backend_name() != "sqlite" or url.database not in (None, "", ":memory:")


def _bulk_insert(connection, table, rows: list[dict]) -> None:
    """Write ``rows`` through the driver: COPY on PostgreSQL, one executemany on SQLite.

    Core's insert spends more time per row than the database does; here each
    value goes only through its column's own bind processor, so it is stored
    exactly as the ORM would store it.
    """
    keys = set().union(*rows)
    if unknown := keys - set(table.columns.keys()):
        raise ValueError(f"{table.name} has no column {', '.join(sorted(unknown))}")
    if any(len(row) != len(keys) for row in rows):
        blank = dict.fromkeys(keys)
        rows = [row if len(row) == len(keys) else blank | row for row in rows]
    dialect = connection.dialect
    columns = [column for column in table.columns if column.key in keys]
    values = itemgetter(*(column.key for column in columns))
    processors = [
        (index, process)
        for index, column in enumerate(columns)
        if (process := column.type.dialect_impl(dialect).bind_processor(dialect))
    ]

    def records():
        # Most values repeat (statuses, days, the load's own timestamp): process each once.
        seen = [{} for _processor in processors]
        for row in rows:
            record = list(values(row))
            for (index, process), done in zip(processors, seen, strict=True):
                value = record[index]
                if value is not None:
                    stored = done.get(value)
                    if stored is None:
                        stored = done[value] = process(value)
                    record[index] = stored
            yield record

    quote = dialect.identifier_preparer.quote
    names_sql = ", ".join(quote(column.name) for column in columns)
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        cursor = connection.connection.cursor()
        try:
            with cursor.copy(f"COPY {quote(table.name)} ({names_sql}) FROM STDIN") as copy:
                for record in records():
                    copy.write_row(record)
        finally:
            cursor.close()
    elif dialect.name == "sqlite":
        marks = ", ".join("?" * len(columns))
        cursor = connection.connection.cursor()
        try:
            cursor.executemany(
                f"INSERT INTO {quote(table.name)} ({names_sql}) VALUES ({marks})",  # noqa: S608
                records(),
            )
        finally:
            cursor.close()
    else:
        connection.execute(insert(table), rows)


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


def _demo_period_and_flags(generator: DemoGenerator, flagged: int) -> None:
    """An active election period, and flags on ``flagged`` people in housing or detention."""
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
    candidates = generator.flag_candidates
    for person_id in sorted(rng.sample(candidates, min(flagged, len(candidates)))):
        category, reason, handling = rng.choice(categories)
        proposer = rng.choice(generator.officer_ids or generator.actor_ids)
        deciders = [u for u in supervisors if u != proposer]
        if not deciders:
            return
        decided_on = today - timedelta(days=rng.randint(1, 9))
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
    # What the generator would otherwise look up while a batch is being written.
    site = generator.site
    generator.counters = dict(
        db.session.execute(
            select(CaseNumberCounter.year, CaseNumberCounter.last).where(
                CaseNumberCounter.site == site
            )
        ).all()
    )
    for model in INSERT_ORDER:
        if "id" in model.__table__.columns:
            generator.next_ids[model] = db.session.scalar(select(func.max(model.id))) or 0
    connection = db.session.connection()
    with _roomy_cache(connection), ThreadPoolExecutor(max_workers=1) as writer:
        background = writer if _shareable(connection) else None
        for index in range(people):
            row = generator.person()
            if row["custody_status"] in ROLL_CALL_STATUSES:
                generator.flag_candidates.append(row["id"])
            if (index + 1) % BATCH == 0:
                generator.flush(background)
        generator.flush()
    _demo_period_and_flags(generator, flagged=max(1, round(people * FLAGGED_SHARE)))
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
    refresh_statistics()  # so the planner knows the tables are no longer empty
    for table, count in totals.items():
        click.echo(f"{table}: {count} rows")
    if credentials:
        click.echo("Demo accounts (synthetic data only; passwords shown once):")
        for username, role, password in credentials:
            click.echo(f"  {username:<18} {role:<11} {password}")
