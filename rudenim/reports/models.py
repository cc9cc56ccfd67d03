"""The disclosure ledger: what went out about whom, to whom, when, by whom."""

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rudenim.audit.capture import Audited
from rudenim.clock import utcnow
from rudenim.db_types import UTCDateTime
from rudenim.extensions import db


class Disclosure(Audited, db.Model):
    """One export or printed list that left the centre (or stayed internal)."""

    __tablename__ = "disclosure"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The column profile, which names the recipient: unhcr, iom or internal.
    profile: Mapped[str] = mapped_column(String(16))
    #: csv, xlsx or print
    format: Mapped[str] = mapped_column(String(8))
    #: JSON text of the filters that selected the people.
    filters: Mapped[str] = mapped_column(Text)
    row_count: Mapped[int] = mapped_column(Integer)
    exported_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    exported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    exported_by = relationship("User")

    def __repr__(self) -> str:
        return f"<Disclosure {self.id} {self.profile} {self.format} {self.row_count}>"


class DisclosedPerson(db.Model):
    """That one person's record was in one disclosure (written in bulk, covered
    by the disclosure's own audit event).

    No foreign keys: the rows are copied from the person table in the
    transaction that writes their disclosure (``services.create_disclosure``),
    and people are anonymised, never deleted, so a check per row could never
    fail; on PostgreSQL it was a third of an export's time at 100,000 rows.
    """

    __tablename__ = "disclosed_person"

    disclosure_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(Integer, primary_key=True, index=True)

    def __repr__(self) -> str:
        return f"<DisclosedPerson {self.disclosure_id} {self.person_id}>"
