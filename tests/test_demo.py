"""The demo data (``flask demo load``): the per-person averages issue 8 asks for,
and records that keep the app's own rules.

One load of 2,000 people through the command, as a user runs it (in four
batches), is shared by this module's tests; they only read it.
"""

from collections import defaultdict
from itertools import pairwise

import pytest
from sqlalchemy import func, select

from rudenim import demo as demo_module
from rudenim import models  # noqa: F401  (every mapper, before any of them is used)
from rudenim.cases.models import (
    LEFT_CARE,
    VERIFICATION_STEPS,
    Agency,
    Alias,
    CustodyEvent,
    CustodyStatus,
    LegalCategory,
    Person,
    Placement,
    VerificationEvent,
    VerificationStatus,
    VerificationTrack,
)
from rudenim.cases.verification import PROTECTED_BY_UNHCR
from rudenim.clock import local_today, to_local
from rudenim.conduct.models import Violation
from rudenim.extensions import db as _db
from rudenim.monitoring.models import CheckIn, FlagStatus, MonitoringFlag, MonitoringPeriod
from rudenim.monitoring.services import ROLL_CALL_STATUSES
from tests.conftest import built_app

PEOPLE = 2000
#: Per person (steps: per track), as issue 8 asks; each is held to within 10%.
AVERAGES = {
    "custody events": 3.0,
    "verification tracks": 2.0,
    "steps per track": 3.0,
    "violations": 0.3,
    "check-ins": 4.0,
    "aliases": 2.0,
}


@pytest.fixture(scope="module")
def demo(database, tmp_path_factory):
    """An app whose database holds ``PEOPLE`` demo people, loaded by the command."""
    with built_app(database, tmp_path_factory.mktemp("demo")) as app:
        with pytest.MonkeyPatch.context() as patch:
            # Several batches, so some are written while the next is being made.
            patch.setattr(demo_module, "BATCH", PEOPLE // 4)
            result = app.test_cli_runner().invoke(
                args=["demo", "load", "--people", str(PEOPLE), "--seed", "2024"]
            )
        assert result.exit_code == 0, result.output
        yield app


@pytest.fixture
def db(demo):
    with demo.app_context():
        yield _db
        _db.session.rollback()


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def by_person(db, model, *order) -> dict[int, list]:
    """Every row of ``model``, grouped by person, in ``order``."""
    rows = defaultdict(list)
    for row in db.session.scalars(select(model).order_by(model.person_id, *order)):
        rows[row.person_id].append(row)
    return rows


def in_force_on(events: list[CustodyEvent], day) -> CustodyEvent | None:
    """The custody event in force on ``day`` (events in the order they happened)."""
    current = None
    for event in events:
        if event.effective_on > day:
            break
        current = event
    return current


def test_the_demo_has_the_averages_of_issue_8(db):
    people = count(db, Person)
    tracks = count(db, VerificationTrack)

    averages = {
        "custody events": count(db, CustodyEvent) / people,
        "verification tracks": tracks / people,
        "steps per track": count(db, VerificationEvent) / tracks,
        "violations": count(db, Violation) / people,
        "check-ins": count(db, CheckIn) / people,
        "aliases": count(db, Alias) / people,
    }

    assert people == PEOPLE
    assert averages == pytest.approx(AVERAGES, rel=0.10)


def test_two_percent_are_flagged_in_one_monitoring_period(db):
    [period] = db.session.scalars(select(MonitoringPeriod)).all()
    flags = db.session.scalars(select(MonitoringFlag)).all()

    assert len(flags) == round(PEOPLE * 0.02)
    assert len({flag.person_id for flag in flags}) == len(flags)
    for flag in flags:
        person = db.session.get(Person, flag.person_id)
        assert flag.period_id == period.id and flag.status is FlagStatus.APPROVED
        assert period.starts_on <= flag.decided_on <= local_today()
        assert flag.decided_by_id != flag.proposed_by_id
        assert person.custody_status in ROLL_CALL_STATUSES


def test_the_audit_trail_verifies(demo):
    result = demo.test_cli_runner().invoke(args=["audit", "verify"])

    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK")


def test_each_person_is_where_their_latest_custody_event_says(db):
    events = by_person(db, CustodyEvent, CustodyEvent.effective_on, CustodyEvent.id)
    kinds = dict(db.session.execute(select(Placement.id, Placement.kind)).all())
    today = local_today()

    for person in db.session.scalars(select(Person)):
        history = events[person.id]
        latest = history[-1]
        assert (person.custody_status, person.placement_id) == (
            latest.status,
            latest.placement_id,
        )
        assert person.is_in_care is (latest.status not in LEFT_CARE)
        # A move within one status keeps the date the status began.
        since = latest.effective_on
        for event in reversed(history[:-1]):
            if event.status is not latest.status:
                break
            since = event.effective_on
        assert person.status_since == since
        # Detained on arrival; in order; nothing after leaving care; each step changes
        # the status or the placement, which is of the kind the status needs.
        assert (history[0].status, history[0].effective_on) == (
            CustodyStatus.DETAINED,
            person.arrived_on,
        )
        assert all(person.arrived_on <= event.effective_on <= today for event in history)
        assert all(event.status not in LEFT_CARE for event in history[:-1])
        for earlier, later in pairwise(history):
            assert earlier.effective_on <= later.effective_on
            assert (earlier.status, earlier.placement_id) != (later.status, later.placement_id)
        for event in history:
            needed = event.status.placement_kind
            if needed is None:
                assert event.placement_id is None
            else:
                assert kinds[event.placement_id] is needed


def test_verification_tracks_follow_the_state_machine(db):
    events = defaultdict(list)
    for event in db.session.scalars(
        select(VerificationEvent).order_by(
            VerificationEvent.track_id, VerificationEvent.occurred_on, VerificationEvent.id
        )
    ):
        events[event.track_id].append(event)
    unhcr = {}

    for track in db.session.scalars(select(VerificationTrack)):
        steps = events[track.id]
        assert (track.status, track.status_on) == (steps[-1].to_status, steps[-1].occurred_on)
        previous = VerificationStatus.NOT_REFERRED
        for step in steps:
            assert (step.person_id, step.agency) == (track.person_id, track.agency)
            assert step.from_status is previous
            assert step.to_status in VERIFICATION_STEPS[previous]
            if step.to_status is VerificationStatus.VERIFIED:
                assert step.reference
            previous = step.to_status
        if track.status is VerificationStatus.VERIFIED:
            assert track.reference
        if track.agency is Agency.UNHCR:
            unhcr[track.person_id] = track

    tracks = {
        (t.person_id, t.agency): t.status for t in db.session.scalars(select(VerificationTrack))
    }
    for person in db.session.scalars(select(Person)):
        # Each person's copy of their statuses, which the board counts.
        for agency in Agency:
            expected = tracks.get((person.id, agency), VerificationStatus.NOT_REFERRED)
            assert getattr(person, f"{agency.value}_status") is expected
        track = unhcr.get(person.id)
        verified = track is not None and track.status is VerificationStatus.VERIFIED
        # "Refugee" follows UNHCR's decision, and the other way round.
        assert verified is (person.legal_category is LegalCategory.REFUGEE)
        if person.custody_status is CustodyStatus.DEPORTED:  # non-refoulement
            assert track is None or track.status not in PROTECTED_BY_UNHCR
    # Immigration detainees too may have asked UNHCR, and been turned down.
    assert any(
        track.status in (VerificationStatus.NOT_VERIFIED, VerificationStatus.CLOSED)
        for track in unhcr.values()
        if db.session.get(Person, track.person_id).legal_category
        is LegalCategory.IMMIGRATION_DETAINEE
    )


def test_check_ins_and_incidents_fall_in_housing_or_detention(db):
    events = by_person(db, CustodyEvent, CustodyEvent.effective_on, CustodyEvent.id)
    today = local_today()

    checkins = db.session.scalars(select(CheckIn)).all()
    for checkin in checkins:
        in_force = in_force_on(events[checkin.person_id], to_local(checkin.checked_at).date())
        assert in_force is not None and in_force.status in ROLL_CALL_STATUSES
        assert checkin.placement_id == in_force.placement_id
        assert to_local(checkin.checked_at).date() < today
    # People who have left care were checked in while they were still here.
    assert any(events[c.person_id][-1].status in LEFT_CARE for c in checkins)

    for violation in db.session.scalars(select(Violation)):
        in_force = in_force_on(events[violation.person_id], to_local(violation.occurred_at).date())
        assert in_force is not None and in_force.status in ROLL_CALL_STATUSES
        if violation.is_decided:
            assert violation.decided_by_id not in (None, violation.reported_by_id)
            assert violation.decided_on >= to_local(violation.occurred_at).date()
        else:
            assert violation.decided_by_id is None
