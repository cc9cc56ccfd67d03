"""Monitoring periods, roll calls and flags: the rules.

No group targeting: nothing here reads nationality, ethnicity, religion or
language. A flag names one person, has a category that never names a group
and a written reason, needs a second person's approval, and ends by itself.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import pgettext
from sqlalchemy import and_, bindparam, case, func, or_, select
from sqlalchemy.orm import contains_eager, joinedload

from rudenim.audit.capture import lock_chain
from rudenim.cases.models import CustodyStatus, Person, Placement
from rudenim.clock import as_utc, centre_zone, local_today, utcnow
from rudenim.conduct.models import Violation, ViolationStatus
from rudenim.errors import DomainError, IllegalTransition, NotFound, PermissionDenied
from rudenim.extensions import built_once, db
from rudenim.i18n import labels_per_locale
from rudenim.monitoring.models import (
    CheckIn,
    CheckInOutcome,
    FlagCategory,
    FlagStatus,
    MonitoringFlag,
    MonitoringPeriod,
    PeriodKind,
)

MAX_PERIOD_DAYS = 180
#: Custody statuses whose people are called at roll calls.
ROLL_CALL_STATUSES = (CustodyStatus.COMMUNITY_HOUSING, CustodyStatus.DETAINED)
UPHELD = (ViolationStatus.UPHELD, ViolationStatus.APPEALED, ViolationStatus.APPEAL_UPHELD)


def _clean(text: str | None) -> str:
    return (text or "").strip()


@labels_per_locale
def _period_kind_labels() -> dict:
    return {PeriodKind.ELECTION: _("Election"), PeriodKind.OTHER: _("Other")}


def period_kind_label(kind) -> str:
    return _period_kind_labels()[kind]


@labels_per_locale
def _outcome_labels() -> dict:
    return {
        CheckInOutcome.PRESENT: _("Present"),
        CheckInOutcome.ABSENT: _("Absent"),
        CheckInOutcome.UNWELL: _("Unwell"),
        CheckInOutcome.REFUSED: pgettext("check-in outcome", "Refused"),
    }


def outcome_label(outcome) -> str:
    return _outcome_labels()[outcome]


@labels_per_locale
def _category_labels() -> dict:
    return {
        FlagCategory.CONDUCT: _("Conduct (an upheld violation)"),
        FlagCategory.ABSCONDING_RISK: _("Absconding risk"),
        FlagCategory.PROTECTION_CONCERN: _("Protection concern: the person is at risk"),
        FlagCategory.MEDICAL: _("Medical"),
        FlagCategory.OTHER: _("Other"),
    }


def category_label(category) -> str:
    return _category_labels()[category]


@labels_per_locale
def _flag_status_labels() -> dict:
    return {
        FlagStatus.PROPOSED: _("Proposed"),
        FlagStatus.APPROVED: _("Approved"),
        FlagStatus.REJECTED: _("Rejected"),
        FlagStatus.LIFTED: _("Lifted"),
    }


def flag_status_label(status) -> str:
    return _flag_status_labels()[status]


# --- periods -----------------------------------------------------------------------------


def create_period(
    *,
    name: str,
    kind: str,
    starts_on: date | None,
    ends_on: date | None,
    checkin_interval_hours: int | None,
    notes: str = "",
    actor,
) -> MonitoringPeriod:
    """Open a monitoring period: dates, and how often check-ins happen while it runs."""
    name = _clean(name)
    if not name:
        raise DomainError(_("Give the period a name."), field="name")
    try:
        kind = PeriodKind(kind)
    except ValueError:
        raise DomainError(_("Choose the kind of period."), field="kind") from None
    if starts_on is None or ends_on is None:
        raise DomainError(_("Give the start and end dates."), field="starts_on")
    if ends_on < starts_on:
        raise DomainError(_("The period ends before it starts."), field="ends_on")
    if (ends_on - starts_on).days + 1 > MAX_PERIOD_DAYS:
        raise DomainError(
            _("A monitoring period lasts at most %(n)d days.", n=MAX_PERIOD_DAYS), field="ends_on"
        )
    base_hours = current_app.config["CHECKIN_BASE_DAYS"] * 24
    if checkin_interval_hours is None or not 1 <= checkin_interval_hours <= base_hours:
        raise DomainError(
            _("The check-in interval is between 1 and %(n)d hours.", n=base_hours),
            field="checkin_interval_hours",
        )
    lock_chain(db.session)
    period = MonitoringPeriod(
        name=name[:120],
        kind=kind,
        starts_on=starts_on,
        ends_on=ends_on,
        checkin_interval_hours=checkin_interval_hours,
        notes=_clean(notes),
        created_by_id=actor.id,
    )
    db.session.add(period)
    db.session.flush()
    return period


def close_period(period: MonitoringPeriod, reason: str, *, actor, today=None) -> MonitoringPeriod:
    """End an active period today; its flags end with it."""
    today = today or local_today()
    if not period.is_active_on(today) and period.starts_on <= today:
        raise IllegalTransition(_("This period is not active."))
    if not _clean(reason):
        raise DomainError(_("Give the reason for closing the period early."), field="reason")
    lock_chain(db.session)
    period.closed_on = max(today, period.starts_on)
    period.closed_reason = _clean(reason)
    db.session.flush()
    return period


def active_periods(day: date | None = None) -> list[MonitoringPeriod]:
    """The periods in force on ``day`` (computed from dates alone)."""
    rows = db.session.scalars(_periods_in_force_statement(), {"day": day or local_today()})
    return list(rows)


@built_once
def _periods_in_force_statement():
    """Read on every page, for the banner."""
    day = bindparam("day")
    return (
        select(MonitoringPeriod)
        .where(
            MonitoringPeriod.starts_on <= day,
            MonitoringPeriod.ends_on >= day,
            or_(MonitoringPeriod.closed_on.is_(None), MonitoringPeriod.closed_on > day),
        )
        .order_by(MonitoringPeriod.checkin_interval_hours, MonitoringPeriod.id)
    )


def get_period(period_id: int) -> MonitoringPeriod:
    period = db.session.get(MonitoringPeriod, period_id)
    if period is None:
        raise NotFound(_("There is no such monitoring period."))
    return period


# --- check-in intervals --------------------------------------------------------------------


@dataclass(frozen=True)
class Intervals:
    """How often people must be checked in right now, by situation."""

    base: timedelta
    period: timedelta | None
    flag: timedelta

    def for_person(self, status: CustodyStatus, flagged: bool) -> timedelta | None:
        """The shortest interval that applies; None when no check-in is required."""
        options = []
        if status is CustodyStatus.COMMUNITY_HOUSING:
            options.append(self.base)
        if self.period is not None:
            options.append(self.period)
        if flagged:
            options.append(self.flag)
        return min(options) if options else None


def current_intervals(day: date | None = None) -> Intervals:
    """The base interval, the shortest active period's, and the flag interval."""
    periods = active_periods(day)
    config = current_app.config
    return Intervals(
        base=timedelta(days=config["CHECKIN_BASE_DAYS"]),
        period=(
            timedelta(hours=min(p.checkin_interval_hours for p in periods)) if periods else None
        ),
        flag=timedelta(hours=config["FLAG_CHECKIN_HOURS"]),
    )


def _active_flag_condition(day: date):
    return and_(
        MonitoringFlag.status == FlagStatus.APPROVED,
        MonitoringFlag.decided_on <= day,
        MonitoringFlag.ends_on >= day,
        MonitoringPeriod.id == MonitoringFlag.period_id,
        MonitoringPeriod.ends_on >= day,
        or_(MonitoringPeriod.closed_on.is_(None), MonitoringPeriod.closed_on > day),
    )


def active_flags_for(person_ids: list[int], day: date | None = None) -> dict[int, MonitoringFlag]:
    """The flag in force for each of these people, if any."""
    day = day or local_today()
    if not person_ids:
        return {}
    rows = db.session.scalars(
        select(MonitoringFlag)
        .join(MonitoringPeriod, MonitoringPeriod.id == MonitoringFlag.period_id)
        .where(MonitoringFlag.person_id.in_(person_ids), _active_flag_condition(day))
        .options(contains_eager(MonitoringFlag.period))
        .order_by(MonitoringFlag.decided_on)
    )
    return {flag.person_id: flag for flag in rows}


#: What lists of flags show for each (so a longer list costs no more queries).
_FLAG_LIST_OPTIONS = (
    joinedload(MonitoringFlag.person),
    joinedload(MonitoringFlag.period),
    joinedload(MonitoringFlag.proposed_by),
)


def active_flags(day: date | None = None) -> list[MonitoringFlag]:
    """Every flag in force, with its person."""
    day = day or local_today()
    return list(
        db.session.scalars(
            select(MonitoringFlag)
            .join(MonitoringPeriod, MonitoringPeriod.id == MonitoringFlag.period_id)
            .where(_active_flag_condition(day))
            .options(*_FLAG_LIST_OPTIONS)
            .order_by(MonitoringFlag.ends_on)
        )
    )


def _last_checkins(person_ids: list[int]) -> dict[int, datetime]:
    if not person_ids:
        return {}
    rows = db.session.execute(
        select(CheckIn.person_id, func.max(CheckIn.checked_at))
        .where(CheckIn.person_id.in_(person_ids))
        .group_by(CheckIn.person_id)
    )
    return {person_id: as_utc(at) for person_id, at in rows}


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=centre_zone())


@dataclass
class RollCallRow:
    person: Person
    last_checkin: datetime | None
    due_at: datetime | None
    flag: MonitoringFlag | None

    def state(self, now: datetime) -> str:
        """overdue, due (within a day), ok, or not_required."""
        if self.due_at is None:
            return "not_required"
        if self.due_at <= now:
            return "overdue"
        if self.due_at <= now + timedelta(days=1):
            return "due"
        return "ok"


def roll_call(placement: Placement, now: datetime | None = None) -> list[RollCallRow]:
    """Everyone placed here, with their last check-in and when the next is due."""
    now = now or utcnow()
    today = now.astimezone(centre_zone()).date()
    people = list(
        db.session.scalars(
            select(Person)
            .where(
                Person.placement_id == placement.id,
                Person.is_in_care.is_(True),
                Person.custody_status.in_(ROLL_CALL_STATUSES),
            )
            .order_by(Person.full_name, Person.id)
        )
    )
    ids = [person.id for person in people]
    last = _last_checkins(ids)
    flags = active_flags_for(ids, today)
    intervals = current_intervals(today)
    rows = []
    for person in people:
        interval = intervals.for_person(person.custody_status, person.id in flags)
        since = last.get(person.id) or _start_of(person.status_since)
        rows.append(
            RollCallRow(
                person=person,
                last_checkin=last.get(person.id),
                due_at=since + interval if interval else None,
                flag=flags.get(person.id),
            )
        )
    order = {"overdue": 0, "due": 1, "ok": 2, "not_required": 3}
    rows.sort(key=lambda row: (order[row.state(now)], row.due_at or now, row.person.full_name))
    return rows


@dataclass
class CheckInEntry:
    person_id: int
    outcome: str
    note: str = ""


def record_checkins(
    entries: list[CheckInEntry],
    *,
    placement: Placement | None,
    checked_at: datetime | None,
    actor,
    now: datetime | None = None,
) -> list[CheckIn]:
    """Record a roll call in one go; a single bad entry refuses the whole submission."""
    now = now or utcnow()
    checked_at = as_utc(checked_at) if checked_at else now
    if checked_at > now + timedelta(minutes=1):
        raise DomainError(_("The time of the roll call is in the future."), field="checked_at")
    entries = [entry for entry in entries if entry.outcome]
    if not entries:
        raise DomainError(_("Record an outcome for at least one person."))
    people = {
        person.id: person
        for person in db.session.scalars(
            select(Person).where(Person.id.in_([e.person_id for e in entries]))
        )
    }
    problems = []
    for entry in entries:
        person = people.get(entry.person_id)
        if person is None:
            problems.append(_("#%(id)s: there is no such person.", id=entry.person_id))
            continue
        if person.custody_status not in ROLL_CALL_STATUSES or not person.is_in_care:
            problems.append(
                _(
                    "%(case)s is not in community housing or detention; no check-in is recorded.",
                    case=person.case_number,
                )
            )
        try:
            CheckInOutcome(entry.outcome)
        except ValueError:
            problems.append(_("%(value)s is not a check-in outcome.", value=entry.outcome))
        if checked_at.astimezone(centre_zone()).date() < person.arrived_on:
            problems.append(_("%(case)s had not arrived then.", case=person.case_number))
    if problems:
        raise DomainError(" ".join(problems))
    lock_chain(db.session)
    created = []
    for entry in entries:
        person = people[entry.person_id]
        checkin = CheckIn(
            person_id=person.id,
            placement_id=placement.id if placement else person.placement_id,
            checked_at=checked_at,
            outcome=CheckInOutcome(entry.outcome),
            note=_clean(entry.note)[:2000],
            recorded_by_id=actor.id,
        )
        db.session.add(checkin)
        created.append(checkin)
    db.session.flush()
    return created


def follow_up_absence(checkin: CheckIn, note: str, *, actor) -> CheckIn:
    """Record what was done about an absence; it then leaves the dashboard."""
    if checkin.outcome is not CheckInOutcome.ABSENT:
        raise IllegalTransition(_("Only an absence is followed up."))
    if checkin.followed_up_at is not None:
        raise IllegalTransition(_("This absence has already been followed up."))
    if not _clean(note):
        raise DomainError(_("Say how the absence was followed up."), field="note")
    lock_chain(db.session)
    checkin.followed_up_at = utcnow()
    checkin.followed_up_by_id = actor.id
    checkin.follow_up_note = _clean(note)
    db.session.flush()
    return checkin


def open_absences(limit: int = 50) -> list[CheckIn]:
    """Absences nobody has followed up yet, oldest first."""
    return list(
        db.session.scalars(
            select(CheckIn)
            .where(CheckIn.outcome == CheckInOutcome.ABSENT, CheckIn.followed_up_at.is_(None))
            .options(joinedload(CheckIn.person), joinedload(CheckIn.placement))
            .order_by(CheckIn.checked_at)
            .limit(limit)
        )
    )


def open_absence_count() -> int:
    """How many absences nobody has followed up yet."""
    return db.session.scalar(
        select(func.count()).where(
            CheckIn.outcome == CheckInOutcome.ABSENT, CheckIn.followed_up_at.is_(None)
        )
    )


def checkins_of(person: Person, limit: int = 50) -> list[CheckIn]:
    return list(db.session.scalars(_checkins_statement(limit), {"person_id": person.id}))


@built_once
def _checkins_statement(limit: int):
    return (
        select(CheckIn)
        .where(CheckIn.person_id == bindparam("person_id"))
        .options(joinedload(CheckIn.recorded_by))
        .order_by(CheckIn.checked_at.desc())
        .limit(limit)
    )


def checkin_counts(now: datetime | None = None) -> dict[str, int]:
    """People overdue and due within a day, across all placements (for the dashboard)."""
    now = now or utcnow()
    today = now.astimezone(centre_zone()).date()
    intervals = current_intervals(today)
    last = (
        select(CheckIn.person_id, func.max(CheckIn.checked_at).label("last_at"))
        .group_by(CheckIn.person_id)
        .subquery()
    )
    flagged = (
        select(MonitoringFlag.person_id)
        .join(MonitoringPeriod, MonitoringPeriod.id == MonitoringFlag.period_id)
        .where(_active_flag_condition(today))
    )
    counts = {"overdue": 0, "due": 0}
    for status in ROLL_CALL_STATUSES:
        for is_flagged in (False, True):
            interval = intervals.for_person(status, is_flagged)
            if interval is None:
                continue
            membership = Person.id.in_(flagged) if is_flagged else Person.id.not_in(flagged)
            overdue_cut = now - interval
            due_cut = overdue_cut + timedelta(days=1)

            def late(cutoff):
                # The roll call's rule: late once (last check-in, or the start of the
                # status's first day) + interval <= now, i.e. that moment <= cutoff.
                start = cutoff.astimezone(centre_zone()).date()
                return or_(
                    last.c.last_at <= cutoff,
                    and_(last.c.last_at.is_(None), Person.status_since <= start),
                )

            overdue, due = db.session.execute(
                select(
                    func.coalesce(func.sum(case((late(overdue_cut), 1), else_=0)), 0),
                    func.coalesce(func.sum(case((late(due_cut), 1), else_=0)), 0),
                )
                .select_from(Person)
                .outerjoin(last, last.c.person_id == Person.id)
                .where(Person.is_in_care.is_(True), Person.custody_status == status, membership)
            ).one()
            counts["overdue"] += overdue
            counts["due"] += due - overdue
    return counts


# --- flags -----------------------------------------------------------------------------------


def _is_a_sentence(text: str) -> bool:
    return len(text) >= 20 and len(text.split()) >= 4


def propose_flag(
    person: Person,
    period: MonitoringPeriod | None,
    *,
    category: str,
    reason: str,
    handling_instructions: str,
    ends_on: date | None,
    violation_id: int | None = None,
    actor,
    today: date | None = None,
) -> MonitoringFlag:
    """Propose closer attention to ONE person in one active period, for a stated reason."""
    today = today or local_today()
    if period is None or not period.is_active_on(today):
        raise DomainError(
            _("A flag is raised only within an active monitoring period."), field="period_id"
        )
    if not person.is_in_care:
        raise DomainError(_("This person is no longer in the centre's care."))
    try:
        category = FlagCategory(category)
    except ValueError:
        raise DomainError(_("Choose a category."), field="category") from None
    reason = _clean(reason)
    if not _is_a_sentence(reason):
        raise DomainError(
            _("Write the reason in at least a full sentence (four words or more)."),
            field="reason",
        )
    handling = _clean(handling_instructions)
    if not handling:
        raise DomainError(
            _("Write short handling instructions for staff."), field="handling_instructions"
        )
    if ends_on is None or ends_on < today:
        raise DomainError(_("The end date is missing or in the past."), field="ends_on")
    if ends_on > period.last_day():
        raise DomainError(
            _("A flag ends no later than its period (%(date)s).", date=period.last_day()),
            field="ends_on",
        )
    violation = None
    if category is FlagCategory.CONDUCT:
        violation = db.session.get(Violation, violation_id) if violation_id else None
        if violation is None or violation.person_id != person.id or violation.status not in UPHELD:
            raise DomainError(
                _("A conduct flag must cite an upheld violation of this same person."),
                field="violation_id",
            )
    elif violation_id:
        raise DomainError(_("Only a conduct flag cites a violation."), field="violation_id")
    duplicate = db.session.scalar(
        select(MonitoringFlag.id).where(
            MonitoringFlag.person_id == person.id,
            MonitoringFlag.period_id == period.id,
            MonitoringFlag.category == category,
            MonitoringFlag.status.in_([FlagStatus.PROPOSED, FlagStatus.APPROVED]),
            MonitoringFlag.ends_on >= today,
        )
    )
    if duplicate:
        raise DomainError(_("This person already has a proposed or active flag of this category."))
    lock_chain(db.session)
    flag = MonitoringFlag(
        person_id=person.id,
        period_id=period.id,
        category=category,
        violation_id=violation.id if violation else None,
        reason=reason,
        handling_instructions=handling[:1000],
        ends_on=ends_on,
        status=FlagStatus.PROPOSED,
        proposed_by_id=actor.id,
    )
    db.session.add(flag)
    db.session.flush()
    return flag


def get_flag(flag_id: int) -> MonitoringFlag:
    flag = db.session.get(MonitoringFlag, flag_id)
    if flag is None:
        raise NotFound(_("There is no such flag."))
    return flag


def decide_flag(
    flag: MonitoringFlag, *, approve: bool, note: str, actor, today: date | None = None
) -> MonitoringFlag:
    """A supervisor other than the proposer approves or rejects, with a note."""
    today = today or local_today()
    if flag.status is not FlagStatus.PROPOSED:
        raise IllegalTransition(
            _("This flag is %(status)s; only a proposed flag is decided.",
              status=flag_status_label(flag.status))
        )  # fmt: skip
    if flag.proposed_by_id == actor.id:
        raise PermissionDenied(_("You proposed this flag. Another supervisor must decide it."))
    if not _clean(note):
        raise DomainError(_("Write a note on the decision."), field="note")
    if approve and not flag.person.is_in_care:
        raise IllegalTransition(_("This person is no longer in the centre's care."))
    if approve and (not flag.period.is_active_on(today) or flag.effective_end() < today):
        raise IllegalTransition(
            _("The flag's period or end date has passed; it can only be rejected.")
        )
    lock_chain(db.session)
    flag.status = FlagStatus.APPROVED if approve else FlagStatus.REJECTED
    flag.decided_by_id = actor.id
    flag.decided_at = utcnow()
    flag.decided_on = today
    flag.decision_note = _clean(note)
    db.session.flush()
    return flag


def lift_flag(flag: MonitoringFlag, reason: str, *, actor, today: date | None = None):
    """A supervisor ends a flag early, with a reason; it stays in history."""
    today = today or local_today()
    if not flag.is_active_on(today):
        raise IllegalTransition(_("Only a flag in force can be lifted."))
    if not _clean(reason):
        raise DomainError(_("Give the reason for lifting the flag."), field="reason")
    lock_chain(db.session)
    flag.status = FlagStatus.LIFTED
    flag.lifted_by_id = actor.id
    flag.lifted_at = utcnow()
    flag.lifted_on = today
    flag.lift_reason = _clean(reason)
    db.session.flush()
    return flag


def record_flag_told(flag: MonitoringFlag, told_on: date | None, *, actor, today=None):
    """Record when the person was told of the flag."""
    today = today or local_today()
    if flag.status not in (FlagStatus.APPROVED, FlagStatus.LIFTED):
        raise IllegalTransition(_("The person is told once the flag is approved."))
    if told_on is None or told_on > today:
        raise DomainError(_("The date is missing or in the future."), field="told_on")
    if told_on < flag.decided_on:
        raise DomainError(_("The date is before the flag was approved."), field="told_on")
    lock_chain(db.session)
    flag.person_told_on = told_on
    db.session.flush()
    return flag


def flags_of(person: Person) -> list[MonitoringFlag]:
    """All of a person's flags, newest first (expired and lifted ones stay)."""
    return list(db.session.scalars(_flags_of_statement(), {"person_id": person.id}))


@built_once
def _flags_of_statement():
    return (
        select(MonitoringFlag)
        .where(MonitoringFlag.person_id == bindparam("person_id"))
        .options(joinedload(MonitoringFlag.period))
        .order_by(MonitoringFlag.proposed_at.desc())
    )


def proposed_flags() -> list[MonitoringFlag]:
    """Flags awaiting a supervisor's decision, oldest first."""
    return list(
        db.session.scalars(
            select(MonitoringFlag)
            .where(MonitoringFlag.status == FlagStatus.PROPOSED)
            .options(*_FLAG_LIST_OPTIONS)
            .order_by(MonitoringFlag.proposed_at)
        )
    )


def flag_state(flag: MonitoringFlag, today: date | None = None) -> str:
    """proposed, active, rejected, lifted or expired."""
    today = today or local_today()
    if flag.status is FlagStatus.APPROVED:
        return "active" if flag.is_active_on(today) else "expired"
    return flag.status.value
