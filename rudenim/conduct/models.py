"""The house-rule catalogue, violations and their review, amendments, and the
record of when the rules were explained to each person."""

import enum
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rudenim.audit.capture import Audited
from rudenim.cases.models import CustodyEvent, Person
from rudenim.clock import utcnow
from rudenim.db_types import UTCDateTime, str_enum
from rudenim.extensions import db


class Sanction(enum.StrEnum):
    """The only sanctions that exist. Collective sanctions, corporal punishment,
    reduced food or water, restraints as punishment, a dark or always-lit cell
    and banning family contact are not in this vocabulary and cannot be entered."""

    VERBAL_WARNING = "verbal_warning"
    WRITTEN_WARNING = "written_warning"
    PRIVILEGE_RESTRICTION = "privilege_restriction"
    TRANSFER_TO_DETENTION = "transfer_to_detention"
    POLICE_REFERRAL = "police_referral"

    @property
    def has_duration(self) -> bool:
        """Whether the sanction runs until an end (or review) date."""
        return self in (Sanction.PRIVILEGE_RESTRICTION, Sanction.TRANSFER_TO_DETENTION)


class Severity(enum.StrEnum):
    MINOR = "minor"
    MODERATE = "moderate"
    SERIOUS = "serious"


class ViolationStatus(enum.StrEnum):
    REPORTED = "reported"
    UNDER_REVIEW = "under_review"
    UPHELD = "upheld"
    DISMISSED = "dismissed"
    APPEALED = "appealed"
    APPEAL_UPHELD = "appeal_upheld"
    APPEAL_OVERTURNED = "appeal_overturned"

    @property
    def is_decided(self) -> bool:
        return self not in (ViolationStatus.REPORTED, ViolationStatus.UNDER_REVIEW)


class HouseRule(Audited, db.Model):
    """One rule of the centre's house rules (tata tertib)."""

    __tablename__ = "house_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    title_id: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    description_id: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    #: A criminal matter: only then may a breach be referred to the police.
    is_criminal: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    sanctions: Mapped[list["RuleSanction"]] = relationship(
        back_populates="rule", cascade="all, delete-orphan", order_by="RuleSanction.sanction"
    )

    def title(self, language: str) -> str:
        return self.title_id if language == "id" else self.title_en

    def description(self, language: str) -> str:
        return self.description_id if language == "id" else self.description_en

    def allowed(self, sanction: Sanction) -> "RuleSanction | None":
        for row in self.sanctions:
            if row.sanction is sanction:
                return row
        return None

    def __repr__(self) -> str:
        return f"<HouseRule {self.code}>"


class RuleSanction(Audited, db.Model):
    """A sanction a rule allows, with its longest duration in days."""

    __tablename__ = "rule_sanction"

    rule_id: Mapped[int] = mapped_column(ForeignKey("house_rule.id"), primary_key=True)
    sanction: Mapped[Sanction] = mapped_column(str_enum(Sanction, 32), primary_key=True)
    #: None for sanctions without a duration (warnings, police referral).
    max_days: Mapped[int | None] = mapped_column(Integer)

    rule: Mapped[HouseRule] = relationship(back_populates="sanctions")

    def audit_subject(self):
        return ("HouseRule", self.rule_id)

    def __repr__(self) -> str:
        return f"<RuleSanction {self.rule_id} {self.sanction} {self.max_days}>"


class _AboutPerson(Audited):
    def audit_subject(self):
        return ("Person", self.person_id)


class RulesExplanation(_AboutPerson, db.Model):
    """When, and in which language, the house rules were explained to a person."""

    __tablename__ = "rules_explanation"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    explained_on: Mapped[date] = mapped_column(Date)
    language: Mapped[str] = mapped_column(String(80))
    #: The interpreter's name, or empty when none was needed.
    interpreter: Mapped[str] = mapped_column(String(120), default="")
    explained_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    explained_by = relationship("User")

    def __repr__(self) -> str:
        return f"<RulesExplanation {self.person_id} {self.explained_on}>"


class Violation(_AboutPerson, db.Model):
    """A reported breach of one house rule by one person, and its review.

    Each review step keeps who did it and when. Once decided it is read-only:
    corrections are amendments with a reason.
    """

    __tablename__ = "violation"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    rule_id: Mapped[int] = mapped_column(ForeignKey("house_rule.id"), index=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    location: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    witnesses: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[Severity] = mapped_column(str_enum(Severity, 16))
    status: Mapped[ViolationStatus] = mapped_column(str_enum(ViolationStatus, 24))
    reported_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # Review: the charge made known, in a language the person understands.
    charge_notified_on: Mapped[date | None] = mapped_column(Date)
    charge_language: Mapped[str | None] = mapped_column(String(80))
    #: The interpreter's name, or "" when none was needed.
    charge_interpreter: Mapped[str | None] = mapped_column(String(120))
    charge_notified_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    charge_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Review: the person's own account.
    statement: Mapped[str | None] = mapped_column(Text)
    statement_declined: Mapped[bool] = mapped_column(Boolean, default=False)
    statement_recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    statement_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Review: what was looked at.
    evidence: Mapped[str | None] = mapped_column(Text)
    evidence_recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    evidence_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Decision.
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_on: Mapped[date | None] = mapped_column(Date)
    reasons: Mapped[str | None] = mapped_column(Text)
    alternatives_considered: Mapped[str | None] = mapped_column(Text)
    sanction: Mapped[Sanction | None] = mapped_column(str_enum(Sanction, 32))
    #: For a restriction: which privilege (e.g. "evening outings").
    sanction_privilege: Mapped[str | None] = mapped_column(String(200))
    sanction_starts_on: Mapped[date | None] = mapped_column(Date)
    #: The end date (or, for a transfer, the review date).
    sanction_ends_on: Mapped[date | None] = mapped_column(Date, index=True)
    appeal_rights_told_on: Mapped[date | None] = mapped_column(Date)
    transfer_event_id: Mapped[int | None] = mapped_column(ForeignKey("custody_event.id"))

    # Appeal.
    appealed_on: Mapped[date | None] = mapped_column(Date)
    appeal_grounds: Mapped[str | None] = mapped_column(Text)
    appeal_recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    appeal_decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    appeal_decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    appeal_reasons: Mapped[str | None] = mapped_column(Text)
    #: The custody event that undid an overturned transfer.
    restore_event_id: Mapped[int | None] = mapped_column(ForeignKey("custody_event.id"))

    version: Mapped[int] = mapped_column(Integer, nullable=False)

    person: Mapped[Person] = relationship()
    rule: Mapped[HouseRule] = relationship()
    reported_by = relationship("User", foreign_keys=[reported_by_id])
    charge_notified_by = relationship("User", foreign_keys=[charge_notified_by_id])
    statement_recorded_by = relationship("User", foreign_keys=[statement_recorded_by_id])
    evidence_recorded_by = relationship("User", foreign_keys=[evidence_recorded_by_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])
    appeal_recorded_by = relationship("User", foreign_keys=[appeal_recorded_by_id])
    appeal_decided_by = relationship("User", foreign_keys=[appeal_decided_by_id])
    transfer_event: Mapped[CustodyEvent | None] = relationship(foreign_keys=[transfer_event_id])
    restore_event: Mapped[CustodyEvent | None] = relationship(foreign_keys=[restore_event_id])
    amendments: Mapped[list["ViolationAmendment"]] = relationship(
        back_populates="violation", order_by="ViolationAmendment.id"
    )

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index("ix_violation_person", "person_id", "occurred_at"),
        Index("ix_violation_status_occurred", "status", "occurred_at"),
        # The log filtered by status and severity: its count from the index alone.
        Index("ix_violation_status_severity", "status", "severity", "occurred_at"),
        Index("ix_violation_occurred", "occurred_at"),
        # The review queue: each open status's first reported, from the index.
        Index("ix_violation_status_reported", "status", "reported_at", "id"),
    )

    @property
    def is_decided(self) -> bool:
        return self.status.is_decided

    def sanction_is_active(self, today: date) -> bool:
        """Whether an upheld sanction is running on ``today``."""
        if (
            self.sanction is None
            or not self.sanction.has_duration
            or self.status
            not in (
                ViolationStatus.UPHELD,
                ViolationStatus.APPEALED,
                ViolationStatus.APPEAL_UPHELD,
            )
        ):
            return False
        end = self.sanction_ends_on or self.sanction_starts_on
        return end is not None and self.sanction_starts_on <= today <= end

    def __repr__(self) -> str:
        return f"<Violation {self.id} {self.status}>"


class ViolationAmendment(_AboutPerson, db.Model):
    """A correction of a decided violation, with the reason for it."""

    __tablename__ = "violation_amendment"

    id: Mapped[int] = mapped_column(primary_key=True)
    violation_id: Mapped[int] = mapped_column(ForeignKey("violation.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    field: Mapped[str] = mapped_column(String(40))
    old_value: Mapped[str] = mapped_column(Text, default="")
    new_value: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text)
    amended_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    amended_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    violation: Mapped[Violation] = relationship(back_populates="amendments")
    amended_by = relationship("User")

    def __repr__(self) -> str:
        return f"<ViolationAmendment {self.violation_id} {self.field}>"
