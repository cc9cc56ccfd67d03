"""Monitoring periods, check-ins and individual flags.

Whether a period or a flag is in force is computed from dates every time it is
asked: nothing depends on a scheduler having run.
"""

import enum
from datetime import date, datetime, timedelta

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rudenim.audit.capture import Audited
from rudenim.cases.models import Person, Placement
from rudenim.clock import utcnow
from rudenim.conduct.models import Violation
from rudenim.db_types import UTCDateTime, str_enum
from rudenim.extensions import db


class PeriodKind(enum.StrEnum):
    ELECTION = "election"
    OTHER = "other"


class MonitoringPeriod(Audited, db.Model):
    """A stretch of days (e.g. "Pilkada 2024") with more frequent check-ins."""

    __tablename__ = "monitoring_period"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[PeriodKind] = mapped_column(str_enum(PeriodKind, 16))
    starts_on: Mapped[date] = mapped_column(Date)
    #: The last day of the period (inclusive).
    ends_on: Mapped[date] = mapped_column(Date)
    #: How often people are checked in while the period is active.
    checkin_interval_hours: Mapped[int] = mapped_column(Integer)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Set when a supervisor ended the period early: not active from this day on.
    closed_on: Mapped[date | None] = mapped_column(Date)
    closed_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_monitoring_period_dates", "starts_on", "ends_on"),)

    def last_day(self) -> date:
        """The last day it is active: its end, or the day before it was closed."""
        if self.closed_on is not None:
            return min(self.ends_on, self.closed_on - timedelta(days=1))
        return self.ends_on

    def is_active_on(self, day: date) -> bool:
        return self.starts_on <= day <= self.last_day()

    def __repr__(self) -> str:
        return f"<MonitoringPeriod {self.name} {self.starts_on}–{self.ends_on}>"


class CheckInOutcome(enum.StrEnum):
    PRESENT = "present"
    ABSENT = "absent"
    UNWELL = "unwell"
    REFUSED = "refused"


class _AboutPerson(Audited):
    def audit_subject(self):
        return ("Person", self.person_id)


class CheckIn(_AboutPerson, db.Model):
    """One person seen (or not) at one roll call."""

    __tablename__ = "check_in"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    placement_id: Mapped[int | None] = mapped_column(ForeignKey("placement.id"))
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[CheckInOutcome] = mapped_column(str_enum(CheckInOutcome, 16))
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    #: An absence stays on the dashboard until someone follows it up.
    followed_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    followed_up_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    follow_up_note: Mapped[str | None] = mapped_column(Text)

    person: Mapped[Person] = relationship()
    placement: Mapped[Placement | None] = relationship()
    recorded_by = relationship("User", foreign_keys=[recorded_by_id])
    followed_up_by = relationship("User", foreign_keys=[followed_up_by_id])

    __table_args__ = (
        Index("ix_check_in_person_time", "person_id", "checked_at"),
        Index("ix_check_in_open_absences", "outcome", "followed_up_at"),
    )

    def __repr__(self) -> str:
        return f"<CheckIn {self.person_id} {self.outcome} {self.checked_at}>"


class FlagCategory(enum.StrEnum):
    """Why one person gets closer attention. No category names a group."""

    CONDUCT = "conduct"
    ABSCONDING_RISK = "absconding_risk"
    PROTECTION_CONCERN = "protection_concern"
    MEDICAL = "medical"
    OTHER = "other"


class FlagStatus(enum.StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    LIFTED = "lifted"


class MonitoringFlag(_AboutPerson, db.Model):
    """Closer attention to one person in one period, for a stated reason.

    Its only effects are a shorter check-in interval and its visibility to
    staff; it is never a sanction. It is in force only when approved, from
    approval to its end date (never after the period ends), unless lifted.
    """

    __tablename__ = "monitoring_flag"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    period_id: Mapped[int] = mapped_column(ForeignKey("monitoring_period.id"), index=True)
    category: Mapped[FlagCategory] = mapped_column(str_enum(FlagCategory, 24))
    #: For a conduct flag: the upheld violation of this same person it rests on.
    violation_id: Mapped[int | None] = mapped_column(ForeignKey("violation.id"))
    reason: Mapped[str] = mapped_column(Text)
    handling_instructions: Mapped[str] = mapped_column(Text, default="")
    ends_on: Mapped[date] = mapped_column(Date)
    status: Mapped[FlagStatus] = mapped_column(str_enum(FlagStatus, 16))
    proposed_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_on: Mapped[date | None] = mapped_column(Date)
    decision_note: Mapped[str | None] = mapped_column(Text)
    person_told_on: Mapped[date | None] = mapped_column(Date)
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lifted_on: Mapped[date | None] = mapped_column(Date)
    lift_reason: Mapped[str | None] = mapped_column(Text)

    person: Mapped[Person] = relationship()
    period: Mapped[MonitoringPeriod] = relationship()
    violation: Mapped[Violation | None] = relationship()
    proposed_by = relationship("User", foreign_keys=[proposed_by_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])
    lifted_by = relationship("User", foreign_keys=[lifted_by_id])

    __table_args__ = (
        Index("ix_monitoring_flag_person", "person_id", "status"),
        Index("ix_monitoring_flag_status_end", "status", "ends_on"),
    )

    def effective_end(self) -> date:
        """The last day in force: its end date, capped by the period's end."""
        return min(self.ends_on, self.period.last_day())

    def is_active_on(self, day: date) -> bool:
        """Approved, started, not lifted, not past its (capped) end."""
        return (
            self.status is FlagStatus.APPROVED
            and self.decided_on is not None
            and self.decided_on <= day <= self.effective_end()
        )

    def __repr__(self) -> str:
        return f"<MonitoringFlag {self.person_id} {self.category} {self.status}>"
