"""The dashboard's figures: aggregate queries, rendered and reused for at most a minute.

Group totals live here, and only here: counts per nationality are for seeing
(and correcting) disparities, never for selecting people for action.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from time import monotonic

from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import func, select

from rudenim.cases import nationalities
from rudenim.cases.models import (
    Agency,
    CustodyStatus,
    DetentionReview,
    Person,
    Placement,
    VerificationStatus,
    VerificationTrack,
)
from rudenim.cases.services import custody_status_label
from rudenim.cases.verification import ACTIVE, status_label
from rudenim.clock import centre_zone, local_today, to_local, utcnow
from rudenim.conduct.models import Violation, ViolationStatus
from rudenim.conduct.services import status_label as violation_status_label
from rudenim.extensions import db
from rudenim.monitoring import services as monitoring
from rudenim.monitoring.models import MonitoringFlag, MonitoringPeriod

#: A group's share of flags or violations this many times its share of people is flagged up.
DISPARITY_FACTOR = 1.5
TOP = 12


@dataclass
class Bar:
    label: str
    value: int
    note: str = ""


def _bars(rows, label=lambda key: key, limit: int | None = None) -> list[Bar]:
    bars = sorted((Bar(label(key), count) for key, count in rows), key=lambda b: -b.value)
    if limit and len(bars) > limit:
        rest = sum(bar.value for bar in bars[limit:])
        bars = [*bars[:limit], Bar(_("Others"), rest)]
    return bars


def people_by_status() -> list[Bar]:
    rows = db.session.execute(
        select(Person.custody_status, func.count())
        .where(Person.is_in_care.is_(True))
        .group_by(Person.custody_status)
    ).all()
    return _bars(rows, custody_status_label)


@dataclass
class Occupancy:
    """People against capacity for each kind of placement, and the full ones."""

    totals: dict
    crowded: list
    count: int


def placements_with_occupancy(limit: int = 15) -> Occupancy:
    counts = dict(
        db.session.execute(
            select(Person.placement_id, func.count())
            .where(Person.is_in_care.is_(True), Person.placement_id.is_not(None))
            .group_by(Person.placement_id)
        ).all()
    )
    placements = db.session.scalars(
        select(Placement)
        .where(Placement.is_active.is_(True))
        .order_by(Placement.kind, Placement.name)
    ).all()
    totals = {}
    crowded = []
    for placement in placements:
        people = counts.get(placement.id, 0)
        kind = totals.setdefault(placement.kind, {"people": 0, "capacity": 0, "places": 0})
        kind["people"] += people
        kind["capacity"] += placement.capacity or 0
        kind["places"] += 1
        if placement.capacity is not None and people > placement.capacity:
            crowded.append((placement, people))
    crowded.sort(key=lambda pair: pair[1] - pair[0].capacity, reverse=True)
    return Occupancy(totals=totals, crowded=crowded[:limit], count=len(crowded))


def people_by_nationality() -> list[tuple[str, int]]:
    return db.session.execute(
        select(Person.nationality, func.count())
        .where(Person.is_in_care.is_(True))
        .group_by(Person.nationality)
    ).all()


def people_by_ethnicity() -> list[Bar]:
    rows = db.session.execute(
        select(Person.claimed_ethnicity, func.count())
        .where(Person.is_in_care.is_(True))
        .group_by(Person.claimed_ethnicity)
    ).all()
    return _bars(rows, lambda key: key or _("Not stated"), limit=TOP)


def verification_funnel(agency: Agency, in_care: int, today: date) -> tuple[list[Bar], int]:
    """Counts per status (people with no track are not referred) and stalled tracks."""
    rows = dict(
        db.session.execute(
            select(VerificationTrack.status, func.count())
            .join(Person, Person.id == VerificationTrack.person_id)
            .where(VerificationTrack.agency == agency, Person.is_in_care.is_(True))
            .group_by(VerificationTrack.status)
        ).all()
    )
    tracked = sum(rows.values())
    bars = []
    for status in VerificationStatus:
        value = rows.get(status, 0)
        if status is VerificationStatus.NOT_REFERRED:
            value += in_care - tracked
        bars.append(Bar(status_label(status), value))
    cutoff = today - timedelta(days=current_app.config["VERIFICATION_STALLED_DAYS"])
    stalled = db.session.scalar(
        select(func.count())
        .select_from(VerificationTrack)
        .join(Person, Person.id == VerificationTrack.person_id)
        .where(
            VerificationTrack.agency == agency,
            Person.is_in_care.is_(True),
            VerificationTrack.status.in_([s.value for s in ACTIVE]),
            VerificationTrack.status_on <= cutoff,
        )
    )
    return bars, stalled


def violations_by_month(today: date, months: int = 12) -> tuple[list[str], list[str], dict]:
    """(month labels, statuses, {(month, status): count}) for the last months."""
    first = date(today.year, today.month, 1)
    for _month in range(months - 1):
        first = date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)
    start = datetime.combine(first, time.min, tzinfo=centre_zone())
    rows = db.session.execute(
        select(Violation.occurred_at, Violation.status).where(Violation.occurred_at >= start)
    )
    labels = []
    month = first
    while month <= today:
        labels.append(month.strftime("%Y-%m"))
        month = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    counts: dict = {}
    for occurred_at, status in rows:
        key = (to_local(occurred_at).strftime("%Y-%m"), ViolationStatus(status))
        counts[key] = counts.get(key, 0) + 1
    return labels, list(ViolationStatus), counts


def reviews_overdue(today: date, limit: int = 20) -> tuple[int, list[tuple[Person, date]]]:
    """Detained people whose detention review is overdue, most overdue first."""
    interval = timedelta(days=current_app.config["DETENTION_REVIEW_DAYS"])
    last_review = (
        select(DetentionReview.person_id, func.max(DetentionReview.reviewed_on).label("on"))
        .group_by(DetentionReview.person_id)
        .subquery()
    )
    # A review counts only if it is of the current detention (on or after its start).
    later = func.greatest if db.engine.dialect.name == "postgresql" else func.max
    basis = later(func.coalesce(last_review.c.on, Person.status_since), Person.status_since)
    query = (
        select(Person, basis.label("basis"))
        .outerjoin(last_review, last_review.c.person_id == Person.id)
        .where(
            Person.is_in_care.is_(True),
            Person.custody_status == CustodyStatus.DETAINED,
            basis < today - interval,
        )
    )
    count = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.execute(query.order_by(basis).limit(limit)).all()
    return count, [(person, basis_on + interval) for person, basis_on in rows]


@dataclass
class DisparityRow:
    code: str
    label: str
    people: int
    people_share: float
    flags: int
    flags_share: float
    violations: int
    violations_share: float

    @property
    def flags_high(self) -> bool:
        return self.flags > 0 and self.flags_share > DISPARITY_FACTOR * self.people_share

    @property
    def violations_high(self) -> bool:
        return self.violations > 0 and self.violations_share > DISPARITY_FACTOR * self.people_share


def disparity(today: date, people_rows) -> list[DisparityRow]:
    """Per nationality: share of people in care beside share of flags and upheld violations."""
    people = dict(people_rows)
    total = sum(people.values())
    flags = dict(
        db.session.execute(
            select(Person.nationality, func.count(func.distinct(MonitoringFlag.person_id)))
            .select_from(MonitoringFlag)
            .join(Person, Person.id == MonitoringFlag.person_id)
            .join(MonitoringPeriod, MonitoringPeriod.id == MonitoringFlag.period_id)
            .where(monitoring._active_flag_condition(today))
            .group_by(Person.nationality)
        ).all()
    )
    upheld = dict(
        db.session.execute(
            select(Person.nationality, func.count())
            .select_from(Violation)
            .join(Person, Person.id == Violation.person_id)
            .where(
                Violation.status.in_(
                    [
                        ViolationStatus.UPHELD,
                        ViolationStatus.APPEALED,
                        ViolationStatus.APPEAL_UPHELD,
                    ]
                ),
                Violation.decided_on >= today - timedelta(days=90),
            )
            .group_by(Person.nationality)
        ).all()
    )
    flags_total, upheld_total = sum(flags.values()), sum(upheld.values())
    rows = []
    for code in set(people) | set(flags) | set(upheld):
        rows.append(
            DisparityRow(
                code=code,
                label=nationalities.label(code),
                people=people.get(code, 0),
                people_share=people.get(code, 0) / total if total else 0.0,
                flags=flags.get(code, 0),
                flags_share=flags.get(code, 0) / flags_total if flags_total else 0.0,
                violations=upheld.get(code, 0),
                violations_share=upheld.get(code, 0) / upheld_total if upheld_total else 0.0,
            )
        )
    return sorted(rows, key=lambda row: (-row.people, row.label))


def dashboard_figures(today: date | None = None) -> dict:
    """Everything the dashboard shows, computed now."""
    today = today or local_today()
    by_status = people_by_status()
    in_care = sum(bar.value for bar in by_status)
    nationality_rows = people_by_nationality()
    periods = monitoring.active_periods(today)
    review_count, reviews = reviews_overdue(today)
    labels, statuses, month_counts = violations_by_month(today)
    funnels = {}
    for agency in Agency:
        funnels[agency] = verification_funnel(agency, in_care, today)
    return {
        "today": today,
        "in_care": in_care,
        "by_status": by_status,
        "placements": placements_with_occupancy(),
        "by_nationality": _bars(nationality_rows, nationalities.label, limit=TOP),
        "by_ethnicity": people_by_ethnicity(),
        "funnels": funnels,
        "months": labels,
        "violation_statuses": statuses,
        "month_counts": month_counts,
        "violation_status_label": violation_status_label,
        "periods": periods,
        "checkins": monitoring.checkin_counts(),
        "absences": monitoring.open_absences(limit=10),
        "absence_count": monitoring.open_absence_count(),
        "flags": monitoring.active_flags(today),
        "review_count": review_count,
        "reviews": reviews,
        "disparity": disparity(today, nationality_rows),
        "disparity_factor": DISPARITY_FACTOR,
    }


@dataclass(frozen=True)
class RenderedFigures:
    """The figures section as HTML, and when its counts were taken."""

    html: Markup
    computed_at: datetime
    expires: float


def rendered_figures(render: Callable[[dict], str]) -> RenderedFigures:
    """``render(dashboard_figures())``, reused for DASHBOARD_CACHE_SECONDS.

    Every user who may see the figures sees the same ones, so the rendered
    section is kept per language (and day) in this process; no count on it is
    older than the setting, which is at most 60 seconds.
    """
    seconds = current_app.config["DASHBOARD_CACHE_SECONDS"]
    key = (str(get_locale() or ""), local_today())
    cache = current_app.extensions.setdefault("rudenim.dashboard", {})
    cached = cache.get(key)
    if cached is not None and cached.expires > monotonic():
        return cached
    computed_at = utcnow()
    html = Markup(render(dashboard_figures()))  # noqa: S704  (an autoescaped template's output)
    fresh = RenderedFigures(html, computed_at, monotonic() + seconds)
    if seconds > 0:
        for stale in [k for k in cache if k[1] != key[1]]:
            del cache[stale]  # yesterday's figures
        cache[key] = fresh
    return fresh
