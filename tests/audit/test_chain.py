"""The hash chain: an untouched trail verifies; any edit, removal or insertion shows."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, event, select, text

from rudenim.audit import chain
from rudenim.audit.capture import append_events, dumps
from rudenim.audit.context import Actor, acting_as
from rudenim.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from rudenim.audit.services import record_event, verify_chain
from rudenim.auth.services import create_user
from rudenim.extensions import db as _db
from tests.conftest import PASSWORD

EVENTS = 5
FIRST, MIDDLE, LAST = 1, 3, EVENTS

#: For every stored column of an event, a value no event in the chain below holds.
FORGED = {
    "id": 1000,
    "occurred_at": datetime(2024, 11, 27, 3, 0, 59, tzinfo=UTC),
    "actor_id": 999,
    "actor_name": "mallory",
    "ip": "203.0.113.66",
    "request_id": "f" * 16,
    "action": "view_person",
    "object_type": "Violation",
    "object_id": "999",
    "subject_type": "Violation",
    "subject_id": "999",
    "changes": dumps({"decision": ["dismissed", "upheld"]}),
    "details": dumps({"reason": "none"}),
    "payload_sha256": "d" * 64,
    "redacted_at": datetime(2025, 1, 1, tzinfo=UTC),
    "prev_hash": "f" * 64,
    "hash": "e" * 64,
}


def full_event(number: int) -> dict:
    """An event with every column filled, so tampering with any of them is a real change."""
    event = {
        "occurred_at": datetime(2024, 11, 27, 3, 0, number, 123456, tzinfo=UTC),
        "actor_id": 40 + number,
        "actor_name": f"supervisor{number}",
        "ip": f"10.0.0.{number}",
        "request_id": f"{number:016x}",
        "action": "update",
        "object_type": "Person",
        "object_id": str(number),
        "subject_type": "Person",
        "subject_id": str(number),
        "changes": dumps({"full_name": ["Before", f"After {number}"]}),
        "details": dumps({"reason": f"correction {number}"}),
    }
    event["payload_sha256"] = chain.payload_digest(event["changes"], event["details"])
    return event


def stored(db, event_id: int) -> dict:
    """An event's columns as they are in the database."""
    row = db.session.execute(select(AuditEvent.__table__).where(AuditEvent.id == event_id))
    return dict(row.mappings().one())


def raw_update(db, event_id: int, **values) -> None:
    """Change stored columns with plain SQL, as someone with database access could."""
    columns = AuditEvent.__table__.c
    assignments = ", ".join(f"{name} = :{name}" for name in values)
    # Column names come from the model, never from input.
    statement = text(f"UPDATE audit_event SET {assignments} WHERE id = :event_id")  # noqa: S608
    statement = statement.bindparams(
        *(bindparam(name, type_=columns[name].type) for name in values)
    )
    result = db.session.execute(statement, {**values, "event_id": event_id})
    assert result.rowcount == 1
    db.session.commit()


def raw_insert(db, row: dict) -> None:
    """Insert an event with plain SQL, bypassing the chain writer."""
    columns = AuditEvent.__table__.c
    names = [*chain.HASHED_FIELDS, "hash", "changes", "details"]
    statement = text(
        f"INSERT INTO audit_event ({', '.join(names)}) "  # noqa: S608  (names from the model)
        f"VALUES ({', '.join(':' + name for name in names)})"
    ).bindparams(bindparam("occurred_at", type_=columns["occurred_at"].type))
    db.session.execute(statement, {name: row.get(name) for name in names})
    db.session.commit()


@pytest.fixture
def five_events(db):
    """A committed chain of five fully filled events; the chain verifies."""
    written = append_events(db.session, [full_event(number) for number in range(1, EVENTS + 1)])
    db.session.commit()
    report = verify_chain()
    assert report.ok, report
    assert report.count == EVENTS
    return written


#: Covered indirectly: changes and details through payload_sha256 (which the hash
#: covers), redacted_at by the rule that only a retention event allows erasure.
INDIRECT = {"changes", "details", "redacted_at"}


def test_hashed_fields_cover_every_column():
    # A column added later without adding it to the hash could be edited unseen.
    columns = set(AuditEvent.__table__.columns.keys())
    assert set(chain.HASHED_FIELDS) | INDIRECT == columns - {"hash"}


def test_empty_chain_verifies(db):
    report = verify_chain()

    assert report.ok
    assert report.count == 0


def test_chain_written_by_the_app_verifies(db):
    with acting_as(Actor(7, "supervisor1", "10.0.0.9", "abc123")):
        user, _ = create_user("ani", "officer", password=PASSWORD)
        db.session.commit()
        record_event("login", object_type="User", object_id=user.id, details={"method": "form"})
        user.full_name = "Ani Wulandari"
        db.session.commit()
        db.session.delete(user)
        db.session.commit()

    report = verify_chain()

    assert report.ok, report
    assert report.count == 4
    head = db.session.get(AuditChainHead, chain.HEAD_ID)
    assert (head.last_id, head.last_hash) == (4, stored(db, 4)["hash"])


def test_each_event_links_to_the_one_before(db, five_events):
    hashes = [GENESIS_HASH] + [row["hash"] for row in five_events]

    for number in range(1, EVENTS + 1):
        event = stored(db, number)
        assert event["prev_hash"] == hashes[number - 1]
        assert event["hash"] == chain.event_hash(event)


def test_verify_walks_the_chain_in_batches(db, five_events):
    report = chain.verify(db.session.connection(), batch_size=2)

    assert report.ok
    assert report.count == EVENTS


def test_writing_after_verifying_in_the_same_transaction(db, five_events):
    # Verifying must leave the session's connection as it found it (on PostgreSQL
    # a streaming option left behind made the next INSERT fail).
    assert verify_chain().ok
    record_event("after_verify")
    db.session.commit()

    report = verify_chain()
    assert report.ok
    assert report.count == EVENTS + 1


@pytest.mark.parametrize("position", [FIRST, MIDDLE, LAST], ids=["first", "middle", "last"])
@pytest.mark.parametrize("field", [*chain.HASHED_FIELDS, "hash", *sorted(INDIRECT)])
def test_tampering_with_any_field_of_any_event_is_named(db, five_events, field, position):
    assert stored(db, position)[field] != FORGED[field]

    raw_update(db, position, **{field: FORGED[field]})

    report = verify_chain()
    assert not report.ok
    assert report.broken_at == position
    assert f"event {position}" in report.problem
    assert report.count == position - 1


def test_deleting_an_event_in_the_middle_is_detected(db, five_events):
    db.session.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": MIDDLE})
    db.session.commit()

    report = verify_chain()

    assert not report.ok
    assert report.broken_at == MIDDLE
    assert report.problem == f"event {MIDDLE} is missing"


def test_deleting_the_first_event_is_detected(db, five_events):
    db.session.execute(text("DELETE FROM audit_event WHERE id = 1"))
    db.session.commit()

    report = verify_chain()

    assert report.broken_at == 1
    assert report.problem == "event 1 is missing"


def test_deleting_the_last_event_is_detected_by_the_head(db, five_events):
    db.session.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": LAST})
    db.session.commit()

    report = verify_chain()

    assert not report.ok
    assert report.broken_at == LAST
    assert f"its head names event {LAST}" in report.problem


def test_deleting_every_event_is_detected_by_the_head(db, five_events):
    db.session.execute(text("DELETE FROM audit_event"))
    db.session.commit()

    report = verify_chain()

    assert not report.ok
    assert report.broken_at == 1


def test_a_forged_event_after_the_head_is_detected(db, five_events):
    # A well-formed forgery: it links to the last event and its own hash is right;
    # only the head, which it did not move, gives it away.
    forged = {**full_event(6), "id": LAST + 1, "prev_hash": five_events[-1]["hash"]}
    forged["hash"] = chain.event_hash(forged)
    raw_insert(db, forged)

    report = verify_chain()

    assert not report.ok
    assert report.broken_at == LAST + 1
    assert f"event {LAST + 1}" in report.problem


def test_a_forged_event_with_a_made_up_hash_is_detected(db, five_events):
    forged = {**full_event(6), "id": LAST + 1, "prev_hash": five_events[-1]["hash"]}
    forged["hash"] = "a" * 64
    raw_insert(db, forged)

    report = verify_chain()

    assert report.broken_at == LAST + 1
    assert report.problem == f"event {LAST + 1} was changed after it was written"


def test_a_forged_event_beyond_a_gap_is_detected(db, five_events):
    forged = {**full_event(6), "id": LAST + 3, "prev_hash": five_events[-1]["hash"]}
    forged["hash"] = chain.event_hash(forged)
    raw_insert(db, forged)

    report = verify_chain()

    assert report.broken_at == LAST + 1
    assert report.problem == f"event {LAST + 1} is missing"


def test_a_rewritten_event_with_its_own_hash_recomputed_breaks_the_next_link(db, five_events):
    # A careful forger also recomputes the payload digest and the event's own hash.
    rewritten = {**stored(db, MIDDLE), "actor_name": "mallory", "details": None}
    rewritten["payload_sha256"] = chain.payload_digest(rewritten["changes"], None)
    rewritten["hash"] = chain.event_hash(rewritten)
    raw_update(
        db,
        MIDDLE,
        actor_name="mallory",
        details=None,
        payload_sha256=rewritten["payload_sha256"],
        hash=rewritten["hash"],
    )

    report = verify_chain()

    assert not report.ok
    assert report.broken_at == MIDDLE + 1
    assert report.problem == f"event {MIDDLE + 1} does not follow the one before"


def test_a_rewritten_last_event_with_its_own_hash_recomputed_breaks_the_head(db, five_events):
    rewritten = {**stored(db, LAST), "action": "view_person"}
    rewritten["hash"] = chain.event_hash(rewritten)
    raw_update(db, LAST, action="view_person", hash=rewritten["hash"])

    report = verify_chain()

    assert not report.ok
    assert report.broken_at == LAST
    assert f"event {LAST}" in report.problem


def test_a_moved_head_is_detected(db, five_events):
    db.session.execute(text("UPDATE audit_chain_head SET last_id = 3, last_hash = :h"), {"h": "b"})
    db.session.commit()

    report = verify_chain()

    assert not report.ok
    assert report.broken_at == 4


def test_appending_continues_after_the_last_event(db, five_events):
    row = record_event("export", object_type="VerificationList", details={"agency": "UNHCR"})
    db.session.commit()

    assert row["id"] == EVENTS + 1
    assert row["prev_hash"] == five_events[-1]["hash"]
    assert verify_chain().ok


def test_a_rolled_back_transaction_leaves_no_gap(db, five_events):
    record_event("export")
    db.session.rollback()
    row = record_event("export")
    db.session.commit()

    assert row["id"] == EVENTS + 1
    report = verify_chain()
    assert report.ok
    assert report.count == EVENTS + 1


def test_a_transaction_reads_the_chain_head_once_and_links_all_it_writes(db, five_events):
    reads = []

    def count_head_reads(_conn, _cursor, statement, *_args):
        if "FROM audit_chain_head" in statement:
            reads.append(statement)

    event.listen(_db.engine, "before_cursor_execute", count_head_reads)
    try:
        first = record_event("export")
        user, _ = create_user("ani", "officer", password=PASSWORD)  # audited: a flush appends
        db.session.flush()
        last = record_event("login", object_type="User", object_id=user.id)
        db.session.commit()
    finally:
        event.remove(_db.engine, "before_cursor_execute", count_head_reads)

    assert len(reads) == 1
    assert first["id"] == EVENTS + 1
    assert last["prev_hash"] == stored(db, last["id"] - 1)["hash"]
    report = verify_chain()
    assert report.ok, report
    assert report.count == last["id"]


WRITERS = 8
ROUNDS = 4


def test_concurrent_writers_keep_the_chain_linear(app, database, is_postgres):
    if not is_postgres:
        pytest.skip(
            "needs PostgreSQL (set TEST_DATABASE_URL): SQLite serialises writers with "
            "BEGIN IMMEDIATE, so there is no concurrent append to test; .ci/run runs "
            "the suite again on PostgreSQL"
        )
    start = threading.Barrier(WRITERS, timeout=30)
    errors = []

    def write(writer: int) -> None:
        try:
            with app.app_context(), acting_as(Actor(writer, f"writer{writer}")):
                start.wait()
                for round_ in range(ROUNDS):
                    create_user(f"user-{writer}-{round_}", "officer", password=PASSWORD)
                    _db.session.commit()
                    record_event("export", object_type="Test", object_id=f"{writer}-{round_}")
                    _db.session.commit()
        except Exception as exc:  # reported below, with the writer that failed
            errors.append((writer, exc))

    threads = [threading.Thread(target=write, args=(writer,)) for writer in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    with app.app_context():
        report = verify_chain()
        ids = list(_db.session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))
        by_writer = _db.session.scalars(
            select(AuditEvent.actor_name).where(AuditEvent.action == "export")
        ).all()
        _db.session.rollback()
    expected = WRITERS * ROUNDS * 2
    assert report.ok, report
    assert report.count == expected
    assert ids == list(range(1, expected + 1))
    assert sorted(set(by_writer)) == sorted(f"writer{writer}" for writer in range(WRITERS))


def test_events_keep_the_time_they_happened(db):
    before = datetime.now(UTC)
    row = record_event("login")
    db.session.commit()

    occurred = stored(db, row["id"])["occurred_at"]
    assert occurred.tzinfo is not None
    assert before - timedelta(seconds=1) <= occurred <= datetime.now(UTC)


def test_retention_may_erase_a_subjects_values_and_the_chain_still_verifies(db, five_events):
    erased = chain.erase_payloads(db.session.connection(), "Person", [MIDDLE])
    record_event(chain.RETENTION_ACTION, details={"people": [MIDDLE]})
    db.session.commit()

    assert erased == 1
    row = stored(db, MIDDLE)
    assert row["changes"] == chain.ERASED and row["redacted_at"] is not None
    assert f"After {MIDDLE}" not in (row["changes"] + row["details"])
    report = verify_chain()
    assert report.ok, report.problem


def test_erasing_values_without_a_retention_event_is_detected(db, five_events):
    chain.erase_payloads(db.session.connection(), "Person", [MIDDLE])
    db.session.commit()

    report = verify_chain()

    assert report.broken_at == MIDDLE
    assert "without a retention event" in report.problem
