"""IOM and UNHCR verification tracks: steps, the board, bulk steps.

Each person has at most one track per agency; its status moves only along
``VERIFICATION_STEPS``. Every step is an event; the track holds the latest.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import aliased, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from rudenim.cases import names
from rudenim.cases.models import (
    VERIFICATION_STEPS,
    Agency,
    CustodyStatus,
    LegalCategory,
    Person,
    VerificationEvent,
    VerificationStatus,
    VerificationTrack,
)
from rudenim.cases.services import PeopleFilter, custody_guards, lock_person, people_query
from rudenim.clock import local_today
from rudenim.errors import DomainError, DuplicateRecord, IllegalTransition
from rudenim.extensions import db
from rudenim.i18n import labels_per_locale

#: A UNHCR track in one of these forbids deportation (non-refoulement).
PROTECTED_BY_UNHCR = frozenset(
    {VerificationStatus.REFERRED, VerificationStatus.IN_PROGRESS, VerificationStatus.VERIFIED}
)
#: Tracks in these statuses are expected to move; standing still means stalled.
ACTIVE = frozenset({VerificationStatus.REFERRED, VerificationStatus.IN_PROGRESS})


def agency_label(agency: Agency | str) -> str:
    return {Agency.IOM: "IOM", Agency.UNHCR: "UNHCR"}[Agency(agency)]


@labels_per_locale
def _status_labels() -> dict:
    return {
        VerificationStatus.NOT_REFERRED: _("Not referred"),
        VerificationStatus.REFERRED: _("Referred"),
        VerificationStatus.IN_PROGRESS: _("In progress"),
        VerificationStatus.VERIFIED: _("Verified"),
        VerificationStatus.NOT_VERIFIED: _("Not verified"),
        VerificationStatus.CLOSED: _("Closed"),
    }


def status_label(status) -> str:
    """A verification status's name in the interface language."""
    return _status_labels()[status]


def parse_agency(value: str) -> Agency:
    """The agency named by ``value``, or a clear refusal."""
    try:
        return Agency((value or "").strip().lower())
    except ValueError:
        raise DomainError(
            _("%(value)s is not an agency. Choose IOM or UNHCR.", value=value), field="agency"
        ) from None


def parse_status(value: str) -> VerificationStatus:
    """The verification status named by ``value``, or a clear refusal."""
    try:
        return VerificationStatus((value or "").strip().lower())
    except ValueError:
        raise DomainError(
            _("%(value)s is not a verification status.", value=value), field="to_status"
        ) from None


def track_of(person: Person, agency: Agency) -> VerificationTrack | None:
    """The person's track with this agency, if one was started."""
    for track in person.verification_tracks:
        if track.agency is agency:
            return track
    return None


def status_column(agency: Agency):
    """The person's column that holds their status with the agency."""
    return {Agency.IOM: Person.iom_status, Agency.UNHCR: Person.unhcr_status}[agency]


def _copy_status_to_person(person: Person, agency: Agency, status: VerificationStatus) -> None:
    """Keep the person's copy of their track's status (the board counts from it).

    Written past the ORM: the copy is not an edit of the person, so it neither
    changes their version (an officer's open edit form does not turn stale) nor
    writes a second audit event (the step itself is in the trail).
    """
    column = status_column(agency)
    db.session.execute(
        update(Person.__table__)
        .where(Person.__table__.c.id == person.id)
        .values({column.key: status.value})
    )
    set_committed_value(person, column.key, status)


def status_of(person: Person, agency: Agency) -> VerificationStatus:
    """Where the person stands with the agency (not referred without a track)."""
    track = track_of(person, agency)
    return track.status if track else VerificationStatus.NOT_REFERRED


@dataclass
class StepData:
    """One verification step as the user gives it."""

    to_status: str
    occurred_on: date | None
    reference: str | None = None
    note: str = ""


def _reference_holder(agency: Agency, key: str, person_id: int) -> Person | None:
    track_hit = select(VerificationTrack.person_id).where(
        VerificationTrack.agency == agency,
        VerificationTrack.reference_key == key,
        VerificationTrack.person_id != person_id,
    )
    event_hit = select(VerificationEvent.person_id).where(
        VerificationEvent.agency == agency,
        VerificationEvent.reference_key == key,
        VerificationEvent.person_id != person_id,
    )
    other_id = db.session.scalar(track_hit.union(event_hit).limit(1))
    return db.session.get(Person, other_id) if other_id else None


def check_step(
    person: Person, agency: Agency, data: StepData, today: date
) -> tuple[VerificationStatus, VerificationStatus, str | None]:
    """Validate a step without writing; returns (from, to, reference)."""
    to_status = parse_status(data.to_status)
    track = track_of(person, agency)
    from_status = track.status if track else VerificationStatus.NOT_REFERRED
    if to_status not in VERIFICATION_STEPS[from_status]:
        allowed = ", ".join(status_label(s) for s in sorted(VERIFICATION_STEPS[from_status]))
        raise IllegalTransition(
            _(
                "%(agency)s: a track cannot go from %(from)s to %(to)s. From %(from)s it "
                "can go to: %(allowed)s.",
                agency=agency_label(agency),
                **{"from": status_label(from_status)},
                to=status_label(to_status),
                allowed=allowed,
            ),
            field="to_status",
        )
    if data.occurred_on is None:
        raise DomainError(_("Enter the date of the step."), field="occurred_on")
    if data.occurred_on > today:
        raise DomainError(_("The date of the step is in the future."), field="occurred_on")
    if track is not None and data.occurred_on < track.status_on:
        raise DomainError(
            _(
                "The date is before the previous step (%(date)s). Record steps in the "
                "order they happened.",
                date=track.status_on,
            ),
            field="occurred_on",
        )
    reference = " ".join((data.reference or "").split()) or None
    if reference and (len(reference) > 80 or not names.normalise_identifier(reference)):
        raise DomainError(_("This reference number is not valid."), field="reference")
    if reference:
        other = _reference_holder(agency, names.normalise_identifier(reference), person.id)
        if other is not None:
            raise DuplicateRecord(
                _(
                    "%(agency)s reference %(ref)s is already used for %(case)s (%(name)s).",
                    agency=agency_label(agency),
                    ref=reference,
                    case=other.case_number,
                    name=other.full_name,
                ),
                field="reference",
                other=other,
            )
    if (
        to_status is VerificationStatus.VERIFIED
        and not reference
        and not (track and track.reference)
    ):
        raise DomainError(
            _("A verified status needs the agency's reference number."), field="reference"
        )
    return from_status, to_status, reference


def record_verification_step(
    person: Person, agency: str | Agency, data: StepData, *, actor, today: date | None = None
) -> VerificationEvent:
    """Record one step of a person's verification with IOM or UNHCR."""
    today = today or local_today()
    agency = parse_agency(agency) if not isinstance(agency, Agency) else agency
    lock_person(person)  # a verified UNHCR step changes the person's legal category
    from_status, to_status, reference = check_step(person, agency, data, today)
    track = track_of(person, agency)
    if track is None:
        track = VerificationTrack(
            person=person, agency=agency, status=to_status, status_on=data.occurred_on
        )
        db.session.add(track)
    track.status = to_status
    track.status_on = data.occurred_on
    _copy_status_to_person(person, agency, to_status)
    if reference:
        track.reference = reference
        track.reference_key = names.normalise_identifier(reference)
    event = VerificationEvent(
        track=track,
        person_id=person.id,
        agency=agency,
        from_status=from_status,
        to_status=to_status,
        occurred_on=data.occurred_on,
        reference=reference,
        reference_key=names.normalise_identifier(reference) if reference else None,
        note=(data.note or "").strip(),
        recorded_by_id=actor.id,
    )
    db.session.add(event)
    if agency is Agency.UNHCR and to_status is VerificationStatus.VERIFIED:
        # "Refugee" follows UNHCR's decision, not an officer's opinion.
        person.legal_category = LegalCategory.REFUGEE
    db.session.flush()
    return event


@dataclass
class BulkOutcome:
    """Which people a bulk step updated and which it refused, and why."""

    updated: list[Person] = field(default_factory=list)
    refused: list[tuple[int, Person | None, str]] = field(default_factory=list)


class BulkRefused(DomainError):
    """All-or-nothing was asked for and at least one person was refused."""

    def __init__(self, outcome: BulkOutcome):
        super().__init__(
            _(
                "Nothing was changed: %(n)d of the selected people were refused.",
                n=len(outcome.refused),
            )
        )
        self.outcome = outcome


def bulk_step(
    person_ids: list[int],
    agency: str,
    data: StepData,
    *,
    actor,
    all_or_nothing: bool = False,
    today: date | None = None,
) -> BulkOutcome:
    """Apply one step to several people, each checked by the same rules."""
    today = today or local_today()
    agency = parse_agency(agency)
    parse_status(data.to_status)
    if data.reference:
        raise DomainError(
            _("A reference number belongs to one person; record it on their page."),
            field="reference",
        )
    if not person_ids:
        raise DomainError(_("Select at least one person."))
    people = {
        person.id: person
        for person in db.session.scalars(
            select(Person)
            .where(Person.id.in_(person_ids))
            .options(selectinload(Person.verification_tracks))
        )
    }
    outcome = BulkOutcome()
    accepted = []
    for person_id in dict.fromkeys(person_ids):
        person = people.get(person_id)
        if person is None:
            outcome.refused.append((person_id, None, _("There is no such person.")))
            continue
        try:
            check_step(person, agency, data, today)
        except DomainError as exc:
            outcome.refused.append((person_id, person, str(exc)))
        else:
            accepted.append(person)
    if outcome.refused and all_or_nothing:
        raise BulkRefused(outcome)
    for person in accepted:
        record_verification_step(person, agency, data, actor=actor, today=today)
        outcome.updated.append(person)
    return outcome


def _non_refoulement(person: Person, status: CustodyStatus) -> None:
    if status is not CustodyStatus.DEPORTED:
        return
    unhcr = status_of(person, Agency.UNHCR)
    if unhcr in PROTECTED_BY_UNHCR:
        raise IllegalTransition(
            _(
                "%(name)s cannot be deported while their UNHCR verification is %(status)s "
                "(non-refoulement).",
                name=person.full_name,
                status=status_label(unhcr),
            ),
            field="status",
        )


custody_guards.append(_non_refoulement)


# --- the board ----------------------------------------------------------------------


@dataclass
class BoardFilter:
    """The people list's filters plus verification status and stalled."""

    agency: Agency = Agency.UNHCR
    people: PeopleFilter = field(default_factory=PeopleFilter)
    statuses: list[VerificationStatus] = field(default_factory=list)
    stalled_only: bool = False


def stalled_days() -> int:
    return current_app.config["VERIFICATION_STALLED_DAYS"]


def board_query(criteria: BoardFilter, today: date | None = None):
    """People with their track for the agency (outer join: no track = not referred)."""
    today = today or local_today()
    track = aliased(VerificationTrack)
    status = status_column(criteria.agency)
    query = people_query(criteria.people).outerjoin(
        track, and_(track.person_id == Person.id, track.agency == criteria.agency)
    )
    if criteria.statuses:
        query = query.where(status.in_([s.value for s in criteria.statuses]))
    if criteria.stalled_only:
        query = query.where(
            track.status.in_([s.value for s in ACTIVE]),
            track.status_on <= today - timedelta(days=stalled_days()),
        )
    return query.add_columns(track), track, status


def board_counts(criteria: BoardFilter) -> dict[VerificationStatus, int]:
    """How many of the filtered people stand at each status."""
    status = status_column(criteria.agency)
    counted = (
        people_query(criteria.people)
        .order_by(None)
        .with_only_columns(status, func.count())
        .group_by(status)
    )
    result = {s: 0 for s in VerificationStatus}
    for value, count in db.session.execute(counted):
        result[VerificationStatus(value)] = count
    return result


def is_stalled(track: VerificationTrack | None, today: date | None = None) -> bool:
    """A referred or in-progress track that has not moved for the stalled period."""
    if track is None or track.status not in ACTIVE:
        return False
    today = today or local_today()
    return (today - track.status_on).days >= stalled_days()
