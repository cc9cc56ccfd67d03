"""The people registry's rules: registering, editing, custody, search, duplicates."""

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from time import monotonic

from flask import current_app, has_app_context
from flask_babel import gettext as _
from sqlalchemy import (
    Integer,
    Select,
    String,
    and_,
    any_,
    bindparam,
    cast,
    delete,
    event,
    exists,
    func,
    insert,
    inspect,
    literal,
    or_,
    select,
    union,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, aliased, joinedload, selectinload

from rudenim.audit.capture import lock_chain
from rudenim.audit.services import record_event
from rudenim.cases import names, nationalities
from rudenim.cases.models import (
    LEFT_CARE,
    Alias,
    CaseNumberCounter,
    CustodyEvent,
    CustodyStatus,
    DetentionReview,
    EthnicitySuggestion,
    Identifier,
    IdentifierKind,
    LegalCategory,
    NameToken,
    Person,
    PersonVulnerability,
    Placement,
    PlacementKind,
    Sex,
    VerificationEvent,
    VerificationTrack,
    Vulnerability,
)
from rudenim.clock import local_today, utcnow
from rudenim.errors import DomainError, DuplicateRecord, IllegalTransition, NotFound, StaleRecord
from rudenim.extensions import PLAN, built_once, db
from rudenim.i18n import labels_per_locale

MAX_AGE = 120
SEARCH_MAX_LENGTH = 200


# --- input --------------------------------------------------------------------


@dataclass
class PersonData:
    """What a user types about a person's identity."""

    full_name: str
    sex: str
    nationality: str
    legal_category: str
    arrived_on: date | None
    date_of_birth: date | None = None
    is_birth_date_estimated: bool = False
    #: Used when no date of birth is known: an estimated 1 January of that year.
    age_years: int | None = None
    claimed_ethnicity: str | None = None
    languages: str | None = None
    needs_interpreter: bool = False
    vulnerabilities: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    #: kind → value; an empty value means "none".
    identifiers: dict[str, str] = field(default_factory=dict)
    notes: str | None = None


@dataclass
class CustodyData:
    """A custody step: the new status, where, from when, and why."""

    status: str
    placement_id: int | None
    effective_on: date | None
    reason: str = ""


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


def _enum(enum_class, value, message):
    try:
        return enum_class(value)
    except ValueError:
        raise DomainError(message) from None


def _checked_identity(data: PersonData, today: date) -> dict:
    """Validate identity data; return the cleaned column values."""
    full_name = _clean(data.full_name)
    if not full_name:
        raise DomainError(_("Enter the person's full name."), field="full_name")
    if len(full_name) > 200:
        raise DomainError(_("The name is longer than 200 characters."), field="full_name")
    if not names.name_words(full_name):
        raise DomainError(_("The name must contain letters (in Latin script)."), field="full_name")
    birth, estimated = data.date_of_birth, bool(data.is_birth_date_estimated)
    if birth is not None and birth > today:
        raise DomainError(_("The date of birth is in the future."), field="date_of_birth")
    if birth is not None and today.year - birth.year > MAX_AGE:
        raise DomainError(
            _("A date of birth more than %(n)d years ago is not possible.", n=MAX_AGE),
            field="date_of_birth",
        )
    if birth is None and data.age_years is not None:
        if not 0 <= data.age_years <= MAX_AGE:
            raise DomainError(
                _("An age must be between 0 and %(n)d years.", n=MAX_AGE), field="age_years"
            )
        birth, estimated = date(today.year - data.age_years, 1, 1), True
    if not nationalities.is_valid(data.nationality):
        raise DomainError(
            _("%(code)s is not a known nationality.", code=data.nationality), field="nationality"
        )
    arrived = data.arrived_on
    if arrived is None:
        raise DomainError(_("Enter the arrival date."), field="arrived_on")
    if arrived > today:
        raise DomainError(_("The arrival date is in the future."), field="arrived_on")
    if birth is not None and not estimated and arrived < birth:
        raise DomainError(_("The arrival date is before the date of birth."), field="arrived_on")
    vulnerabilities = set()
    for value in data.vulnerabilities or []:
        vulnerabilities.add(
            _enum(Vulnerability, value, _("%(v)s is not a known vulnerability.", v=value))
        )
    return {
        "full_name": full_name,
        "name_key": names.name_key(full_name),
        "sex": _enum(Sex, data.sex, _("Choose the person's sex.")),
        "date_of_birth": birth,
        "is_birth_date_estimated": estimated if birth else False,
        "nationality": data.nationality,
        "claimed_ethnicity": _clean(data.claimed_ethnicity)[:120] or None,
        "languages": _clean(data.languages)[:200] or None,
        "needs_interpreter": bool(data.needs_interpreter),
        "legal_category": _enum(LegalCategory, data.legal_category, _("Choose a legal category.")),
        "arrived_on": arrived,
        "notes": (data.notes or "").strip() or None,
        "vulnerabilities": vulnerabilities,
        "aliases": _clean_aliases(data.aliases, full_name),
        "identifiers": _clean_identifiers(data.identifiers),
    }


def _clean_aliases(aliases: list[str], full_name: str) -> list[str]:
    seen, result = {full_name.casefold()}, []
    for alias in aliases or []:
        alias = _clean(alias)[:200]
        if alias and alias.casefold() not in seen:
            seen.add(alias.casefold())
            result.append(alias)
    return result


def _clean_identifiers(identifiers: dict[str, str]) -> dict[IdentifierKind, str]:
    result = {}
    for kind, value in (identifiers or {}).items():
        value = (value or "").strip()
        if not value:
            continue
        kind = _enum(IdentifierKind, kind, _("%(k)s is not a kind of identifier.", k=kind))
        if len(value) > 80 or not names.normalise_identifier(value):
            raise DomainError(_("This identifier is not valid."), field=kind.value)
        result[kind] = value
    return result


@labels_per_locale
def _identifier_labels() -> dict:
    return {
        IdentifierKind.UNHCR_REGISTRATION: _("UNHCR registration no."),
        IdentifierKind.UNHCR_CASE: _("UNHCR case no."),
        IdentifierKind.IOM_CASE: _("IOM case no."),
        IdentifierKind.PASSPORT: _("Passport"),
        IdentifierKind.OTHER: _("Other identifier"),
    }


def identifier_label(kind) -> str:
    """An identifier kind's name in the interface language."""
    return _identifier_labels()[kind]


def _check_identifiers_free(identifiers: dict[IdentifierKind, str], person_id: int | None):
    for kind, value in identifiers.items():
        holder = db.session.scalar(
            select(Identifier)
            .where(
                Identifier.kind == kind,
                Identifier.value_key == names.normalise_identifier(value),
            )
            .options(selectinload(Identifier.person))
        )
        if holder is not None and holder.person_id != person_id:
            raise DuplicateRecord(
                _(
                    "%(kind)s %(value)s already belongs to %(case)s (%(name)s).",
                    kind=identifier_label(kind),
                    value=value,
                    case=holder.person.case_number,
                    name=holder.person.full_name,
                ),
                field=kind.value,
                other=holder.person,
            )


def _check_refugee_category(category: LegalCategory, person: Person | None) -> None:
    """ "Refugee" follows UNHCR's decision (a verified track with its reference)."""
    if category is not LegalCategory.REFUGEE:
        return
    if person is not None and person.legal_category is LegalCategory.REFUGEE:
        return
    verified = person is not None and any(
        track.agency == "unhcr" and track.status == "verified" and track.reference
        for track in person.verification_tracks
    )
    if not verified:
        raise DomainError(
            _(
                "“Refugee” follows UNHCR's decision: record a verified UNHCR step with its "
                "reference on the person's page; the category then changes by itself."
            ),
            field="legal_category",
        )


# --- duplicates -------------------------------------------------------------------


@dataclass
class PossibleMatch:
    """An existing person who may be the one being registered, and why."""

    person: Person
    reasons: list[str]
    score: float = 0.0


class PossibleDuplicates(DomainError):
    """Registration waits until the user has looked at these matches."""

    def __init__(self, matches: list[PossibleMatch]):
        super().__init__(
            _("This person may already be registered. Check the possible matches below.")
        )
        self.matches = matches


NAME_MATCH_THRESHOLD = 85


def find_possible_duplicates(
    data: PersonData, *, exclude_id: int | None = None, today: date | None = None
) -> list[PossibleMatch]:
    """Existing people who may be this one: the same identifier, or a similar
    name or alias together with a birth date within two years or the same nationality."""
    today = today or local_today()
    matches: dict[int, PossibleMatch] = {}

    def add(person: Person, reason: str, score: float) -> None:
        if person.id == exclude_id:
            return
        match = matches.setdefault(person.id, PossibleMatch(person, []))
        if reason not in match.reasons:
            match.reasons.append(reason)
        match.score = max(match.score, score)

    for kind, value in _clean_identifiers(data.identifiers).items():
        key = names.normalise_identifier(value)
        for identifier in db.session.scalars(
            select(Identifier)
            .where(Identifier.kind == kind, Identifier.value_key == key)
            .options(selectinload(Identifier.person))
        ):
            add(
                identifier.person,
                _("Same %(kind)s: %(value)s", kind=identifier_label(kind), value=identifier.value),
                200,
            )

    birth = data.date_of_birth
    if birth is None and data.age_years is not None and 0 <= data.age_years <= MAX_AGE:
        birth = date(today.year - data.age_years, 1, 1)
    typed_names = [n for n in [_clean(data.full_name), *(data.aliases or [])] if _clean(n)]
    words = sorted({w for n in typed_names for w in names.name_words(n) if len(w) >= 2})
    if words:
        name_hit = or_(*[Person.name_key.contains(w, autoescape=True) for w in words])
        alias_hit = exists().where(
            Alias.person_id == Person.id,
            or_(*[Alias.name_key.contains(w, autoescape=True) for w in words]),
        )
        near = [Person.nationality == data.nationality]
        if birth is not None:
            near.append(
                Person.date_of_birth.between(
                    birth - timedelta(days=731), birth + timedelta(days=731)
                )
            )
        # Every candidate's names are scored (a common first name can bring thousands),
        # reading only names; whole records are loaded for the few that match.
        where = and_(or_(name_hit, alias_hit), or_(*near))
        known_names: dict[int, list[str]] = {}
        for person_id, name in db.session.execute(select(Person.id, Person.full_name).where(where)):
            known_names[person_id] = [name]
        other = aliased(Alias)
        for person_id, name in db.session.execute(
            select(other.person_id, other.name)
            .join(Person, other.person_id == Person.id)
            .where(where)
            .order_by(other.id)
        ):
            known_names[person_id].append(name)
        best_of: dict[int, tuple[float, tuple[str, str]]] = {}
        for person_id, known_list in known_names.items():
            best, best_pair = 0.0, None
            for typed in typed_names:
                for known in known_list:
                    score = names.similarity(typed, known)
                    if score > best:
                        best, best_pair = score, (typed, known)
            if best >= NAME_MATCH_THRESHOLD:
                best_of[person_id] = (best, best_pair)
        candidates = db.session.scalars(
            select(Person)
            .where(Person.id.in_(list(best_of)))
            .options(selectinload(Person.aliases))
            .order_by(Person.id)
        )
        for person in candidates:
            best, best_pair = best_of[person.id]
            because = []
            if (
                birth is not None
                and person.date_of_birth is not None
                and abs((person.date_of_birth - birth).days) <= 731
            ):
                because.append(_("date of birth within two years"))
            if person.nationality == data.nationality:
                because.append(_("same nationality"))
            if not because:
                continue
            typed, known = best_pair
            add(
                person,
                _(
                    "Similar name: %(typed)s ~ %(known)s; %(because)s",
                    typed=typed,
                    known=known,
                    because=", ".join(because),
                ),
                best,
            )
    return sorted(matches.values(), key=lambda m: (-m.score, m.person.case_number))


# --- registering and editing ---------------------------------------------------


def next_case_number(site: str, year: int) -> str:
    """Hand out the next case number for a site and year; it is never reused."""
    lock_chain(db.session)  # every writer takes the audit lock first (no deadlocks)
    counter = db.session.scalar(
        select(CaseNumberCounter)
        .where(CaseNumberCounter.site == site, CaseNumberCounter.year == year)
        .with_for_update()
    )
    if counter is None:
        counter = CaseNumberCounter(site=site, year=year, last=0)
        db.session.add(counter)
    counter.last += 1
    db.session.flush()
    return f"{site}-{year}-{counter.last:04d}"


def get_placement(placement_id: int | None) -> Placement | None:
    """The placement with this id (None for none), or a clear refusal."""
    if placement_id in (None, "", 0):
        return None
    placement = db.session.get(Placement, placement_id)
    if placement is None or not placement.is_active:
        raise DomainError(_("That placement does not exist."), field="placement_id")
    return placement


def register_person(
    data: PersonData,
    custody: CustodyData,
    *,
    actor,
    confirmed_different_from: list[int] | None = None,
    today: date | None = None,
) -> Person:
    """Register someone new, with their first custody status and placement.

    Refuses with PossibleDuplicates until the user has seen the possible
    matches and confirmed, for exactly those, that this is a different person.
    """
    today = today or local_today()
    values = _checked_identity(data, today)
    _check_refugee_category(values["legal_category"], None)
    status = _enum(CustodyStatus, custody.status, _("Choose a custody status."))
    if status in LEFT_CARE:
        raise IllegalTransition(
            _("A new person is registered in the centre's care, not as having left it."),
            field="status",
        )
    placement = _checked_placement(status, custody.placement_id)
    effective_on = custody.effective_on or values["arrived_on"]
    _check_custody_date(effective_on, values["arrived_on"], None, today)
    _check_identifiers_free(values["identifiers"], None)

    matches = find_possible_duplicates(data, today=today)
    confirmed = set(confirmed_different_from or [])
    if matches and not {m.person.id for m in matches} <= confirmed:
        raise PossibleDuplicates(matches)

    aliases, identifiers, vulnerabilities = (
        values.pop("aliases"),
        values.pop("identifiers"),
        values.pop("vulnerabilities"),
    )
    person = Person(
        case_number=next_case_number(current_app.config["SITE_CODE"], today.year),
        custody_status=status,
        placement=placement,
        status_since=effective_on,
        is_in_care=True,
        **values,
    )
    person.aliases = [Alias(name=a, name_key=names.name_key(a)) for a in aliases]
    person.identifiers = [
        Identifier(kind=k, value=v, value_key=names.normalise_identifier(v))
        for k, v in identifiers.items()
    ]
    person.vulnerability_rows = [PersonVulnerability(kind=v) for v in vulnerabilities]
    person.custody_events = [
        CustodyEvent(
            status=status,
            placement=placement,
            effective_on=effective_on,
            reason=_clean(custody.reason) or _("Registered"),
            recorded_by_id=actor.id,
        )
    ]
    db.session.add(person)
    db.session.flush()
    if matches:
        record_event(
            "duplicate_check_overridden",
            object_type="Person",
            object_id=person.id,
            details={
                "different_from": [m.person.case_number for m in matches],
                "reasons": {m.person.case_number: m.reasons for m in matches},
            },
        )
    return person


def update_person(
    person: Person, data: PersonData, *, expected_version: int, today: date | None = None
) -> Person:
    """Change a person's identity data, unless someone else saved it meanwhile."""
    today = today or local_today()
    if expected_version != person.version:
        raise _stale(person)
    values = _checked_identity(data, today)
    _check_refugee_category(values["legal_category"], person)
    # The first event, not the current status: that may have begun long after arrival.
    first = db.session.scalar(
        select(func.min(CustodyEvent.effective_on)).where(CustodyEvent.person_id == person.id)
    )
    if first is not None and values["arrived_on"] > first:
        raise DomainError(
            _("The arrival date is after the first custody event (%(date)s).", date=first),
            field="arrived_on",
        )
    _check_identifiers_free(values["identifiers"], person.id)
    lock_chain(db.session)
    # A save committed between loading the person and taking the lock (PostgreSQL
    # lets both requests get this far): refuse it as stale, not as a failed UPDATE.
    if db.session.scalar(select(Person.version).where(Person.id == person.id)) != expected_version:
        raise _stale(person)

    aliases, identifiers, vulnerabilities = (
        values.pop("aliases"),
        values.pop("identifiers"),
        values.pop("vulnerabilities"),
    )
    for key, value in values.items():
        if getattr(person, key) != value:
            setattr(person, key, value)

    wanted_aliases = {a.casefold(): a for a in aliases}
    for alias in list(person.aliases):
        if alias.name.casefold() not in wanted_aliases:
            _drop(person.aliases, alias)
        else:
            wanted_aliases.pop(alias.name.casefold())
    for alias in wanted_aliases.values():
        person.aliases.append(Alias(name=alias, name_key=names.name_key(alias)))

    current = {identifier.kind: identifier for identifier in person.identifiers}
    for kind, identifier in current.items():
        if kind not in identifiers:
            _drop(person.identifiers, identifier)
        elif identifier.value != identifiers[kind]:
            identifier.value = identifiers[kind]
            identifier.value_key = names.normalise_identifier(identifiers[kind])
    for kind, value in identifiers.items():
        if kind not in current:
            person.identifiers.append(
                Identifier(kind=kind, value=value, value_key=names.normalise_identifier(value))
            )

    present = {row.kind: row for row in person.vulnerability_rows}
    for kind, row in present.items():
        if kind not in vulnerabilities:
            _drop(person.vulnerability_rows, row)
    for kind in vulnerabilities - present.keys():
        person.vulnerability_rows.append(PersonVulnerability(kind=kind))

    if db.session.is_modified(person) or any(
        db.session.is_modified(obj) or obj in db.session.new
        for obj in [*person.aliases, *person.identifiers, *person.vulnerability_rows]
    ):
        # A change of aliases or identifiers is a change of the record: bump its version.
        person.updated_at = utcnow()
        db.session.flush()
    return person


def lock_person(person: Person) -> None:
    """Take the write lock, then make sure ``person`` is the saved record.

    On PostgreSQL another request may have saved this person between loading
    it and taking the lock; checks made on the old copy would then judge a
    state that no longer exists and the versioned UPDATE would fail. Call
    before any check that reads the person and before changing it.
    """
    lock_chain(db.session)
    saved = db.session.scalar(select(Person.version).where(Person.id == person.id))
    if saved != person.version:
        db.session.refresh(person)


def _stale(person: Person) -> StaleRecord:
    return StaleRecord(
        _(
            "Someone else saved this record while you were editing it. Your input "
            "is kept below; compare it with the saved values and save again."
        ),
        current=person,
    )


def _drop(collection: list, row) -> None:
    """Remove a row the person owns, as an explicit delete.

    A row that merely falls out of its collection is deleted as an orphan
    during the flush, unseen by the audit hooks; deleting it here puts it in
    the session's deleted set, so the trail records the removal.
    """
    collection.remove(row)
    db.session.delete(row)


# --- custody --------------------------------------------------------------------


def _checked_placement(status: CustodyStatus, placement_id: int | None) -> Placement | None:
    placement = get_placement(placement_id)
    needed = status.placement_kind
    if needed is None:
        if placement is not None and status in LEFT_CARE:
            raise DomainError(
                _("Someone who has left the centre's care has no placement."),
                field="placement_id",
            )
        return placement if status is CustodyStatus.HOSPITAL else None
    if placement is None:
        raise DomainError(_("Choose a placement for this status."), field="placement_id")
    if placement.kind is not needed:
        if needed is PlacementKind.CENTRE:
            message = _("Someone detained is placed in a block or room of the centre.")
        else:
            message = _("Someone in community housing is placed at a housing site.")
        raise DomainError(message, field="placement_id")
    return placement


def _check_custody_date(effective_on, arrived_on, previous_on, today):
    if effective_on is None:
        raise DomainError(_("Enter the date the change took effect."), field="effective_on")
    if effective_on > today:
        raise DomainError(_("The date is in the future."), field="effective_on")
    if effective_on < arrived_on:
        raise DomainError(
            _("The date is before the person's arrival (%(date)s).", date=arrived_on),
            field="effective_on",
        )
    if previous_on is not None and effective_on < previous_on:
        raise DomainError(
            _(
                "The date is before the current status began (%(date)s). Record "
                "changes in the order they happened.",
                date=previous_on,
            ),
            field="effective_on",
        )


@labels_per_locale
def _custody_status_labels() -> dict:
    return {
        CustodyStatus.DETAINED: _("Detained"),
        CustodyStatus.COMMUNITY_HOUSING: _("Community housing"),
        CustodyStatus.HOSPITAL: _("Hospital"),
        CustodyStatus.RELEASED: _("Released"),
        CustodyStatus.RESETTLED: _("Resettled"),
        CustodyStatus.VOLUNTARY_RETURN: _("Voluntary return"),
        CustodyStatus.DEPORTED: _("Deported"),
        CustodyStatus.ABSCONDED: _("Absconded"),
        CustodyStatus.DECEASED: _("Deceased"),
    }


def custody_status_label(status) -> str:
    """A custody status's name in the interface language."""
    return _custody_status_labels()[status]


#: Checks other domains add on custody changes (e.g. non-refoulement): each
#: takes (person, new_status) and raises a DomainError to refuse.
custody_guards: list = []


def record_custody_change(
    person: Person,
    data: CustodyData,
    *,
    actor,
    reopen: bool = False,
    today: date | None = None,
) -> CustodyEvent:
    """Add a custody step; the person's current status becomes this one.

    Leaving care (released, resettled, voluntary return, deported, deceased)
    is final unless a supervisor reopens the record with a reason.
    """
    today = today or local_today()
    status = _enum(CustodyStatus, data.status, _("Choose a custody status."))
    reason = _clean(data.reason)
    if not reason:
        raise DomainError(_("Give the reason for the change."), field="reason")
    lock_person(person)
    if person.custody_status in LEFT_CARE and not reopen:
        raise IllegalTransition(
            _(
                "%(name)s has left the centre's care (%(status)s). Only a supervisor can "
                "reopen the record, with a reason.",
                name=person.full_name,
                status=custody_status_label(person.custody_status),
            ),
            field="status",
        )
    if reopen and person.custody_status not in LEFT_CARE:
        raise IllegalTransition(
            _("The record is open; there is nothing to reopen."), field="status"
        )
    if reopen and status in LEFT_CARE:
        raise IllegalTransition(
            _("Reopening brings the person back into the centre's care."), field="status"
        )
    placement = _checked_placement(status, data.placement_id)
    if status == person.custody_status and placement == person.placement:
        raise IllegalTransition(
            _("The person already has this status and placement."), field="status"
        )
    # Not before the latest step either (a move within one status keeps status_since),
    # so the latest event stays the current one.
    latest_on = db.session.scalar(
        select(func.max(CustodyEvent.effective_on)).where(CustodyEvent.person_id == person.id)
    )
    previous_on = max(filter(None, [person.status_since, latest_on]))
    _check_custody_date(data.effective_on, person.arrived_on, previous_on, today)
    for guard in custody_guards:
        guard(person, status)

    event = CustodyEvent(
        person=person,
        status=status,
        placement=placement,
        effective_on=data.effective_on,
        reason=reason,
        is_reopening=reopen,
        recorded_by_id=actor.id,
    )
    db.session.add(event)
    if status != person.custody_status:
        person.status_since = data.effective_on
    person.custody_status = status
    person.placement = placement
    person.is_in_care = status not in LEFT_CARE
    db.session.flush()
    return event


# --- detention reviews ---------------------------------------------------------

REVIEW_OUTCOMES = ("continue", "release_recommended", "housing_recommended")


def review_outcome_label(outcome: str) -> str:
    """A review outcome's name in the interface language."""
    return {
        "continue": _("Detention continues"),
        "release_recommended": _("Release recommended"),
        "housing_recommended": _("Community housing recommended"),
    }.get(outcome, outcome)


def record_detention_review(
    person: Person, reviewed_on: date | None, outcome: str, note: str, *, actor, today=None
) -> DetentionReview:
    """Record that someone's detention was reviewed, and what was decided."""
    today = today or local_today()
    if person.custody_status is not CustodyStatus.DETAINED:
        raise DomainError(_("Only the detention of someone detained is reviewed."))
    if reviewed_on is None or reviewed_on > today:
        raise DomainError(_("The review date is missing or in the future."), field="reviewed_on")
    if reviewed_on < person.status_since:
        raise DomainError(_("The review date is before this detention began."), field="reviewed_on")
    if outcome not in REVIEW_OUTCOMES:
        raise DomainError(_("Choose the outcome of the review."), field="outcome")
    if not _clean(note):
        raise DomainError(_("Write down the grounds of the review."), field="note")
    lock_chain(db.session)
    review = DetentionReview(
        person_id=person.id,
        reviewed_on=reviewed_on,
        outcome=outcome,
        note=note.strip(),
        reviewed_by_id=actor.id,
    )
    db.session.add(review)
    db.session.flush()
    return review


@dataclass(frozen=True)
class DetentionClock:
    """Days held in the current detention and when it must next be reviewed."""

    detained_since: date
    days_held: int
    last_review: DetentionReview | None
    next_review_on: date

    @property
    def is_review_overdue(self) -> bool:
        return self.next_review_on < local_today()


def detention_clock(person: Person, today: date | None = None) -> DetentionClock | None:
    """The detention clock of someone detained; None for anyone else."""
    if person.custody_status is not CustodyStatus.DETAINED:
        return None
    today = today or local_today()
    last_review = db.session.scalar(
        _last_review_statement(),
        {"person_id": person.id, "since": person.status_since},
    )
    interval = timedelta(days=current_app.config["DETENTION_REVIEW_DAYS"])
    base = last_review.reviewed_on if last_review else person.status_since
    return DetentionClock(
        detained_since=person.status_since,
        days_held=(today - person.status_since).days,
        last_review=last_review,
        next_review_on=base + interval,
    )


@built_once
def _last_review_statement():
    """The latest review of a person's detention since it began (on the person page)."""
    return (
        select(DetentionReview)
        .where(
            DetentionReview.person_id == bindparam("person_id"),
            DetentionReview.reviewed_on >= bindparam("since"),
        )
        .order_by(DetentionReview.reviewed_on.desc(), DetentionReview.id.desc())
        .limit(1)
    )


# --- finding people --------------------------------------------------------------


@dataclass
class PeopleFilter:
    """What the people list is narrowed and ordered by (all from the URL)."""

    q: str = ""
    status: list[str] = field(default_factory=list)
    placement_id: int | None = None
    nationality: str | None = None
    ethnicity: str | None = None
    legal_category: str | None = None
    vulnerability: str | None = None
    arrived_from: date | None = None
    arrived_to: date | None = None
    include_left: bool = False
    sort: str = "case_number"
    descending: bool = False


SORTS = {
    "case_number": Person.case_number,
    "name": Person.full_name,
    "nationality": Person.nationality,
    "arrived": Person.arrived_on,
    "status": Person.custody_status,
    "since": Person.status_since,
}


#: Up to this many people found by the search box are passed on as a list of ids.
NAME_MATCH_IDS = 2000


def _one_of(column, ids: list[int]):
    """``column IN ids``, the ids passed as one parameter (a PostgreSQL array, a
    JSON array SQLite reads with ``json_each``), not thousands of parameters
    SQLAlchemy renders and the database binds one by one.

    Both arrive as text, which the database parses: psycopg adapts a Python
    list one element at a time (about 0.7 ms for the 1,100 ids a common name
    finds at 100,000 people, and the page passes them twice, to its count
    and its rows).
    """
    if db.session.get_bind().dialect.name == "postgresql":
        listed = "{" + ",".join(map(str, ids)) + "}"
        return column == any_(cast(literal(listed, String), ARRAY(Integer)))
    listed = func.json_each(literal(json.dumps(list(ids)), String)).table_valued("value")
    return column.in_(select(listed.c.value))


def _token_range(token, word: str):
    """Where ``token`` is a token of the word's kind starting with ``word``: a
    word of the name for a short word, an ending of its joined form for a long
    one (``names.name_tokens``)."""
    word = word[: names.TOKEN_LENGTH]
    condition = and_(token.is_word == (not names.is_long(word)), token.token >= word)
    # The first a–z string after every string that starts with ``word`` (tokens
    # are a–z only, which every collation orders alike): "mhmd" → "mhme",
    # "mhmz" → "mhn"; none after "zz".
    stem = word.rstrip("z")
    if stem:
        condition = and_(condition, token.token < stem[:-1] + chr(ord(stem[-1]) + 1))
    return condition


#: Counting a word's tokens stops here: enough to tell a rare word from a common one.
TOKEN_COUNT_CAP = 20000


def _tokens_of(word: str):
    """A row for each token in the word's range (to count, or to estimate)."""
    return select(literal(1)).where(_token_range(NameToken, word))


def _token_count(word: str):
    """How many tokens the word's range holds, counted up to ``TOKEN_COUNT_CAP``."""
    capped = _tokens_of(word).limit(TOKEN_COUNT_CAP)
    return select(func.count()).select_from(capped.subquery()).scalar_subquery()


def _rarest_first(words: list[str]) -> list[str]:
    """The words, those with the fewest tokens first.

    PostgreSQL's planner estimates a range's size from its statistics: asking
    it (``EXPLAIN``, a fraction of a millisecond) costs less than counting,
    which reads as many entries as the search itself would. SQLite keeps no
    such figures, so there each word's tokens are counted, up to
    ``TOKEN_COUNT_CAP``.
    """
    if len(words) < 2:
        return words
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        sizes = []
        for word in words:
            compiled = _tokens_of(word).compile(connection)
            plan = connection.exec_driver_sql(PLAN + str(compiled), compiled.params).scalar_one()
            sizes.append(plan[0]["Plan"]["Plan Rows"])
    else:
        sizes = db.session.execute(select(*map(_token_count, words))).one()
    # Ties (PostgreSQL without statistics) keep the query's order.
    return [words[n] for n in sorted(range(len(words)), key=lambda n: sizes[n])]


def _people_named(words: list[str]):
    """The people with a name in which every word starts a token of its kind.

    The rarest word's tokens are read from the index (``_rarest_first``), and
    the other words are looked for in the name key each token carries there
    (``_in_key``): work in proportion to the rarest word, with no second
    lookup per name. "Mohamed Rezaei" on 100,000 people: 16,000 tokens for
    "rz", 40,000 for "mhmd"; probing each "rz" name for "mhmd" by the token
    table's primary key took 30 ms on SQLite, and PostgreSQL's hash join of
    the two ranges 20 ms; reading "mhmd" from the keys beside them, 3 to 4 ms.
    """
    first, *others = _rarest_first(words)
    return select(NameToken.person_id).where(
        _token_range(NameToken, first), *(_in_key(NameToken.name_key, word) for word in others)
    )


def _in_key(key, word: str):
    """Where the name ``key`` ("abdl rhmn|abdlrhmn") holds a token of the word's
    kind starting with ``word``: a short word starts one of its words (a space,
    or the key's start, before it: the joined form after the bar has no
    spaces); a long one occurs in the joined form (after the bar). Words are
    a–z only (``names.query_words``), so nothing in them is a LIKE wildcard.
    """
    word = word[: names.TOKEN_LENGTH]
    if names.is_long(word):
        return key.like(f"%|%{word}%")
    return (literal(" ") + key).like(f"% {word}%")


def reindex_names(connection, person_ids) -> None:
    """Rebuild the name tokens of these people from their name and alias keys."""
    person_ids = sorted(set(person_ids))
    if not person_ids:
        return
    connection.execute(delete(NameToken).where(NameToken.person_id.in_(person_ids)))
    keys = connection.execute(
        union_all(
            select(Person.id, literal(0), Person.name_key).where(Person.id.in_(person_ids)),
            select(Alias.person_id, Alias.id, Alias.name_key).where(
                Alias.person_id.in_(person_ids)
            ),
        )
    ).all()
    rows = [
        {
            "person_id": person_id,
            "name_no": name_no,
            "is_word": is_word,
            "token": token,
            "name_key": key,
        }
        for person_id, name_no, key in keys
        for is_word, token in names.name_tokens(key)
    ]
    if rows:
        connection.execute(insert(NameToken), rows)


@event.listens_for(Session, "after_flush")
def _reindex_changed_names(session, _flush_context):
    """Keep the name tokens in step with every name key written in this flush."""
    changed = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Person) and obj.id is not None:
            if obj in session.new or inspect(obj).attrs.name_key.history.has_changes():
                changed.add(obj.id)
        elif isinstance(obj, Alias) and obj.person_id is not None:
            changed.add(obj.person_id)
    if changed:
        reindex_names(session.connection(), changed)


def search_condition(query: str):
    """Where-clause for the search box: names fuzzy, numbers exact.

    The people found are looked up once, here (by the case number's, the
    identifiers' and the name tokens' indexes), and handed on as ids, so the
    page's count and its rows do not search again; very many matches (a common
    name) stay a subquery, to bound the parameters.
    """
    query = (query or "").strip()[:SEARCH_MAX_LENGTH]
    found = []
    number = names.normalise_identifier(query)
    if number and any(ch.isdigit() for ch in number):
        found.append(select(Person.id).where(Person.case_number == query.upper()))
        found.append(select(Identifier.person_id).where(Identifier.value_key == number))
    words = names.query_words(query)
    if words:
        # Every word must start a token of its kind, all in one of the person's
        # names: the index alone decides.
        found.append(_people_named(words))
    if not found:
        return Person.id.is_(None)  # nothing searchable in the query: no match
    # Each person once (a name and its aliases may all match): UNION does
    # that for several selects, DISTINCT for one.
    matching = union(*found) if len(found) > 1 else found[0].distinct()
    ids = db.session.scalars(matching.limit(NAME_MATCH_IDS + 1)).all()
    return _one_of(Person.id, ids) if len(ids) <= NAME_MATCH_IDS else Person.id.in_(matching)


def people_query(criteria: PeopleFilter) -> Select:
    """The people matching the criteria, in the order asked for."""
    query = select(Person)
    if not criteria.include_left:
        query = query.where(Person.is_in_care.is_(True))
    if criteria.q and criteria.q.strip():
        query = query.where(search_condition(criteria.q))
    if criteria.status:
        query = query.where(Person.custody_status.in_([CustodyStatus(s) for s in criteria.status]))
    if criteria.placement_id:
        query = query.where(Person.placement_id == criteria.placement_id)
    if criteria.nationality:
        query = query.where(Person.nationality == criteria.nationality)
    if criteria.ethnicity:
        query = query.where(
            func.lower(Person.claimed_ethnicity) == criteria.ethnicity.strip().lower()
        )
    if criteria.legal_category:
        query = query.where(Person.legal_category == LegalCategory(criteria.legal_category))
    if criteria.vulnerability:
        query = query.where(
            exists().where(
                PersonVulnerability.person_id == Person.id,
                PersonVulnerability.kind == Vulnerability(criteria.vulnerability),
            )
        )
    if criteria.arrived_from:
        query = query.where(Person.arrived_on >= criteria.arrived_from)
    if criteria.arrived_to:
        query = query.where(Person.arrived_on <= criteria.arrived_to)
    column = SORTS.get(criteria.sort, Person.case_number)
    order = column.desc() if criteria.descending else column.asc()
    return query.order_by(order, Person.id.desc() if criteria.descending else Person.id)


@built_once
def list_options():
    """Loader options for a page of the people list (a fixed number of queries)."""
    return (selectinload(Person.vulnerability_rows), selectinload(Person.placement))


@built_once
def page_options():
    """Loader options for the person page: its timeline in a fixed number of
    queries (each event's placement and recorder joined to it), and the short
    lists a person has a few of (names, numbers, vulnerabilities) joined to the
    person's own row, so one statement brings all three."""
    events = selectinload(Person.custody_events)
    # A person has at most one track per agency, each a few steps: one statement.
    steps = selectinload(Person.verification_tracks).joinedload(VerificationTrack.events)
    return (
        joinedload(Person.aliases),
        joinedload(Person.identifiers),
        joinedload(Person.vulnerability_rows),
        events.joinedload(CustodyEvent.placement),
        events.joinedload(CustodyEvent.recorded_by),
        steps.joinedload(VerificationEvent.recorded_by),
    )


def get_person(person_id: int, options=()) -> Person:
    """The person with this id, or NotFound."""
    person = db.session.get(Person, person_id, options=options)
    if person is None:
        raise NotFound(_("There is no such person."))
    return person


# --- reference data ---------------------------------------------------------------

PLACEMENTS_CACHE = "rudenim.placements"


def active_placements(*, reuse: bool = False):
    """Placements in use, for choice lists: (id, name, kind) rows, not whole records
    (a national deployment has hundreds, on every form that names one).

    With ``reuse`` (a page that only shows them), this worker's list serves for
    up to PLACEMENT_CACHE_SECONDS; it is forgotten at once when this worker
    changes a placement.
    """
    return _placement_rows(
        "active",
        select(Placement.id, Placement.name, Placement.kind)
        .where(Placement.is_active.is_(True))
        .order_by(Placement.kind, Placement.name),
        reuse,
    )


def all_placements(*, reuse: bool = False):
    """Every placement, also those out of use, by name: (id, name, kind) rows for
    filters over records made when they were in use. Kept as active_placements."""
    return _placement_rows(
        "all", select(Placement.id, Placement.name, Placement.kind).order_by(Placement.name), reuse
    )


def _placement_rows(name: str, query, reuse: bool):
    kept = current_app.extensions.setdefault(PLACEMENTS_CACHE, {})
    if reuse and name in kept and kept[name][0] > monotonic():
        return kept[name][1]
    rows = db.session.execute(query).all()
    seconds = current_app.config["PLACEMENT_CACHE_SECONDS"]
    if seconds > 0:
        kept[name] = (monotonic() + seconds, rows)
    return rows


@event.listens_for(Session, "after_flush")
def _note_placement_changes(session, _flush_context):
    if any(isinstance(o, Placement) for o in (*session.new, *session.dirty, *session.deleted)):
        session.info[PLACEMENTS_CACHE] = True


@event.listens_for(Session, "after_commit")
def _forget_placements(session):
    # A change rolled back keeps its mark until the next commit: one list read again.
    if session.info.pop(PLACEMENTS_CACHE, False) and has_app_context():
        current_app.extensions.pop(PLACEMENTS_CACHE, None)


def occupancy() -> dict[int, int]:
    """People in care per placement id."""
    rows = db.session.execute(
        select(Person.placement_id, func.count())
        .where(Person.is_in_care.is_(True), Person.placement_id.is_not(None))
        .group_by(Person.placement_id)
    )
    return dict(rows.all())


def placement_is_over_capacity(placement: Placement | None) -> bool:
    """Whether more people are placed here than it has room for."""
    if placement is None or placement.capacity is None:
        return False
    count = db.session.scalar(
        select(func.count()).where(Person.placement_id == placement.id, Person.is_in_care.is_(True))
    )
    return count > placement.capacity


def save_placement(
    placement: Placement | None, *, kind: str, name: str, capacity: int | None, is_active=True
) -> Placement:
    """Create or change a placement; names are unique."""
    name = _clean(name)
    if not name:
        raise DomainError(_("Enter the placement's name."), field="name")
    kind = _enum(PlacementKind, kind, _("Choose the kind of placement."))
    if capacity is not None and capacity < 0:
        raise DomainError(_("Capacity cannot be negative."), field="capacity")
    # Compared in Python: SQLite's lower() folds ASCII letters only.
    others = [
        other
        for other in db.session.scalars(select(Placement))
        if other is not placement and other.name.casefold() == name.casefold()
    ]
    if others:
        raise DuplicateRecord(_("A placement named %(name)s exists.", name=name), field="name")
    lock_chain(db.session)
    if placement is None:
        placement = Placement(kind=kind, name=name, capacity=capacity, is_active=is_active)
        db.session.add(placement)
    else:
        if placement.kind != kind and occupancy().get(placement.id):
            raise DomainError(_("People are placed here; its kind cannot change."), field="kind")
        placement.kind, placement.name, placement.capacity = kind, name, capacity
        placement.is_active = is_active
    db.session.flush()
    return placement


def add_ethnicity_suggestion(name: str) -> EthnicitySuggestion:
    """Offer another ethnicity name while typing (it is never imposed)."""
    name = _clean(name)
    if not name or len(name) > 80:
        raise DomainError(_("Enter a name of up to 80 characters."), field="name")
    # Compared in Python: SQLite's lower() folds ASCII letters only, so "É" and "é"
    # (or the same name twice) slipped past it into the unique index.
    taken = {other.casefold() for other in db.session.scalars(select(EthnicitySuggestion.name))}
    if name.casefold() in taken:
        raise DuplicateRecord(_("%(name)s is already in the list.", name=name), field="name")
    suggestion = EthnicitySuggestion(name=name)
    db.session.add(suggestion)
    db.session.flush()
    return suggestion


def remove_ethnicity_suggestion(suggestion: EthnicitySuggestion) -> None:
    """Stop offering a name; records keep what people stated."""
    db.session.delete(suggestion)
    db.session.flush()


def ethnicity_suggestions() -> list[str]:
    """Names offered while typing a claimed ethnicity."""
    return list(
        db.session.scalars(select(EthnicitySuggestion.name).order_by(EthnicitySuggestion.name))
    )
