"""Writing explicit audit events, reading the trail, checking the chain."""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import bindparam, func, select

from rudenim.audit import chain
from rudenim.audit.capture import append_events, event_row
from rudenim.audit.context import Actor, current_actor
from rudenim.audit.models import AuditEvent
from rudenim.clock import local_days_span
from rudenim.extensions import built_once, db, writing


def record_event(
    action: str,
    *,
    object_type: str | None = None,
    object_id: object = None,
    subject: tuple[str, object] | None = None,
    details: dict | None = None,
    actor: Actor | None = None,
) -> dict:
    """Append one explicit event (login, export, page view, refusal …) to the trail."""
    event = event_row(
        action,
        actor or current_actor(),
        object_type=object_type,
        object_id=object_id,
        subject=subject,
        details=details,
    )
    # In a GET request (a page view) the event is written and committed at once.
    with writing():
        (row,) = append_events(db.session, [event])
    return row


def verify_chain() -> chain.ChainReport:
    """Walk the audit chain from the first event to the head."""
    return chain.verify(db.session.connection())


@dataclass
class AuditFilter:
    """What the audit log viewer narrows the trail by."""

    actor: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    date_from: date | None = None
    date_to: date | None = None


def filtered_events(criteria: AuditFilter):
    """A select of events matching the criteria, newest first."""
    query = select(AuditEvent)
    if criteria.actor:
        query = query.where(func.lower(AuditEvent.actor_name) == criteria.actor.strip().lower())
    if criteria.action:
        query = query.where(AuditEvent.action == criteria.action)
    type_, id_ = criteria.object_type, criteria.object_id
    if type_ and id_:
        query = query.where(
            ((AuditEvent.object_type == type_) & (AuditEvent.object_id == id_))
            | ((AuditEvent.subject_type == type_) & (AuditEvent.subject_id == id_))
        )
    elif type_:
        query = query.where((AuditEvent.object_type == type_) | (AuditEvent.subject_type == type_))
    elif id_:
        query = query.where((AuditEvent.object_id == id_) | (AuditEvent.subject_id == id_))
    begin, end = local_days_span(criteria.date_from, criteria.date_to)
    if begin:
        query = query.where(AuditEvent.occurred_at >= begin)
    if end:
        query = query.where(AuditEvent.occurred_at < end)
    return query.order_by(AuditEvent.id.desc())


def known_actions() -> list[str]:
    """Every action name that occurs in the trail, for the filter's choices."""
    return list(
        db.session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action))
    )


def history_query(subject_type: str, subject_id: object):
    """A select of the events about one record and the rows that belong to it,
    newest first."""
    return _events_about(subject_type, str(subject_id))


def history_of(subject_type: str, subject_id: object, limit: int = 200) -> list[AuditEvent]:
    """The newest events about one record and the rows that belong to it."""
    subject = {"subject_type": subject_type, "subject_id": str(subject_id)}
    return list(db.session.scalars(_history_statement(limit), subject))


@built_once
def _history_statement(limit: int):
    """The newest events about a subject bound at each execution (the person
    page shows them on every view)."""
    return _events_about(bindparam("subject_type"), bindparam("subject_id")).limit(limit)


def _events_about(subject_type, subject_id):
    return (
        select(AuditEvent)
        .where(AuditEvent.subject_type == subject_type, AuditEvent.subject_id == subject_id)
        .order_by(AuditEvent.id.desc())
    )
