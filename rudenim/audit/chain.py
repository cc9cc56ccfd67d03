"""Appending to the hash chain and checking it."""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from rudenim.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from rudenim.clock import as_utc
from rudenim.extensions import built_once

HEAD_ID = 1

#: The columns a hash covers, in a fixed order.
HASHED_FIELDS = (
    "id",
    "occurred_at",
    "actor_id",
    "actor_name",
    "ip",
    "request_id",
    "action",
    "object_type",
    "object_id",
    "subject_type",
    "subject_id",
    "payload_sha256",
    "prev_hash",
)
#: What retention leaves in an erased event's changes and details.
ERASED = '{"erased": "retention"}'
#: The action of the event that records an anonymisation (its details list people).
RETENTION_ACTION = "retention_anonymise"


def _canonical(value):
    if isinstance(value, datetime):
        return as_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


def payload_digest(changes: str | None, details: str | None) -> str:
    """SHA-256 of an event's changes and details (the part retention may erase)."""
    text = json.dumps([changes, details], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def event_hash(row: dict) -> str:
    """SHA-256 over an event's content and the previous event's hash."""
    content = {field: _canonical(row.get(field)) for field in HASHED_FIELDS}
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def lock_head(connection: Connection) -> tuple[int, str]:
    """Lock the chain head until the transaction ends; return (last id, last hash)."""
    row = connection.execute(_lock_head_statement()).one_or_none()
    if row is None:
        # A database created without the initial migration's seed row.
        connection.execute(
            insert(AuditChainHead).values(id=HEAD_ID, last_id=0, last_hash=GENESIS_HASH)
        )
        return 0, GENESIS_HASH
    return row.last_id, row.last_hash


def append(
    connection: Connection, rows: Iterable[dict], head: tuple[int, str] | None = None
) -> list[dict]:
    """Append events (dicts of AuditEvent columns, without id and hashes) in order.

    ``head`` is the (last id, last hash) that ``lock_head`` returned in this
    transaction, if no append has moved the head since; without it the head is
    locked and read here.
    """
    rows = list(rows)
    if not rows:
        return []
    last_id, last_hash = head if head is not None else lock_head(connection)
    for row in rows:
        last_id += 1
        row["id"] = last_id
        row["payload_sha256"] = payload_digest(row.get("changes"), row.get("details"))
        row.setdefault("redacted_at", None)
        row["prev_hash"] = last_hash
        row["hash"] = last_hash = event_hash(row)
    connection.execute(_append_statement(), rows)
    connection.execute(_move_head_statement(), {"last_id": last_id, "last_hash": last_hash})
    return rows


# Every audited write issues these three: each is built once (see built_once).


@built_once
def _lock_head_statement():
    return (
        select(AuditChainHead.last_id, AuditChainHead.last_hash)
        .where(AuditChainHead.id == HEAD_ID)
        .with_for_update()
    )


@built_once
def _append_statement():
    return insert(AuditEvent)


@built_once
def _move_head_statement():
    # The new values come with each execution, as the SET clause.
    return update(AuditChainHead).where(AuditChainHead.id == HEAD_ID)


def _anonymised_subjects(connection: Connection) -> dict[tuple[str, str], int]:
    """(subject type, id) → the id of the retention event that anonymised it."""
    found: dict[tuple[str, str], int] = {}
    rows = connection.execute(
        select(AuditEvent.id, AuditEvent.details, AuditEvent.redacted_at).where(
            AuditEvent.action == RETENTION_ACTION
        )
    )
    for event_id, details, redacted_at in rows:
        if redacted_at is not None or not details:
            continue
        for person_id in json.loads(details).get("people", []):
            found.setdefault(("Person", str(person_id)), event_id)
    return found


def erase_payloads(connection: Connection, subject_type: str, subject_ids: list) -> int:
    """Erase changes and details of every event about these subjects (retention).

    The digest stays, so the chain still verifies; verification then requires a
    later retention event naming each erased subject.
    """
    from rudenim.clock import utcnow

    total = 0
    ids = [str(subject_id) for subject_id in subject_ids]
    for start in range(0, len(ids), 500):
        result = connection.execute(
            update(AuditEvent)
            .where(
                AuditEvent.subject_type == subject_type,
                AuditEvent.subject_id.in_(ids[start : start + 500]),
                AuditEvent.redacted_at.is_(None),
                AuditEvent.action != RETENTION_ACTION,
            )
            .values(changes=ERASED, details=ERASED, redacted_at=utcnow())
        )
        total += result.rowcount
    return total


@dataclass(frozen=True)
class ChainReport:
    """What a walk of the chain found."""

    count: int
    broken_at: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_at is None and self.problem is None


def verify(connection: Connection, batch_size: int = 2000) -> ChainReport:
    """Walk the whole chain in id order and report the first broken link."""
    fields = dict.fromkeys((*HASHED_FIELDS, "hash", "changes", "details", "redacted_at"))
    columns = [getattr(AuditEvent, field) for field in fields]
    erasable = _anonymised_subjects(connection)
    expected_prev = GENESIS_HASH
    expected_id = 1
    count = 0
    # Per statement: Connection.execution_options() would change the caller's
    # connection for the rest of its transaction (on PostgreSQL every later
    # statement, INSERTs included, would then go through a server-side cursor).
    with connection.execute(
        select(*columns).order_by(AuditEvent.id),
        execution_options={"yield_per": batch_size},
    ) as result:
        for row in result.mappings():
            if row["id"] != expected_id:
                return ChainReport(count, expected_id, f"event {expected_id} is missing")
            if row["prev_hash"] != expected_prev:
                return ChainReport(
                    count, row["id"], f"event {row['id']} does not follow the one before"
                )
            if event_hash(dict(row)) != row["hash"]:
                return ChainReport(
                    count, row["id"], f"event {row['id']} was changed after it was written"
                )
            if row["redacted_at"] is None:
                if payload_digest(row["changes"], row["details"]) != row["payload_sha256"]:
                    return ChainReport(
                        count, row["id"], f"event {row['id']} was changed after it was written"
                    )
            elif erasable.get((row["subject_type"], row["subject_id"]), 0) <= row["id"]:
                return ChainReport(
                    count,
                    row["id"],
                    f"event {row['id']} was erased without a retention event for its subject",
                )
            expected_prev = row["hash"]
            expected_id += 1
            count += 1
    head = connection.execute(
        select(AuditChainHead.last_id, AuditChainHead.last_hash).where(AuditChainHead.id == HEAD_ID)
    ).one_or_none()
    head_id, head_hash = (head.last_id, head.last_hash) if head else (0, GENESIS_HASH)
    if head_id < count:
        # Events after the one the head names were added without moving the head.
        return ChainReport(
            count, head_id + 1, f"event {head_id + 1} is after the chain head (event {head_id})"
        )
    if head_id > count:
        return ChainReport(
            count, count + 1, f"the chain ends at event {count} but its head names event {head_id}"
        )
    if head_hash != expected_prev:
        return ChainReport(count, count, f"event {count} is not the one the chain head names")
    return ChainReport(count)
