"""People in the centre's care, their identifiers and custody history, and the
reference data (placements, ethnicity suggestions) that describe them."""

import enum
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rudenim.audit.capture import Audited
from rudenim.clock import utcnow
from rudenim.db_types import UTCDateTime, str_enum
from rudenim.extensions import db


class Sex(enum.StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


class LegalCategory(enum.StrEnum):
    REFUGEE = "refugee"
    ASYLUM_SEEKER = "asylum_seeker"
    IMMIGRATION_DETAINEE = "immigration_detainee"
    UNKNOWN = "unknown"


class Vulnerability(enum.StrEnum):
    MINOR = "minor"
    UNACCOMPANIED_MINOR = "unaccompanied_minor"
    MEDICAL = "medical"
    DISABILITY = "disability"
    PREGNANT = "pregnant"
    ELDERLY = "elderly"
    SURVIVOR_OF_VIOLENCE = "survivor_of_violence"


#: Vulnerabilities are shown in the order of their declaration.
_VULNERABILITY_ORDER = {kind: index for index, kind in enumerate(Vulnerability)}


class IdentifierKind(enum.StrEnum):
    UNHCR_REGISTRATION = "unhcr_registration"
    UNHCR_CASE = "unhcr_case"
    IOM_CASE = "iom_case"
    PASSPORT = "passport"
    OTHER = "other"


class CustodyStatus(enum.StrEnum):
    DETAINED = "detained"
    COMMUNITY_HOUSING = "community_housing"
    HOSPITAL = "hospital"
    RELEASED = "released"
    RESETTLED = "resettled"
    VOLUNTARY_RETURN = "voluntary_return"
    DEPORTED = "deported"
    ABSCONDED = "absconded"
    DECEASED = "deceased"

    @property
    def is_in_care(self) -> bool:
        """Whether the centre is still responsible for the person."""
        return self not in LEFT_CARE

    @property
    def placement_kind(self) -> "PlacementKind | None":
        """The kind of placement this status needs, if any."""
        return {
            CustodyStatus.DETAINED: PlacementKind.CENTRE,
            CustodyStatus.COMMUNITY_HOUSING: PlacementKind.HOUSING,
        }.get(self)


#: Statuses that end the centre's responsibility; only a supervisor reopens them.
LEFT_CARE = frozenset(
    {
        CustodyStatus.RELEASED,
        CustodyStatus.RESETTLED,
        CustodyStatus.VOLUNTARY_RETURN,
        CustodyStatus.DEPORTED,
        CustodyStatus.DECEASED,
    }
)


class PlacementKind(enum.StrEnum):
    CENTRE = "centre"  #: a block or room in the detention centre
    HOUSING = "housing"  #: a community housing site under the centre's supervision


class Placement(Audited, db.Model):
    """Where a person is housed: a block/room in the centre or a housing site."""

    __tablename__ = "placement"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[PlacementKind] = mapped_column(str_enum(PlacementKind, 16))
    name: Mapped[str] = mapped_column(String(120), unique=True)
    #: Beds; None when not set. Going over it warns, it does not refuse.
    capacity: Mapped[int | None] = mapped_column(Integer)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    def __repr__(self) -> str:
        return f"<Placement {self.name} ({self.kind})>"


class EthnicitySuggestion(Audited, db.Model):
    """A name offered while typing a claimed ethnicity; never imposed."""

    __tablename__ = "ethnicity_suggestion"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)

    def __repr__(self) -> str:
        return f"<EthnicitySuggestion {self.name}>"


class CaseNumberCounter(db.Model):
    """The last case number handed out per site and year; numbers are never reused."""

    __tablename__ = "case_number_counter"

    site: Mapped[str] = mapped_column(String(8), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)

    def __repr__(self) -> str:
        return f"<CaseNumberCounter {self.site}-{self.year} {self.last}>"


class Agency(enum.StrEnum):
    IOM = "iom"
    UNHCR = "unhcr"


class VerificationStatus(enum.StrEnum):
    NOT_REFERRED = "not_referred"
    REFERRED = "referred"
    IN_PROGRESS = "in_progress"
    VERIFIED = "verified"
    NOT_VERIFIED = "not_verified"
    CLOSED = "closed"


class Person(Audited, db.Model):
    """Someone the centre is responsible for, detained or in community housing."""

    __tablename__ = "person"
    __audit_ignore__ = frozenset({"name_key", "updated_at", "iom_status", "unhcr_status"})

    id: Mapped[int] = mapped_column(primary_key=True)
    case_number: Mapped[str] = mapped_column(String(24), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    #: Folded, transliteration-neutral form of the name for search (see names.py).
    name_key: Mapped[str] = mapped_column(String(400), index=True)
    sex: Mapped[Sex] = mapped_column(str_enum(Sex, 16))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    is_birth_date_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    #: ISO 3166-1 alpha-2 code, or "stateless" / "unknown".
    nationality: Mapped[str] = mapped_column(String(16))
    #: Exactly as the person states it; never derived from nationality.
    claimed_ethnicity: Mapped[str | None] = mapped_column(String(120))
    languages: Mapped[str | None] = mapped_column(String(200))
    needs_interpreter: Mapped[bool] = mapped_column(Boolean, default=False)
    legal_category: Mapped[LegalCategory] = mapped_column(str_enum(LegalCategory, 24))
    arrived_on: Mapped[date] = mapped_column(Date, index=True)
    notes: Mapped[str | None] = mapped_column(Text)

    #: Kept equal to the latest custody event by services.record_custody_change.
    custody_status: Mapped[CustodyStatus] = mapped_column(str_enum(CustodyStatus, 24))
    placement_id: Mapped[int | None] = mapped_column(ForeignKey("placement.id"), index=True)
    status_since: Mapped[date] = mapped_column(Date)
    is_in_care: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Where the person stands with each agency: their track's status, or not
    #: referred without one. Copied by verification.record_verification_step so
    #: the board counts from the person's own indexes; the tracks are the record.
    iom_status: Mapped[VerificationStatus] = mapped_column(
        str_enum(VerificationStatus, 16),
        default=VerificationStatus.NOT_REFERRED,
        server_default=VerificationStatus.NOT_REFERRED.value,
    )
    unhcr_status: Mapped[VerificationStatus] = mapped_column(
        str_enum(VerificationStatus, 16),
        default=VerificationStatus.NOT_REFERRED,
        server_default=VerificationStatus.NOT_REFERRED.value,
    )

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    #: When retention cleared names, identifiers and free text (see retention.py).
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    placement: Mapped[Placement | None] = relationship()
    aliases: Mapped[list["Alias"]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="Alias.id"
    )
    identifiers: Mapped[list["Identifier"]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="Identifier.id"
    )
    vulnerability_rows: Mapped[list["PersonVulnerability"]] = relationship(
        back_populates="person", cascade="all, delete-orphan"
    )
    custody_events: Mapped[list["CustodyEvent"]] = relationship(
        back_populates="person",
        order_by="(CustodyEvent.effective_on.desc(), CustodyEvent.id.desc())",
        cascade="all, delete-orphan",
    )
    verification_tracks: Mapped[list["VerificationTrack"]] = relationship(
        back_populates="person", order_by="VerificationTrack.agency"
    )

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index("ix_person_in_care_status", "is_in_care", "custody_status"),
        Index("ix_person_in_care_case_number", "is_in_care", "case_number"),
        # The board's counts per status from the index alone, its pages in case-number order.
        Index("ix_person_board_iom", "is_in_care", "custody_status", "iom_status", "case_number"),
        Index(
            "ix_person_board_unhcr", "is_in_care", "custody_status", "unhcr_status", "case_number"
        ),
        # The list filtered by nationality and status: counted from the index alone,
        # and its pages read in case-number order.
        Index(
            "ix_person_nationality_status",
            "nationality",
            "is_in_care",
            "custody_status",
            "case_number",
            "id",
        ),
    )

    @property
    def vulnerabilities(self) -> list[Vulnerability]:
        return sorted((row.kind for row in self.vulnerability_rows), key=_VULNERABILITY_ORDER.get)

    def age_on(self, day: date) -> int | None:
        """Age in whole years on ``day``, if a birth date is known."""
        if self.date_of_birth is None:
            return None
        birth = self.date_of_birth
        return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))

    def __repr__(self) -> str:
        return f"<Person {self.case_number}>"


class _BelongsToPerson(Audited):
    """Rows whose changes show in the person's own history."""

    def audit_subject(self):
        return ("Person", self.person_id)


class Alias(_BelongsToPerson, db.Model):
    """Another name the person is known by (spelling, earlier document …)."""

    __tablename__ = "alias"
    __audit_ignore__ = frozenset({"name_key"})

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(400), index=True)

    person: Mapped[Person] = relationship(back_populates="aliases")

    def __repr__(self) -> str:
        return f"<Alias {self.name!r} of {self.person_id}>"


class NameToken(db.Model):
    """The search index of people's names and aliases (``names.name_tokens``).

    Derived from the name keys and rebuilt whenever they change
    (``services.reindex_names``); it holds no fact of its own, so it is not
    audited, and retention deletes it with the names. Each token says which of
    the person's names it comes from, so that all the words of a search must
    meet in one name.
    """

    __tablename__ = "name_token"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    #: Which name: 0 is the person's own, otherwise the alias's id.
    name_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: A word of the name, or an ending of its joined form.
    is_word: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    token: Mapped[str] = mapped_column(String(200), primary_key=True)
    #: The whole name's key (``names.name_key``), so that a search of several
    #: words reads the rarest word's tokens and checks the others against the
    #: key beside each, in the index, instead of looking each name up again.
    name_key: Mapped[str] = mapped_column(String(400))

    __table_args__ = (
        Index("ix_name_token_search", "is_word", "token", "person_id", "name_no", "name_key"),
    )


class Identifier(_BelongsToPerson, db.Model):
    """A number an agency or a state gave the person; unique per kind."""

    __tablename__ = "identifier"
    __audit_ignore__ = frozenset({"value_key"})

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    kind: Mapped[IdentifierKind] = mapped_column(str_enum(IdentifierKind, 24))
    value: Mapped[str] = mapped_column(String(80))
    #: Upper-case, without spaces, dashes, dots or slashes: how numbers compare.
    value_key: Mapped[str] = mapped_column(String(80), index=True)

    person: Mapped[Person] = relationship(back_populates="identifiers")

    __table_args__ = (UniqueConstraint("kind", "value_key", name="uq_identifier_kind_value"),)

    def __repr__(self) -> str:
        return f"<Identifier {self.kind}={self.value}>"


class PersonVulnerability(_BelongsToPerson, db.Model):
    """One vulnerability marked on a person (minor, medical, …)."""

    __tablename__ = "person_vulnerability"

    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), primary_key=True)
    kind: Mapped[Vulnerability] = mapped_column(str_enum(Vulnerability, 32), primary_key=True)

    person: Mapped[Person] = relationship(back_populates="vulnerability_rows")

    __table_args__ = (Index("ix_person_vulnerability_kind", "kind", "person_id"),)

    def __repr__(self) -> str:
        return f"<PersonVulnerability {self.person_id} {self.kind}>"


class CustodyEvent(_BelongsToPerson, db.Model):
    """One step in a person's custody: nothing is overwritten, the latest is current."""

    __tablename__ = "custody_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    status: Mapped[CustodyStatus] = mapped_column(str_enum(CustodyStatus, 24))
    placement_id: Mapped[int | None] = mapped_column(ForeignKey("placement.id"))
    effective_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text, default="")
    #: A supervisor reopened the record of someone who had left care.
    is_reopening: Mapped[bool] = mapped_column(Boolean, default=False)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    person: Mapped[Person] = relationship(back_populates="custody_events")
    placement: Mapped[Placement | None] = relationship()
    recorded_by = relationship("User")

    __table_args__ = (Index("ix_custody_event_person", "person_id", "effective_on", "id"),)

    def __repr__(self) -> str:
        return f"<CustodyEvent {self.person_id} {self.status} {self.effective_on}>"


class DetentionReview(_BelongsToPerson, db.Model):
    """A periodic review of whether someone's detention is still justified."""

    __tablename__ = "detention_review"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    reviewed_on: Mapped[date] = mapped_column(Date)
    #: continue, release_recommended, transfer_to_housing_recommended
    outcome: Mapped[str] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(Text, default="")
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    reviewed_by = relationship("User")

    #: The latest review per person (the dashboard, the detention clock) is read
    #: from the index alone.
    __table_args__ = (Index("ix_detention_review_person", "person_id", "reviewed_on"),)

    def __repr__(self) -> str:
        return f"<DetentionReview {self.person_id} {self.reviewed_on}>"


S = VerificationStatus
#: The verification state machine (DESIGN.md): status → the statuses it may move to.
VERIFICATION_STEPS: dict[VerificationStatus, frozenset[VerificationStatus]] = {
    S.NOT_REFERRED: frozenset({S.REFERRED}),
    S.REFERRED: frozenset({S.IN_PROGRESS}),
    S.IN_PROGRESS: frozenset({S.VERIFIED, S.NOT_VERIFIED}),
    S.VERIFIED: frozenset({S.CLOSED}),
    S.NOT_VERIFIED: frozenset({S.CLOSED, S.IN_PROGRESS}),
    S.CLOSED: frozenset({S.REFERRED}),
}
del S


class VerificationTrack(_BelongsToPerson, db.Model):
    """Where one person stands with one agency; the latest event is the status."""

    __tablename__ = "verification_track"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    agency: Mapped[Agency] = mapped_column(str_enum(Agency, 8))
    status: Mapped[VerificationStatus] = mapped_column(str_enum(VerificationStatus, 16))
    #: The date of the latest step.
    status_on: Mapped[date] = mapped_column(Date)
    #: The agency's reference number as last recorded.
    reference: Mapped[str | None] = mapped_column(String(80))
    reference_key: Mapped[str | None] = mapped_column(String(80))

    person: Mapped[Person] = relationship(back_populates="verification_tracks")
    events: Mapped[list["VerificationEvent"]] = relationship(
        back_populates="track",
        order_by="(VerificationEvent.occurred_on.desc(), VerificationEvent.id.desc())",
    )

    __table_args__ = (
        UniqueConstraint("person_id", "agency", name="uq_verification_track_person_agency"),
        Index("ix_verification_track_board", "agency", "status", "status_on"),
        Index("ix_verification_track_reference", "agency", "reference_key"),
    )

    def __repr__(self) -> str:
        return f"<VerificationTrack {self.person_id} {self.agency} {self.status}>"


class VerificationEvent(_BelongsToPerson, db.Model):
    """One step of a verification track, dated, with the agency's reference."""

    __tablename__ = "verification_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("verification_track.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    agency: Mapped[Agency] = mapped_column(str_enum(Agency, 8))
    from_status: Mapped[VerificationStatus] = mapped_column(str_enum(VerificationStatus, 16))
    to_status: Mapped[VerificationStatus] = mapped_column(str_enum(VerificationStatus, 16))
    occurred_on: Mapped[date] = mapped_column(Date)
    reference: Mapped[str | None] = mapped_column(String(80))
    reference_key: Mapped[str | None] = mapped_column(String(80))
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    track: Mapped[VerificationTrack] = relationship(back_populates="events")
    recorded_by = relationship("User")

    __table_args__ = (Index("ix_verification_event_reference", "agency", "reference_key"),)

    def __repr__(self) -> str:
        return f"<VerificationEvent {self.person_id} {self.agency} {self.to_status}>"
