"""The busiest pages read large tables through indexes, never whole.

Every SELECT one request issues is captured and its plan asked of the database:
SQLite's EXPLAIN QUERY PLAN, or PostgreSQL's EXPLAIN (FORMAT JSON) after
``SET enable_seqscan = off`` on the same connection, so that a Seq Scan that
remains means no index could serve. A statement that reads a large table whole
fails the test unless ALLOWED lists it, with the reason the scan is inherent.
"""

import re
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from sqlalchemy import event, select

from rudenim.cases import names
from rudenim.cases.models import Identifier, IdentifierKind, Person
from rudenim.extensions import db as _db
from tests.populated import populate

#: Reference tables that stay small (tens of rows): reading them whole is fine.
SMALL_TABLES = frozenset(
    {
        "placement",
        "ethnicity_suggestion",
        "house_rule",
        "rule_sanction",
        "monitoring_period",
        "user",
        "case_number_counter",
        "audit_chain_head",
        "login_throttle",
    }
)


@dataclass(frozen=True)
class Allowed:
    """A whole-table read that is inherent to what a statement asks."""

    table: str
    #: A regular expression the statement (whitespace collapsed) matches.
    statement: str
    reason: str
    #: The read must come from an index that covers the statement, not the table.
    index_only: bool


ALLOWED = (
    Allowed(
        "violation",
        r"GROUP BY violation\.status",
        "the violation log's count per status is an unfiltered count of the whole log",
        index_only=True,
    ),
    Allowed(
        "detention_review",
        r"max\(detention_review\.reviewed_on\)",
        "dashboard: the latest review of every person, a whole-population aggregate",
        index_only=True,
    ),
    Allowed(
        "check_in",
        r"max\(check_in\.checked_at\)",
        "dashboard: the latest check-in of every person, a whole-population aggregate",
        index_only=True,
    ),
)


@dataclass(frozen=True)
class FullScan:
    """One large table read whole by one statement."""

    table: str
    plan: str
    statement: str
    #: SQLite read it from a covering index (never set on PostgreSQL).
    index_only: bool = False

    def rules(self) -> list[Allowed]:
        """The exceptions that name this table and statement."""
        return [
            rule
            for rule in ALLOWED
            if rule.table == self.table and re.search(rule.statement, self.statement)
        ]

    def allowed(self) -> Allowed | None:
        """The exception that allows this scan, if any."""
        for rule in self.rules():
            if self.index_only or not rule.index_only:
                return rule
        return None

    def __str__(self) -> str:
        brief = re.sub(r"SELECT (?:(?!SELECT|FROM).)*FROM", "SELECT … FROM", self.statement)
        hint = " [allowed only through a covering index]" if self.rules() else ""
        return f"{self.table}: {self.plan}{hint} — {brief[:300]}"


def large_tables() -> set[str]:
    return set(_db.metadata.tables) - SMALL_TABLES


@contextmanager
def captured_selects(app):
    """Every SELECT issued inside the block, with its parameters."""
    found = []

    def _record(_conn, _cursor, statement, parameters, *_args):
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            found.append((statement, parameters))

    with app.app_context():
        engine = _db.engine
    event.listen(engine, "before_cursor_execute", _record)
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", _record)


def _table(name: str, tables: set[str]) -> str | None:
    """The table behind a name in a plan: itself or an alias such as ``person_1``."""
    if name in tables:
        return name
    base = re.sub(r"_\d+$", "", name)
    return base if base in tables else None


def _sqlite_scans(rows, statement: str, tables: set[str]) -> list[FullScan]:
    scans = []
    for row in rows:
        detail = row[-1]
        # "SCAN t", "SCAN t USING [COVERING] INDEX i" (before 3.36: "SCAN TABLE t").
        scan = re.match(r"SCAN (?:TABLE )?(\w+)", detail)
        # An index SQLite builds for this one statement: no index of ours serves it.
        automatic = re.match(r"SEARCH (?:TABLE )?(\w+) USING AUTOMATIC", detail)
        match = scan or automatic
        table = _table(match.group(1), tables) if match else None
        if table:
            covering = bool(scan) and "COVERING INDEX" in detail
            scans.append(FullScan(table, detail, statement, index_only=covering))
    return scans


def _postgres_scans(node: dict, statement: str, tables: set[str]) -> list[FullScan]:
    scans = []
    if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in tables:
        detail = f"Seq Scan on {node['Relation Name']}"
        if "Filter" in node:
            detail += f" (filter {node['Filter']})"
        scans.append(FullScan(node["Relation Name"], detail, statement))
    for child in node.get("Plans", ()):
        scans.extend(_postgres_scans(child, statement, tables))
    return scans


def full_scans(app, statements, *, without_index: str | None = None) -> list[FullScan]:
    """The large tables each statement reads whole, according to the database's plan.

    With ``without_index`` (names separated by spaces), those indexes are
    dropped for the planning only (in a transaction that is rolled back).
    """
    scans = []
    with app.app_context(), _db.engine.connect() as connection:
        tables = large_tables()
        postgres = connection.dialect.name == "postgresql"
        if postgres:
            # Inside the transaction rolled back below, so it ends with it.
            connection.exec_driver_sql("SET enable_seqscan = off")
        for index in (without_index or "").split():
            connection.exec_driver_sql(f"DROP INDEX {index}")
        # A different text, so SQLite's statement cache cannot answer with an old plan.
        marker = f"/* without {without_index} */ " if without_index else ""
        for statement, parameters in statements:
            flat = " ".join(statement.split())
            if postgres:
                (plan,) = connection.exec_driver_sql(
                    "EXPLAIN (FORMAT JSON) " + marker + statement, parameters
                ).scalar_one()
                scans.extend(_postgres_scans(plan["Plan"], flat, tables))
            else:
                rows = connection.exec_driver_sql(
                    "EXPLAIN QUERY PLAN " + marker + statement, parameters
                )
                scans.extend(_sqlite_scans(rows.all(), flat, tables))
        connection.rollback()
    return scans


def transliterated(name: str) -> str:
    """The same name as another clerk might spell it (Sultani → Soltene)."""
    swap = {"a": "e", "i": "e", "u": "o", "o": "u", "e": "a"}
    return re.sub(r"(?<=[a-z])[aeiou]", lambda match: swap[match.group(0)], name)


@pytest.fixture
def pages(app, login_as):
    """The pages to check, on a populated database, with a supervisor signed in."""
    ids = populate(app)
    with app.app_context():
        person = _db.session.get(Person, ids["person_id"])
        unhcr = _db.session.scalars(
            select(Identifier)
            .join(Person, Person.id == Identifier.person_id)
            .where(Identifier.kind == IdentifierKind.UNHCR_REGISTRATION, Person.is_in_care)
            .order_by(Identifier.id)
        ).first()
        variant = transliterated(person.full_name)
        assert variant != person.full_name
        assert names.name_key(variant) == person.name_key
        searches = [
            (f"/cases/?q={quote(query)}", expected)
            for query, expected in (
                (variant, person.case_number),
                (person.case_number, person.case_number),
                (unhcr.value, unhcr.person.case_number),
            )
        ]
    login_as("supervisor")
    listed = [
        "/cases/",
        "/cases/?page=2",
        "/cases/?status=detained&nationality=AF",
        "/cases/?status=detained&nationality=AF&page=2",
        f"/cases/{ids['person_id']}",
        "/cases/verification?agency=unhcr&vstatus=in_progress&status=detained",
        "/conduct/?status=upheld&severity=moderate",
        "/",
    ]
    return [*((url, None) for url in listed), *searches]


def visit(app, client, url: str, expected: str | None = None) -> list:
    """The SELECTs of one request for ``url`` (which must succeed)."""
    with captured_selects(app) as statements:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    if expected:
        assert expected in response.get_data(as_text=True), (url, expected)
    assert statements, url
    return statements


def test_the_busiest_pages_read_no_large_table_whole(app, client, pages, is_postgres):
    unexplained, needed = [], set()
    for url, expected in pages:
        for scan in full_scans(app, visit(app, client, url, expected)):
            rule = scan.allowed()
            if rule is None:
                unexplained.append(f"{url}  {scan}")
            else:
                needed.add(rule)

    assert unexplained == [], "\n".join(unexplained)
    # Keep the list honest: every exception is still needed. PostgreSQL reads
    # the index-only ones through an index, which a Seq Scan does not show.
    expected = {rule for rule in ALLOWED if not (is_postgres and rule.index_only)}
    assert needed == expected, expected - needed


@pytest.mark.parametrize(
    ("index", "table", "page"),
    [
        ("ix_custody_event_person", "custody_event", "/cases/{person_id}"),
        ("ix_check_in_open_absences", "check_in", "/"),
        # Any of these serves a filter by status: without all it is a whole-table read.
        (
            "ix_violation_status_occurred ix_violation_status_severity"
            " ix_violation_status_reported",
            "violation",
            "/conduct/?status=upheld",
        ),
        ("ix_detention_review_person", "detention_review", "/"),
    ],
)
def test_the_check_notices_a_missing_index(app, client, login_as, index, table, page):
    ids = populate(app, people=12)
    login_as("supervisor")
    statements = visit(app, client, page.format(**ids))

    def unexplained(scans):
        return [scan for scan in scans if scan.table == table and scan.allowed() is None]

    assert unexplained(full_scans(app, statements)) == []
    assert unexplained(full_scans(app, statements, without_index=index)) != []


def _plan(connection, statement) -> str:
    """The plan of a statement as text: SQLite's rows, or PostgreSQL's nodes
    (with sequential scans and sorts discouraged, which a tiny test table
    would otherwise be read with whatever the indexes)."""
    if connection.dialect.name != "postgresql":
        return str(connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}").all())
    connection.exec_driver_sql("SET enable_seqscan = off")
    connection.exec_driver_sql("SET enable_sort = off")
    (plan,) = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}").scalar_one()
    nodes, found = [(plan["Plan"], None)], []
    while nodes:
        node, parent = nodes.pop()
        found.append((node["Node Type"], node.get("Index Name"), parent))
        nodes.extend((child, node["Node Type"]) for child in node.get("Plans", ()))
    return str(found)


def test_a_records_newest_events_come_from_the_index_without_sorting_them_all(app, is_postgres):
    # A person viewed thousands of times has thousands of view events; the
    # person page shows the newest 20. They must come from the subject index in
    # id order (the read stops at the limit), not be read whole and sorted.
    from rudenim.audit.services import history_query

    with app.app_context(), _db.engine.connect() as connection:
        statement = (
            history_query("Person", 1)
            .limit(21)
            .compile(connection, compile_kwargs={"literal_binds": True})
        )
        shown = _plan(connection, statement)
        connection.rollback()

    assert "ix_audit_event_subject" in shown
    assert "Sort" not in shown and "TEMP B-TREE" not in shown, shown


@pytest.mark.parametrize("role", ["supervisor", "officer"])
def test_the_review_queue_takes_each_status_s_first_from_the_index(
    app, make_user, role, is_postgres
):
    # A backlog of thousands of open violations: the log's queue shows the 50
    # reported first. Each open status's first 50 must come from the index in
    # report order (the read stops at the limit); only those are sorted.
    from rudenim.auth.models import User
    from rudenim.conduct.services import review_queue_query

    user_id = make_user(role)
    with app.app_context():
        query = review_queue_query(_db.session.get(User, user_id), 50)
        statement = query.compile(_db.engine, compile_kwargs={"literal_binds": True})
        _db.session.rollback()
        with _db.engine.connect() as connection:
            shown = _plan(connection, statement)
            connection.rollback()

    if is_postgres:
        assert shown.count("'ix_violation_status_reported', 'Limit'") == 2, shown
        assert shown.count("('Sort',") == 1, shown
    else:
        assert shown.count("INDEX ix_violation_status_reported (status=?)") == 2, shown
        assert shown.count("TEMP B-TREE") == 1, shown  # the queue's 100 at most, once
