"""Audit events: append-only and hash-chained."""

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text, event
from sqlalchemy.orm import Mapped, Session, mapped_column

from rudenim.db_types import UTCDateTime
from rudenim.extensions import db

GENESIS_HASH = "0" * 64


class AuditEvent(db.Model):
    """One thing that happened, by whom, when and from where.

    Rows are written by ``rudenim.audit.chain`` only, in chain order: ``id`` is
    assigned there (1, 2, 3, …) and ``hash`` covers every other column and the
    previous event's hash, so any later edit, insertion or removal shows.
    """

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer, index=True)
    #: The username at the time, so the event reads the same after renames.
    actor_name: Mapped[str] = mapped_column(String(80))
    ip: Mapped[str | None] = mapped_column(String(45))
    request_id: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(40), index=True)
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(40))
    #: The record the event belongs to, e.g. the person whose alias changed.
    subject_type: Mapped[str | None] = mapped_column(String(40))
    subject_id: Mapped[str | None] = mapped_column(String(40))
    #: JSON text: {field: [before, after]}.
    changes: Mapped[str | None] = mapped_column(Text)
    #: JSON text: anything else worth keeping (filters of an export, a reason).
    details: Mapped[str | None] = mapped_column(Text)
    #: SHA-256 of changes and details. The chain hash covers this digest, so
    #: retention can erase the values of an anonymised person's events (see
    #: ``redacted_at``) and the chain still verifies.
    payload_sha256: Mapped[str] = mapped_column(String(64))
    #: When retention erased changes and details (the digest stays).
    redacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    #: A record's events newest first from the index alone (a person's page
    #: shows the newest of what may be thousands of views).
    __table_args__ = (
        Index("ix_audit_event_object", "object_type", "object_id", "id"),
        Index("ix_audit_event_subject", "subject_type", "subject_id", "id"),
    )

    def __repr__(self) -> str:
        return f"<AuditEvent {self.id} {self.action} {self.object_type}:{self.object_id}>"


class AuditChainHead(db.Model):
    """The single row that points at the newest event.

    Writers lock it (SELECT … FOR UPDATE) for the rest of their transaction, so
    on PostgreSQL concurrent writers append one after the other.
    """

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    last_hash: Mapped[str] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"<AuditChainHead {self.last_id}>"


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _refuse_rewrite(_mapper, _connection, target):
    """The trail is append-only: the ORM never updates or deletes an event."""
    raise RuntimeError(f"audit events are append-only: {target!r}")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_rewrite(state):
    """Nor does a bulk ``update(AuditEvent)`` / ``delete(AuditEvent)`` through a session."""
    if state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) == AuditEvent.__tablename__:
            raise RuntimeError("audit events are append-only")
