"""Automatic capture of every insert, update and delete of audited models.

A model opts in by inheriting ``Audited``. The session hooks below write one
audit event per changed row, with the field-level before/after, in the same
transaction as the change itself.
"""

import enum
import json
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from rudenim.audit import chain
from rudenim.audit.context import current_actor
from rudenim.clock import utcnow

REDACTED = "[redacted]"
#: Where a session keeps the chain head it has locked: (last id, last hash).
_HEAD = "audit_chain_head"


class Audited:
    """Mixin: every change of this model is written to the audit trail."""

    #: Columns whose values never enter the trail (only that they changed).
    __audit_redact__: frozenset[str] = frozenset()
    #: Columns not worth an entry on their own (e.g. bookkeeping timestamps).
    __audit_ignore__: frozenset[str] = frozenset()

    def audit_subject(self) -> tuple[str, object] | None:
        """The record this row belongs to, for per-record history (default: itself)."""
        return None


def to_json_value(value):
    """A column value as something JSON can hold, readably."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_json_value(item) for key, item in value.items()}
    return str(value)


def dumps(value) -> str | None:
    """Canonical JSON text for the trail."""
    if value is None:
        return None
    return json.dumps(to_json_value(value), sort_keys=True, ensure_ascii=False)


def _column_keys(obj) -> list[str]:
    return [attr.key for attr in inspect(obj).mapper.column_attrs]


def _shown(obj, key, value):
    return REDACTED if key in obj.__audit_redact__ and value is not None else value


def _snapshot(obj) -> dict:
    # The instance dict holds what was written or loaded; reading attributes
    # instead could load expired ones with a query in the middle of a flush.
    values = inspect(obj).dict
    return {
        key: _shown(obj, key, values[key])
        for key in _column_keys(obj)
        if key not in obj.__audit_ignore__ and values.get(key) is not None
    }


def _diff(obj) -> dict:
    state = inspect(obj)
    changes = {}
    for key in _column_keys(obj):
        if key in obj.__audit_ignore__:
            continue
        history = state.attrs[key].history
        if not history.has_changes():
            continue
        before = history.deleted[0] if history.deleted else None
        after = history.added[0] if history.added else None
        if before == after:
            continue
        changes[key] = [_shown(obj, key, before), _shown(obj, key, after)]
    return changes


def _identity(obj) -> str:
    state = inspect(obj)
    identity = state.identity
    if identity is None:
        # A row inserted by this flush has its key only after the flush ends;
        # its primary key values are already in the instance dict.
        mapper = state.mapper
        identity = [
            state.dict.get(mapper.get_property_by_column(column).key)
            for column in mapper.primary_key
        ]
    if any(part is None for part in identity):
        return ""
    return ",".join(str(part) for part in identity)


def event_row(
    action: str,
    actor,
    *,
    object_type: str | None,
    object_id: object,
    subject: tuple[str, object] | None = None,
    changes: dict | None = None,
    details: dict | None = None,
) -> dict:
    """One event as the chain stores it, now; its subject is its object unless given."""
    subject_type, subject_id = subject if subject else (object_type, object_id)
    return {
        "occurred_at": utcnow(),
        "actor_id": actor.user_id,
        "actor_name": actor.name,
        "ip": actor.ip,
        "request_id": actor.request_id,
        "action": action,
        "object_type": object_type,
        "object_id": None if object_id is None else str(object_id),
        "subject_type": subject_type,
        "subject_id": None if subject_id is None else str(subject_id),
        "changes": dumps(changes) if changes else None,
        "details": dumps(details) if details else None,
    }


def _event_row(action: str, obj, changes: dict) -> dict:
    return event_row(
        action,
        current_actor(),
        object_type=type(obj).__name__,
        object_id=_identity(obj),
        subject=obj.audit_subject(),
        changes=changes,
    )


def _has_audited_changes(session: Session) -> bool:
    return any(isinstance(obj, Audited) for obj in (*session.new, *session.dirty, *session.deleted))


def lock_chain(session: Session) -> tuple[int, str]:
    """Take the chain head's lock now, before this transaction writes anything
    else; return the head, (last id, last hash).

    Every writer takes this lock first, so two transactions never wait on each
    other's rows while each holds half of what the other needs. The head is
    read once a transaction: while it holds the lock only it moves the head,
    through ``append_events``, which keeps the new one.
    """
    head = session.info.get(_HEAD)
    if head is None:
        head = session.info[_HEAD] = chain.lock_head(session.connection())
    return head


def append_events(session: Session, rows: list[dict]) -> list[dict]:
    """Append events to the chain in the session's transaction (the only way
    the app writes them), after the head it has locked."""
    written = chain.append(session.connection(), rows, head=lock_chain(session))
    if written:
        session.info[_HEAD] = (written[-1]["id"], written[-1]["hash"])
    return written


@event.listens_for(Session, "before_flush")
def _lock_before_writing(session, _flush_context, _instances):
    if _has_audited_changes(session):
        lock_chain(session)


@event.listens_for(Session, "after_flush")
def _write_events(session, _flush_context):
    rows = []
    for obj in session.new:
        if isinstance(obj, Audited):
            rows.append(_event_row("create", obj, _snapshot(obj)))
    for obj in session.dirty:
        if isinstance(obj, Audited) and obj not in session.deleted:
            changes = _diff(obj)
            if changes:
                rows.append(_event_row("update", obj, changes))
    for obj in session.deleted:
        if isinstance(obj, Audited):
            rows.append(_event_row("delete", obj, _snapshot(obj)))
    if rows:
        append_events(session, rows)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
@event.listens_for(Session, "after_soft_rollback")
def _forget_lock(session, *_args):
    # A rollback, even of a savepoint, may have moved the head back: read it again.
    session.info.pop(_HEAD, None)
