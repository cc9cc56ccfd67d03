"""The rules of monitoring, called directly: periods, intervals, roll calls, flags."""

import ast
import inspect
import re
from datetime import timedelta

import pycountry
import pytest
from sqlalchemy import event, select, update

from rudenim.audit.context import Actor, acting_as
from rudenim.audit.models import AuditEvent
from rudenim.auth.models import User
from rudenim.cases.models import CustodyStatus, Person, Placement
from rudenim.clock import utcnow
from rudenim.errors import DomainError, IllegalTransition, PermissionDenied
from rudenim.monitoring import services
from rudenim.monitoring.models import (
    CheckIn,
    CheckInOutcome,
    FlagCategory,
    FlagStatus,
    MonitoringFlag,
    MonitoringPeriod,
)
from rudenim.reference import ETHNICITIES
from tests.monitoring.conftest import HANDLING, REASON, day, state

#: Words that would select people as a group.
GROUP_WORDS = ("nationality", "ethnic", "religion", "language", "group", "bulk")
#: Person columns the flag service must never read.
GROUP_COLUMNS = ("nationality", "claimed_ethnicity", "languages")


@pytest.fixture(autouse=True)
def english_messages(app):
    """Service messages read in English (there is no request to choose a language)."""
    app.config["BABEL_DEFAULT_LOCALE"] = "en"


def users(db, *ids) -> list[User]:
    return [db.session.get(User, user_id) for user_id in ids]


def count(db, model) -> int:
    return len(db.session.scalars(select(model)).all())


# --- periods ------------------------------------------------------------------------------------


def test_a_period_is_active_from_its_dates_alone(db, make_period):
    current = make_period(starts=0, ends=0, name="Today only")
    upcoming = make_period(starts=1, ends=5, name="Starts tomorrow")
    ended = make_period(starts=-5, ends=-1, name="Ended yesterday")

    assert [p.name for p in services.active_periods()] == ["Today only"]
    assert current.is_active_on(day(0))
    assert not upcoming.is_active_on(day(0)) and upcoming.is_active_on(day(1))
    assert not ended.is_active_on(day(0)) and ended.is_active_on(day(-1))
    # Nothing runs in between: asking about another day is enough.
    assert [p.name for p in services.active_periods(day(1))] == ["Starts tomorrow"]
    assert [p.name for p in services.active_periods(day(-3))] == ["Ended yesterday"]


def test_a_period_keeps_what_the_supervisor_entered(db, make_period, staff):
    period = make_period(starts=-2, ends=20, interval=48, kind="other", notes="Regional vote")

    assert (period.name, period.kind.value, period.checkin_interval_hours) == (
        "Pilkada 2024",
        "other",
        48,
    )
    assert (period.starts_on, period.ends_on, period.last_day()) == (day(-2), day(20), day(20))
    assert period.notes == "Regional vote"
    assert period.created_by_id == staff("supervisor")


def test_overlapping_periods_the_shortest_interval_applies(db, make_period, staff):
    long = make_period(starts=-3, ends=30, interval=72, name="Long")
    make_period(starts=-1, ends=3, interval=12, name="Short")

    intervals = services.current_intervals()
    assert intervals.period == timedelta(hours=12)
    assert intervals.for_person(CustodyStatus.COMMUNITY_HOUSING, False) == timedelta(hours=12)
    assert intervals.for_person(CustodyStatus.DETAINED, False) == timedelta(hours=12)
    # After the short one ends, the long one's interval applies again.
    assert services.current_intervals(day(4)).period == timedelta(hours=72)
    assert services.current_intervals(day(31)).period is None
    assert long.is_active_on(day(4))


def test_closing_a_period_early_ends_it_and_its_flags(db, make_period, make_person, make_flag):
    period = make_period(starts=-3, ends=10)
    person = make_person()
    flag = make_flag(person, period=period)
    supervisor = db.session.get(User, period.created_by_id)
    assert services.active_flags_for([person.id]) == {person.id: flag}

    services.close_period(period, "The election was postponed.", actor=supervisor)
    db.session.commit()

    assert period.closed_on == day(0) and period.last_day() == day(-1)
    assert services.active_periods() == []
    assert services.current_intervals().period is None
    assert services.active_flags_for([person.id]) == {}
    assert services.flag_state(flag) == "expired"
    assert flag.effective_end() == day(-1)
    # The flag stays in the person's history.
    assert services.flags_of(person) == [flag]
    assert flag.status is FlagStatus.APPROVED


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ends_on": -1}, "The period ends before it starts."),
        ({"ends_on": services.MAX_PERIOD_DAYS}, "at most 180 days"),
        ({"checkin_interval_hours": 0}, "between 1 and 720 hours"),
        ({"checkin_interval_hours": 721}, "between 1 and 720 hours"),
        ({"checkin_interval_hours": None}, "between 1 and 720 hours"),
        ({"name": "   "}, "Give the period a name."),
        ({"kind": "ethnic_unrest"}, "Choose the kind of period."),
        ({"starts_on": None}, "Give the start and end dates."),
    ],
)
def test_a_bad_period_is_refused_and_nothing_is_saved(db, staff, changes, message):
    (supervisor,) = users(db, staff("supervisor"))
    values = {
        "name": "Pilkada 2024",
        "kind": "election",
        "starts_on": 0,
        "ends_on": 10,
        "checkin_interval_hours": 24,
    }
    values.update(changes)
    for key in ("starts_on", "ends_on"):
        if values[key] is not None:
            values[key] = day(values[key])
    before = state()

    with pytest.raises(DomainError, match=re.escape(message)):
        services.create_period(**values, actor=supervisor)
    db.session.rollback()

    assert state() == before


def test_the_longest_period_is_accepted(db, staff):
    (supervisor,) = users(db, staff("supervisor"))
    period = services.create_period(
        name="Long",
        kind="other",
        starts_on=day(0),
        ends_on=day(services.MAX_PERIOD_DAYS - 1),
        checkin_interval_hours=720,
        actor=supervisor,
    )
    assert period.is_active_on(day(services.MAX_PERIOD_DAYS - 1))


def test_a_period_is_closed_only_while_active_and_with_a_reason(db, make_period, staff):
    ended = make_period(starts=-10, ends=-2)
    current = make_period(starts=-1, ends=5)
    (supervisor,) = users(db, staff("supervisor"))
    before = state()

    with pytest.raises(IllegalTransition, match="This period is not active."):
        services.close_period(ended, "Too late", actor=supervisor)
    with pytest.raises(DomainError, match="Give the reason"):
        services.close_period(current, "  ", actor=supervisor)
    db.session.rollback()

    assert state() == before


# --- check-in intervals and roll calls ----------------------------------------------------------


def test_the_base_interval_applies_to_community_housing_only(app, db):
    intervals = services.current_intervals()

    assert intervals.base == timedelta(days=30)
    assert intervals.period is None
    assert intervals.for_person(CustodyStatus.COMMUNITY_HOUSING, False) == timedelta(days=30)
    assert intervals.for_person(CustodyStatus.DETAINED, False) is None
    app.config["CHECKIN_BASE_DAYS"] = 14
    assert services.current_intervals().for_person(
        CustodyStatus.COMMUNITY_HOUSING, False
    ) == timedelta(days=14)


def test_an_active_period_or_flag_shortens_the_interval(app, db, make_period):
    make_period(interval=48)
    intervals = services.current_intervals()

    assert intervals.for_person(CustodyStatus.COMMUNITY_HOUSING, False) == timedelta(hours=48)
    assert intervals.for_person(CustodyStatus.COMMUNITY_HOUSING, True) == timedelta(hours=24)
    assert intervals.for_person(CustodyStatus.DETAINED, True) == timedelta(hours=24)
    app.config["FLAG_CHECKIN_HOURS"] = 6
    assert services.current_intervals().for_person(CustodyStatus.DETAINED, True) == timedelta(
        hours=6
    )


def _placement(db, person) -> Placement:
    return db.session.get(Placement, db.session.get(Person, person.id).placement_id)


def test_the_roll_call_lists_who_is_overdue_or_due(db, make_person, check_in):
    overdue = make_person(full_name="Amina Yusuf")  # arrived 200 days ago, never seen
    due = make_person(full_name="Bashir Karimi", arrived_on=day(-29))
    seen = make_person(full_name="Farida Osman")
    check_in(seen, at=utcnow() - timedelta(days=2))
    now = utcnow()

    rows = services.roll_call(_placement(db, overdue), now)

    assert [(row.person.full_name, row.state(now)) for row in rows] == [
        ("Amina Yusuf", "overdue"),
        ("Bashir Karimi", "due"),
        ("Farida Osman", "ok"),
    ]
    assert [row.person.id for row in rows] == [overdue.id, due.id, seen.id]
    assert rows[2].due_at == rows[2].last_checkin + timedelta(days=30)
    assert services.checkin_counts(now) == {"overdue": 1, "due": 1}


def test_after_a_check_in_the_person_is_no_longer_overdue(db, make_person, check_in):
    person = make_person()
    placement = _placement(db, person)
    assert services.roll_call(placement)[0].state(utcnow()) == "overdue"

    check_in(person, "present", note="Well; asked about the clinic.")

    row = services.roll_call(placement)[0]
    assert row.state(utcnow()) == "ok"
    assert services.checkin_counts() == {"overdue": 0, "due": 0}
    (checkin,) = services.checkins_of(person)
    assert (checkin.outcome, checkin.note) == (
        CheckInOutcome.PRESENT,
        "Well; asked about the clinic.",
    )


def test_a_flag_shortens_only_that_persons_interval(
    db, make_period, make_person, make_flag, check_in
):
    period = make_period(interval=72)
    flagged = make_person(full_name="Amina Yusuf")
    other = make_person(full_name="Bashir Karimi")
    seen = utcnow() - timedelta(hours=30)
    check_in(flagged, at=seen)
    check_in(other, at=seen)
    now = utcnow()
    states = {r.person.id: r.state(now) for r in services.roll_call(_placement(db, other), now)}
    assert states == {flagged.id: "ok", other.id: "ok"}

    flag = make_flag(flagged, period=period)

    rows = {r.person.id: r for r in services.roll_call(_placement(db, other), now)}
    assert rows[flagged.id].state(now) == "overdue"
    assert rows[flagged.id].due_at == seen + timedelta(hours=24)
    assert rows[flagged.id].flag.id == flag.id
    assert rows[flagged.id].flag.handling_instructions == HANDLING
    assert rows[other.id].state(now) == "ok" and rows[other.id].flag is None
    assert services.checkin_counts(now) == {"overdue": 1, "due": 0}


def test_detained_people_are_called_only_in_a_period_or_when_flagged(db, make_person, make_period):
    person = make_person(status="detained")
    placement = _placement(db, person)
    assert services.roll_call(placement)[0].state(utcnow()) == "not_required"
    assert services.checkin_counts() == {"overdue": 0, "due": 0}

    make_period(interval=24)

    assert services.roll_call(placement)[0].state(utcnow()) == "overdue"
    assert services.checkin_counts() == {"overdue": 1, "due": 0}


def test_a_roll_call_records_everyones_outcome_in_one_go(db, make_person, staff):
    people = [make_person() for _ in range(4)]
    (officer,) = users(db, staff("officer"))
    at = utcnow() - timedelta(hours=1)
    outcomes = ["present", "absent", "unwell", "refused"]

    created = services.record_checkins(
        [
            services.CheckInEntry(p.id, outcome, f"note {outcome}")
            for p, outcome in zip(people, outcomes, strict=True)
        ]
        + [services.CheckInEntry(people[0].id, "", "no outcome: skipped")],
        placement=_placement(db, people[0]),
        checked_at=at,
        actor=officer,
    )
    db.session.commit()

    assert [(c.person_id, c.outcome.value, c.note) for c in created] == [
        (p.id, o, f"note {o}") for p, o in zip(people, outcomes, strict=True)
    ]
    assert all(c.checked_at == at and c.recorded_by_id == officer.id for c in created)
    assert services.open_absence_count() == 1


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("future", "The time of the roll call is in the future."),
        ("released", "is not in community housing or detention; no check-in is recorded."),
        ("hospital", "is not in community housing or detention; no check-in is recorded."),
        ("unknown_outcome", "sleeping is not a check-in outcome."),
        ("nobody", "Record an outcome for at least one person."),
        ("no_such_person", "there is no such person."),
        ("before_arrival", "had not arrived then."),
    ],
)
def test_a_bad_roll_call_is_refused_whole_and_nothing_is_stored(
    db, make_person, move_person, staff, case, message
):
    good = make_person()
    other = make_person()
    (officer,) = users(db, staff("officer"))
    at = utcnow() - timedelta(minutes=5)
    entries = [services.CheckInEntry(good.id, "present")]
    if case == "future":
        at = utcnow() + timedelta(hours=2)
    elif case == "released":
        move_person(other, "released")
        entries.append(services.CheckInEntry(other.id, "absent"))
    elif case == "hospital":
        move_person(other, "hospital")
        entries.append(services.CheckInEntry(other.id, "unwell"))
    elif case == "unknown_outcome":
        entries.append(services.CheckInEntry(other.id, "sleeping"))
    elif case == "nobody":
        entries = [services.CheckInEntry(good.id, "")]
    elif case == "no_such_person":
        entries.append(services.CheckInEntry(99999, "present"))
    elif case == "before_arrival":
        at = utcnow() - timedelta(days=300)
    before = state()

    with pytest.raises(DomainError, match=re.escape(message)):
        services.record_checkins(entries, placement=None, checked_at=at, actor=officer)
    db.session.rollback()

    assert state() == before
    assert count(db, CheckIn) == 0


def test_an_absence_stays_open_until_followed_up(db, make_person, check_in, staff):
    person = make_person()
    absence = check_in(person, "absent", note="Not at the site at 09:00.")
    (officer,) = users(db, staff("officer"))
    assert services.open_absence_count() == 1
    assert services.open_absences() == [absence]

    services.follow_up_absence(absence, "Found at the clinic; back by noon.", actor=officer)
    db.session.commit()

    assert services.open_absence_count() == 0
    assert services.open_absences() == []
    assert absence.follow_up_note == "Found at the clinic; back by noon."
    assert absence.followed_up_by_id == officer.id


@pytest.mark.parametrize(
    ("outcome", "follow_twice", "note", "message"),
    [
        ("present", False, "Nothing to do.", "Only an absence is followed up."),
        ("absent", True, "Found again.", "This absence has already been followed up."),
        ("absent", False, "  ", "Say how the absence was followed up."),
    ],
)
def test_a_bad_follow_up_is_refused(
    db, make_person, check_in, staff, outcome, follow_twice, note, message
):
    person = make_person()
    checkin = check_in(person, outcome)
    (officer,) = users(db, staff("officer"))
    if follow_twice:
        services.follow_up_absence(checkin, "Found at the clinic.", actor=officer)
        db.session.commit()
    before = state()

    with pytest.raises(DomainError, match=re.escape(message)):
        services.follow_up_absence(checkin, note, actor=officer)
    db.session.rollback()

    assert state() == before


# --- flags -------------------------------------------------------------------------------------


def _propose(db, person, period, actor_id, **changes):
    values = {
        "category": "protection_concern",
        "reason": REASON,
        "handling_instructions": HANDLING,
        "ends_on": period.last_day() if period else day(5),
        "violation_id": None,
    }
    values.update(changes)
    (actor,) = users(db, actor_id)
    return services.propose_flag(
        db.session.get(Person, person.id),
        db.session.get(MonitoringPeriod, period.id) if period else None,
        actor=actor,
        **values,
    )


def test_a_proposed_flag_is_in_force_only_once_approved(db, make_period, make_person, staff):
    period = make_period(ends=10)
    person = make_person()
    flag = _propose(db, person, period, staff("officer"), ends_on=day(7))
    db.session.commit()

    assert flag.status is FlagStatus.PROPOSED
    assert services.flag_state(flag) == "proposed"
    assert services.active_flags_for([person.id]) == {}
    assert services.proposed_flags() == [flag]

    (supervisor,) = users(db, staff("supervisor"))
    services.decide_flag(flag, approve=True, note="Proportionate for a week.", actor=supervisor)
    db.session.commit()

    assert services.flag_state(flag) == "active"
    assert services.active_flags_for([person.id]) == {person.id: flag}
    assert services.active_flags() == [flag]
    assert services.proposed_flags() == []
    assert (flag.decided_by_id, flag.decided_on, flag.decision_note) == (
        supervisor.id,
        day(0),
        "Proportionate for a week.",
    )
    assert flag.effective_end() == day(7)


def test_a_rejected_flag_never_comes_into_force(db, make_period, make_person, make_flag):
    person = make_person()
    flag = make_flag(person, decision="reject")

    assert flag.status is FlagStatus.REJECTED
    assert services.flag_state(flag) == "rejected"
    assert services.active_flags_for([person.id]) == {}
    assert services.flags_of(person)[0].id == flag.id


def test_a_flag_has_no_other_effect_on_the_person(db, make_person, make_violation, make_flag):
    person = make_person()
    make_violation(person, step="decided")
    before = state()

    make_flag(person)

    after = state()
    assert after["people"] == before["people"]  # custody status, category, version …
    assert after["custody"] == before["custody"]
    assert after["violations"] == before["violations"]
    assert len(after["flags"]) == len(before["flags"]) + 1


def test_a_conduct_flag_rests_on_an_upheld_violation_of_the_same_person(
    db, make_period, make_person, make_violation, make_flag
):
    person = make_person()
    violation = make_violation(person, step="decided")

    flag = make_flag(person, category="conduct", violation=violation)

    assert flag.category is FlagCategory.CONDUCT
    assert flag.violation_id == violation.id
    assert services.flag_state(flag) == "active"


def test_the_person_told_date_is_recorded(db, make_person, make_flag, staff):
    flag = make_flag(make_person())
    (officer,) = users(db, staff("officer"))

    services.record_flag_told(flag, day(0), actor=officer)
    db.session.commit()

    assert flag.person_told_on == day(0)


def test_a_bad_told_date_is_refused(db, make_person, make_flag, staff):
    approved = make_flag(make_person())
    proposed = make_flag(make_person(), decision=None)
    (officer,) = users(db, staff("officer"))
    before = state()

    with pytest.raises(DomainError, match="in the future"):
        services.record_flag_told(approved, day(1), actor=officer)
    with pytest.raises(DomainError, match="before the flag was approved"):
        services.record_flag_told(approved, day(-1), actor=officer)
    with pytest.raises(IllegalTransition, match="once the flag is approved"):
        services.record_flag_told(proposed, day(0), actor=officer)
    db.session.rollback()

    assert state() == before


def test_a_supervisor_lifts_a_flag_early_and_it_stays_in_history(db, make_person, make_flag, staff):
    person = make_person()
    flag = make_flag(person)
    (supervisor,) = users(db, staff("supervisor2"))

    services.lift_flag(flag, "The threats have stopped; the person feels safe.", actor=supervisor)
    db.session.commit()

    assert flag.status is FlagStatus.LIFTED
    assert services.flag_state(flag) == "lifted"
    assert (flag.lifted_by_id, flag.lifted_on) == (supervisor.id, day(0))
    assert flag.lift_reason == "The threats have stopped; the person feels safe."
    assert services.active_flags_for([person.id]) == {}
    assert services.flags_of(person) == [flag]


def test_lifting_needs_a_reason_and_a_flag_in_force(db, make_person, make_flag, staff):
    active = make_flag(make_person())
    rejected = make_flag(make_person(), decision="reject")
    (supervisor,) = users(db, staff("supervisor"))
    before = state()

    with pytest.raises(DomainError, match="Give the reason for lifting the flag."):
        services.lift_flag(active, " ", actor=supervisor)
    with pytest.raises(IllegalTransition, match="Only a flag in force can be lifted."):
        services.lift_flag(rejected, "No longer needed here.", actor=supervisor)
    with pytest.raises(IllegalTransition, match="Only a flag in force can be lifted."):
        services.lift_flag(active, "Long after its end.", actor=supervisor, today=day(30))
    db.session.rollback()

    assert state() == before


def test_a_flag_ends_by_itself_at_its_end_date(db, make_period, make_person, make_flag):
    period = make_period(ends=10)
    person = make_person()
    flag = make_flag(person, period=period, ends_on=day(4))

    assert services.flag_state(flag, day(4)) == "active"
    assert services.active_flags_for([person.id], day(4)) == {person.id: flag}
    assert services.flag_state(flag, day(5)) == "expired"
    assert services.active_flags_for([person.id], day(5)) == {}
    assert services.active_flags(day(5)) == []
    assert services.current_intervals(day(5)).for_person(
        CustodyStatus.COMMUNITY_HOUSING, False
    ) == timedelta(hours=24)
    # Expired, it stays in the person's history, still "approved".
    assert services.flags_of(person) == [flag]
    assert flag.status is FlagStatus.APPROVED


def test_a_flag_and_its_period_in_the_past_are_over_without_any_job(
    db, make_period, make_person, make_flag, check_in
):
    period = make_period(ends=10)
    person = make_person()
    check_in(person, at=utcnow() - timedelta(hours=30))
    flag = make_flag(person, period=period)
    assert services.checkin_counts() == {"overdue": 1, "due": 0}

    db.session.execute(
        update(MonitoringPeriod)
        .where(MonitoringPeriod.id == period.id)
        .values(starts_on=day(-40), ends_on=day(-20))
    )
    db.session.execute(
        update(MonitoringFlag)
        .where(MonitoringFlag.id == flag.id)
        .values(decided_on=day(-30), ends_on=day(-20))
    )
    db.session.commit()
    db.session.expire_all()

    assert services.active_periods() == []
    assert services.active_flags() == []
    assert services.flag_state(flag) == "expired"
    assert services.checkin_counts() == {"overdue": 0, "due": 0}
    assert [f.id for f in services.flags_of(person)] == [flag.id]


def test_a_flag_capped_by_its_period_ends_with_it(db, make_period, make_person, make_flag):
    period = make_period(ends=10)
    flag = make_flag(make_person(), period=period)

    assert flag.effective_end() == day(10)
    assert services.flag_state(flag, day(10)) == "active"
    assert services.flag_state(flag, day(11)) == "expired"


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("no_period", "A flag is raised only within an active monitoring period."),
        ("upcoming_period", "A flag is raised only within an active monitoring period."),
        ("ended_period", "A flag is raised only within an active monitoring period."),
        ("after_period", "A flag ends no later than its period"),
        ("end_in_past", "The end date is missing or in the past."),
        ("no_end", "The end date is missing or in the past."),
        ("conduct_without_violation", "must cite an upheld violation of this same person"),
        ("conduct_other_persons_violation", "must cite an upheld violation of this same person"),
        ("conduct_dismissed_violation", "must cite an upheld violation of this same person"),
        ("conduct_undecided_violation", "must cite an upheld violation of this same person"),
        ("violation_on_other_category", "Only a conduct flag cites a violation."),
        ("empty_reason", "at least a full sentence"),
        ("one_word_reason", "at least a full sentence"),
        ("three_word_reason", "at least a full sentence"),
        ("no_handling", "Write short handling instructions for staff."),
        ("unknown_category", "Choose a category."),
        ("released_person", "no longer in the centre's care"),
        ("duplicate", "already has a proposed or active flag of this category"),
    ],
)
def test_a_bad_flag_is_refused_and_nothing_changes(
    db, make_period, make_person, make_violation, move_person, make_flag, staff, case, message
):
    period = make_period(starts=-1, ends=10)
    person = make_person()
    stranger = make_person()
    officer_id = staff("officer")
    changes = {}
    if case == "no_period":
        period = None
    elif case == "upcoming_period":
        period = make_period(starts=1, ends=5, name="Next week")
    elif case == "ended_period":
        period = make_period(starts=-9, ends=-1, name="Last week")
    elif case == "after_period":
        changes["ends_on"] = day(11)
    elif case == "end_in_past":
        changes["ends_on"] = day(-1)
    elif case == "no_end":
        changes["ends_on"] = None
    elif case.startswith("conduct"):
        changes["category"] = "conduct"
        if case == "conduct_other_persons_violation":
            changes["violation_id"] = make_violation(stranger, step="decided").id
        elif case == "conduct_dismissed_violation":
            violation = make_violation(person, step="decided", outcome="dismissed")
            changes["violation_id"] = violation.id
        elif case == "conduct_undecided_violation":
            changes["violation_id"] = make_violation(person, step="statement").id
    elif case == "violation_on_other_category":
        changes["violation_id"] = make_violation(person, step="decided").id
    elif case == "empty_reason":
        changes["reason"] = "   "
    elif case == "one_word_reason":
        changes["reason"] = "Troublemaker."
    elif case == "three_word_reason":
        changes["reason"] = "Seems very suspicious"
    elif case == "no_handling":
        changes["handling_instructions"] = ""
    elif case == "unknown_category":
        changes["category"] = "rohingya"
    elif case == "released_person":
        move_person(person, "released")
    elif case == "duplicate":
        make_flag(person, period=period, decision=None)
    before = state()

    with pytest.raises(DomainError, match=re.escape(message)):
        _propose(db, person, period, officer_id, **changes)
    db.session.rollback()

    assert state() == before


def test_the_proposer_cannot_approve_their_own_flag(db, make_period, make_person, staff):
    period = make_period()
    supervisor_id = staff("supervisor")
    flag = _propose(db, make_person(), period, supervisor_id)
    db.session.commit()
    before = state()

    with pytest.raises(PermissionDenied, match="You proposed this flag."):
        services.decide_flag(flag, approve=True, note="Fine.", actor=users(db, supervisor_id)[0])
    db.session.rollback()

    assert state() == before
    assert services.flag_state(flag) == "proposed"


@pytest.mark.parametrize(
    ("first", "then", "message"),
    [
        ("reject", True, "This flag is Rejected; only a proposed flag is decided."),
        ("reject", False, "This flag is Rejected; only a proposed flag is decided."),
        ("approve", True, "This flag is Approved; only a proposed flag is decided."),
    ],
)
def test_a_decided_flag_is_not_decided_again(
    db, make_person, make_flag, staff, first, then, message
):
    flag = make_flag(make_person(), decision=first)
    (other,) = users(db, staff("supervisor2"))
    before = state()

    with pytest.raises(IllegalTransition, match=re.escape(message)):
        services.decide_flag(flag, approve=then, note="Second thoughts.", actor=other)
    db.session.rollback()

    assert state() == before


def test_a_decision_needs_a_note_and_a_live_period(db, make_period, make_person, make_flag, staff):
    flag = make_flag(make_person(), decision=None)
    (supervisor,) = users(db, staff("supervisor"))
    before = state()

    with pytest.raises(DomainError, match="Write a note on the decision."):
        services.decide_flag(flag, approve=True, note=" ", actor=supervisor)
    with pytest.raises(IllegalTransition, match="it can only be rejected"):
        services.decide_flag(flag, approve=True, note="Late.", actor=supervisor, today=day(11))
    db.session.rollback()
    assert state() == before

    # Once over, it can still be rejected, so it leaves the queue.
    services.decide_flag(flag, approve=False, note="Too late.", actor=supervisor, today=day(11))
    assert flag.status is FlagStatus.REJECTED


# --- no group targeting --------------------------------------------------------------------------


def test_flag_categories_name_no_group():
    values = {category.value for category in FlagCategory}
    assert values == {"conduct", "absconding_risk", "protection_concern", "medical", "other"}
    groups = {c.name.lower() for c in pycountry.countries} | {e.lower() for e in ETHNICITIES}
    groups |= {getattr(c, "official_name", c.name).lower() for c in pycountry.countries}
    for value in values:
        words = set(value.split("_"))
        assert not any(word in value for word in GROUP_WORDS)
        assert not words & groups, value


def test_the_monitoring_service_never_reads_group_fields():
    """Source check: no attribute or column of these names is used in the service."""
    tree = ast.parse(inspect.getsource(services))
    read = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    strings = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    for column in GROUP_COLUMNS:
        assert column not in read | names
        assert not any(re.search(rf"\b{column}\b", text) for text in strings if "\n" not in text)
    for function in (
        services.propose_flag,
        services.decide_flag,
        services.lift_flag,
        services.record_flag_told,
        services.active_flags_for,
    ):
        source = inspect.getsource(function)
        assert not any(word in source for word in ("national", "ethnic", "language", "religion"))


def test_flagging_does_not_load_group_fields(app, db, make_period, make_person, staff):
    """At run time: proposing, deciding, telling and lifting read no group column."""
    period = make_period()
    person = make_person()
    officer, supervisor, other = users(
        db, staff("officer"), staff("supervisor"), staff("supervisor2")
    )
    person = db.session.get(Person, person.id)
    period = db.session.get(MonitoringPeriod, period.id)
    # Unload the group columns: reading one now would go to the database.
    db.session.expire(person, list(GROUP_COLUMNS))
    statements = []

    def _record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", _record)
    try:
        flag = services.propose_flag(
            person,
            period,
            category="absconding_risk",
            reason=REASON,
            handling_instructions=HANDLING,
            ends_on=period.last_day(),
            actor=officer,
        )
        services.decide_flag(flag, approve=True, note="Agreed.", actor=supervisor)
        services.record_flag_told(flag, day(0), actor=officer)
        services.lift_flag(flag, "The risk has passed after talking.", actor=other)
        services.active_flags_for([person.id])
        db.session.flush()
    finally:
        event.remove(db.engine, "before_cursor_execute", _record)

    assert statements, "the listener saw nothing"
    for statement in statements:
        lowered = statement.lower()
        assert not any(column in lowered for column in GROUP_COLUMNS), statement
    assert "nationality" not in person.__dict__
    assert "claimed_ethnicity" not in person.__dict__


# --- the audit trail ----------------------------------------------------------------------------


def test_periods_flags_and_check_ins_are_audited(
    db, make_period, make_person, make_flag, check_in, staff
):
    period = make_period()
    person = make_person()
    flag = make_flag(person, period=period)
    (lifter,) = users(db, staff("supervisor2"))
    with acting_as(Actor(lifter.id, lifter.username)):
        services.lift_flag(flag, "No longer needed after the talk.", actor=lifter)
    db.session.commit()
    checkin = check_in(person, "absent")

    def events(object_type):
        return db.session.scalars(
            select(AuditEvent).where(AuditEvent.object_type == object_type).order_by(AuditEvent.id)
        ).all()

    (created,) = events("MonitoringPeriod")
    assert (created.action, created.object_id, created.actor_id) == (
        "create",
        str(period.id),
        staff("supervisor"),
    )
    assert '"Pilkada 2024"' in created.changes

    flag_events = events("MonitoringFlag")
    assert [e.action for e in flag_events] == ["create", "update", "update"]
    assert {(e.subject_type, e.subject_id) for e in flag_events} == {("Person", str(person.id))}
    assert [e.actor_id for e in flag_events] == [
        staff("officer"),
        staff("supervisor"),
        staff("supervisor2"),
    ]
    assert '"approved"' in flag_events[1].changes and '"lifted"' in flag_events[2].changes

    (checkin_event,) = events("CheckIn")
    assert (checkin_event.action, checkin_event.object_id) == ("create", str(checkin.id))
    assert (checkin_event.subject_type, checkin_event.subject_id) == ("Person", str(person.id))
    assert '"absent"' in checkin_event.changes
