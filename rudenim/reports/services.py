"""Verification-status lists: selection, the disclosure ledger, streamed files.

An export first writes the ledger (one Disclosure, one DisclosedPerson per
person selected) and its audit event, commits, and then streams exactly the
people in the ledger, row by row, so memory does not grow with the list.
"""

import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict
from datetime import date
from itertools import chain

import psycopg
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    String,
    and_,
    bindparam,
    case,
    func,
    insert,
    literal,
    select,
    text,
    true,
    type_coerce,
)
from sqlalchemy.orm import aliased, selectinload

from rudenim.audit.services import record_event
from rudenim.cases import nationalities
from rudenim.cases.forms import sex_choices
from rudenim.cases.models import (
    Agency,
    Alias,
    Identifier,
    IdentifierKind,
    Person,
    Placement,
    VerificationTrack,
)
from rudenim.cases.services import custody_status_label
from rudenim.cases.verification import BoardFilter, board_query, status_label
from rudenim.clock import local_now, utcnow
from rudenim.errors import DomainError
from rudenim.exports import FORMULA_STARTS, csv_stream, neutralise, xlsx_row
from rudenim.extensions import built_once, db, read_only_connection
from rudenim.reports.models import DisclosedPerson, Disclosure
from rudenim.xlsx import write_xlsx

PROFILES = ("unhcr", "iom", "internal")

COLUMN_HEADERS = {
    "case_number": _l("Case number"),
    "full_name": _l("Name"),
    "aliases": _l("Other names"),
    "sex": _l("Sex"),
    "date_of_birth": _l("Date of birth"),
    "nationality": _l("Nationality"),
    "claimed_ethnicity": _l("Claimed ethnicity"),
    "unhcr_registration": _l("UNHCR registration no."),
    "unhcr_case": _l("UNHCR case no."),
    "unhcr_reference": _l("UNHCR reference"),
    "unhcr_status": _l("UNHCR status"),
    "unhcr_status_on": _l("UNHCR status date"),
    "iom_case": _l("IOM case no."),
    "iom_reference": _l("IOM reference"),
    "iom_status": _l("IOM status"),
    "iom_status_on": _l("IOM status date"),
    "custody_status": _l("Custody status"),
    "placement": _l("Placement"),
}
_IDENTITY = [
    "case_number",
    "full_name",
    "aliases",
    "sex",
    "date_of_birth",
    "nationality",
    "claimed_ethnicity",
]
_UNHCR = ["unhcr_registration", "unhcr_case", "unhcr_reference", "unhcr_status", "unhcr_status_on"]
_IOM = ["iom_case", "iom_reference", "iom_status", "iom_status_on"]
#: The fixed column profiles. None carries violations, flags or notes.
PROFILE_COLUMNS = {
    "unhcr": [*_IDENTITY, *_UNHCR],
    "iom": [*_IDENTITY, *_IOM],
    "internal": [*_IDENTITY, *_UNHCR, *_IOM, "custody_status", "placement"],
}


def profile_label(profile: str) -> str:
    return {"unhcr": "UNHCR", "iom": "IOM", "internal": _("Internal")}[profile]


def parse_profile(value: str | None) -> str:
    """The column profile named by ``value``, or a clear refusal."""
    if value not in PROFILES:
        raise DomainError(
            _("%(value)s is not an export profile. Choose UNHCR, IOM or internal.", value=value),
            field="profile",
        )
    return value


def describe_filters(criteria: BoardFilter) -> dict:
    """The filters as plain data, for the ledger, the audit trail and the file."""
    people = asdict(criteria.people)
    return {
        "agency": criteria.agency.value,
        "verification_status": [s.value for s in criteria.statuses],
        "stalled_only": criteria.stalled_only,
        **{
            key: (value.isoformat() if isinstance(value, date) else value)
            for key, value in people.items()
            if value not in (None, "", [], False) and key not in ("sort", "descending")
        },
    }


def check_not_group_targeted(criteria: BoardFilter) -> None:
    """Refuse a list of people selected by nationality or ethnicity alone.

    Such a selection needs a verification-status filter too: a list "of all
    Rohingya" is not an export this system makes. Group totals are on the
    dashboard.
    """
    people = criteria.people
    if (people.nationality or people.ethnicity) and not criteria.statuses:
        raise DomainError(
            _(
                "A list selected by nationality or ethnicity alone is not exported. Add a "
                "verification status filter, or use the dashboard's counts for group totals."
            )
        )


#: An export listing this many people updates the planner's figures for the
#: ledger before its rows are read (PostgreSQL).
ANALYZED_FROM_ROWS = 5000


def create_disclosure(criteria: BoardFilter, profile: str, fmt: str, *, actor) -> Disclosure:
    """Write the ledger entry and the audit event for one export."""
    profile = parse_profile(profile)
    check_not_group_targeted(criteria)
    filters = describe_filters(criteria)
    disclosure = Disclosure(
        profile=profile,
        format=fmt,
        filters=json.dumps(filters, sort_keys=True, ensure_ascii=False),
        row_count=0,
        exported_by_id=actor.id,
        exported_at=utcnow(),
    )
    db.session.add(disclosure)
    db.session.flush()
    query, _track, _status = board_query(criteria)
    selected = query.order_by(None).with_only_columns(
        literal(disclosure.id).label("disclosure_id"), Person.id.label("person_id")
    )
    result = db.session.execute(
        insert(DisclosedPerson).from_select(["disclosure_id", "person_id"], selected)
    )
    count = result.rowcount
    if count is None or count < 0:
        count = db.session.scalar(
            select(func.count()).where(DisclosedPerson.disclosure_id == disclosure.id)
        )
    disclosure.row_count = count
    if count >= ANALYZED_FROM_ROWS and db.engine.dialect.name == "postgresql":
        # The planner's figures for the ledger predate these rows: a first large
        # export, or a national one among many small, was planned for a few
        # hundred rows (no parallel workers, its sort spilled to disk; 100,000
        # rows 1.9 s instead of 1.4). Sampling the table takes some 20 ms.
        db.session.execute(text("ANALYZE disclosed_person"))
    record_event(
        "export",
        object_type="Disclosure",
        object_id=disclosure.id,
        details={"profile": profile, "format": fmt, "filters": filters, "rows": count},
    )
    db.session.flush()
    return disclosure


def _aliases_aggregate():
    if db.engine.dialect.name == "postgresql":
        return func.string_agg(Alias.name, "; ")
    return func.group_concat(Alias.name, "; ")


#: The identifier numbers an export shows, each its own column.
EXPORTED_NUMBERS = (
    IdentifierKind.UNHCR_REGISTRATION,
    IdentifierKind.UNHCR_CASE,
    IdentifierKind.IOM_CASE,
)


def _looked_up_per_person(shown):
    """The aliases and the numbers of each row's person, each as ``shown``
    makes it of its aggregate (name, expression): (columns by name, the
    subqueries to join laterally, or none).

    Each is read by the indexed person id. On PostgreSQL the three numbers come
    from one lateral subquery, one index scan a person instead of three (the
    CSV of 100,000 people: the query 1.2 → 0.85 s); SQLite has no LATERAL and
    reads each number in a subquery of its own. Inside the subquery an
    aggregate is computed once however often ``shown`` names it; outside, a
    scalar subquery would run again for each mention.
    """

    def number(kind: IdentifierKind):
        # Filtered inside the aggregate, so only the person_id index is used.
        return shown(kind.value, func.max(case((Identifier.kind == kind, Identifier.value))))

    aliases = select(shown("aliases", _aliases_aggregate())).where(Alias.person_id == Person.id)
    if db.engine.dialect.name != "postgresql":
        columns = {"aliases": aliases.scalar_subquery().label("aliases")}
        for kind in EXPORTED_NUMBERS:
            each = select(number(kind)).where(Identifier.person_id == Person.id)
            columns[kind.value] = each.scalar_subquery().label(kind.value)
        return columns, []
    aliases = aliases.lateral("person_aliases")
    numbers = (
        select(*(number(kind) for kind in EXPORTED_NUMBERS))
        .where(Identifier.person_id == Person.id)
        .lateral("person_numbers")
    )
    columns = {"aliases": aliases.c.aliases}
    columns.update((kind.value, numbers.c[kind.value]) for kind in EXPORTED_NUMBERS)
    return columns, [aliases, numbers]


#: The columns that hold free text, which could begin like a formula; labels,
#: dates and case numbers are the app's own.
FREE_TEXT = frozenset(
    {
        "full_name",
        "aliases",
        "claimed_ethnicity",
        "unhcr_registration",
        "unhcr_case",
        "unhcr_reference",
        "iom_case",
        "iom_reference",
        "placement",
    }
)
#: The columns stored as a code the export shows by its label.
LABELLED = frozenset({"sex", "nationality", "unhcr_status", "iom_status", "custody_status"})
#: The columns that hold a date, shown in ISO form.
DATES = frozenset({"date_of_birth", "unhcr_status_on", "iom_status_on"})


def disclosed_rows_query(disclosure_id: int, profile: str, *, for_file: bool = True):
    """The profile's columns, one row per disclosed person, as the list shows
    them but for the labels of coded values (``RowFormatter``): text, empty
    where nothing is stored, dates in ISO form and, in a file (``for_file``),
    free text that could begin like a formula with an apostrophe before it.

    The database does this per cell; Python then only looks up the labels
    (100,000 rows: 0.7 s of Python per cell before). Aliases and numbers are
    looked up per row, by the indexed person id: the planner cannot know how
    many people a new disclosure lists, and with joined aggregates
    PostgreSQL's cursor plan rescanned them for every row.
    """
    unhcr = aliased(VerificationTrack)
    iom = aliased(VerificationTrack)

    def shown(name, column):
        return _shown(name, column, for_file)

    stored = {
        "case_number": Person.case_number,
        "full_name": Person.full_name,
        "sex": Person.sex,
        "date_of_birth": Person.date_of_birth,
        "nationality": Person.nationality,
        "claimed_ethnicity": Person.claimed_ethnicity,
        "unhcr_reference": unhcr.reference,
        "unhcr_status": unhcr.status,
        "unhcr_status_on": unhcr.status_on,
        "iom_reference": iom.reference,
        "iom_status": iom.status,
        "iom_status_on": iom.status_on,
        "custody_status": Person.custody_status,
        "placement": Placement.name,
    }
    columns = {name: shown(name, column) for name, column in stored.items()}
    looked_up, laterals = _looked_up_per_person(shown)
    columns.update(looked_up)
    query = (
        select(*(columns[name] for name in PROFILE_COLUMNS[profile]))
        .select_from(DisclosedPerson)
        .join(Person, Person.id == DisclosedPerson.person_id)
        .outerjoin(unhcr, and_(unhcr.person_id == Person.id, unhcr.agency == Agency.UNHCR))
        .outerjoin(iom, and_(iom.person_id == Person.id, iom.agency == Agency.IOM))
        .outerjoin(Placement, Placement.id == Person.placement_id)
        .where(DisclosedPerson.disclosure_id == disclosure_id)
        .order_by(Person.case_number)
    )
    for lateral in laterals:
        query = query.outerjoin(lateral, true())
    return query


def _shown(name: str, column, for_file: bool):
    """One column of ``disclosed_rows_query``, labelled ``name``; free text in
    a file goes through ``exports.neutralise`` written in SQL."""
    # Read as stored (type_coerce): a code or a date as its text, without a
    # Python enum or date in between.
    value = type_coerce(column, String)
    if name in LABELLED:
        return value.label(name)
    if name in DATES and db.engine.dialect.name == "postgresql":
        value = func.to_char(column, "YYYY-MM-DD")  # SQLite stores dates so
    shown = func.coalesce(value, "")
    if for_file and name in FREE_TEXT:
        shown = case((func.substr(value, 1, 1).in_(FORMULA_STARTS), "'" + value), else_=shown)
    return shown.label(name)


class RowFormatter:
    """Turns the rows of ``disclosed_rows_query`` into cells: the header and
    the labels of coded values in the interface language.

    Each coded column's labels are looked up once per export and value; a
    row is then a copy of its values with those few replaced, which is what an
    export of 100,000 rows spends its Python on.
    """

    def __init__(self, profile: str):
        self.columns = PROFILE_COLUMNS[profile]
        sexes = {value: str(label) for value, label in sex_choices() if value}
        labels = {
            "sex": _Labels(lambda value: sexes.get(value, "")),
            "nationality": _Labels(nationalities.label),
            "unhcr_status": _Labels(status_label, default="not_referred"),
            "iom_status": _Labels(status_label, default="not_referred"),
            "custody_status": _Labels(custody_status_label),
        }
        self._labelled = [
            (index, labels[column].__getitem__)
            for index, column in enumerate(self.columns)
            if column in labels
        ]

    def header(self) -> list[str]:
        return [str(COLUMN_HEADERS[column]) for column in self.columns]

    def cells(self, row) -> list:
        """The row's cells as shown."""
        cells = list(row)
        for index, label in self._labelled:
            cells[index] = label(cells[index])
        return cells


class _Labels(dict):
    """A label per stored value, looked up once per export and value; no value
    (no track, nothing recorded) shows ``default``'s label, or nothing."""

    def __init__(self, label, default=None):
        super().__init__()
        self.label, self.default = label, default

    def __missing__(self, key):
        value = self.default if key is None else key
        result = self[key] = "" if value is None else str(self.label(value))
        return result


def _stream_rows(
    disclosure: Disclosure, *, for_file: bool = True, limit: int | None = None
) -> Iterator[tuple]:
    """The disclosed rows (``disclosed_rows_query``) as the database sends
    them, on a connection of their own that never takes SQLite's write lock,
    so a slow download holds up no one.

    They come straight from the database driver, as plain tuples, with the
    statement's values written in (the disclosure's id and the app's own
    constants, rendered by their column types); through SQLAlchemy's rows
    100,000 took 0.3 s more. A consumer that stops early closes the cursor,
    and on PostgreSQL cancels the query (psycopg does).
    """
    query = disclosed_rows_query(disclosure.id, disclosure.profile, for_file=for_file)
    if limit is not None:
        query = query.limit(limit)
    with read_only_connection() as connection:
        sql = str(query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
        driver = connection.connection.driver_connection
        if connection.dialect.name == "postgresql":
            yield from _sent_by_postgresql(driver, sql)
            return
        # SQLite reads the statement in a transaction of its own (autocommit).
        cursor = driver.execute(sql)
        try:
            while rows := cursor.fetchmany(STREAMED_CHUNK):
                yield from rows
        finally:
            cursor.close()


#: Rows taken from the driver at a time (on PostgreSQL, libpq 17's chunked mode).
STREAMED_CHUNK = 1000


def _sent_by_postgresql(driver, sql: str) -> Iterator:
    """The rows as PostgreSQL sends them (psycopg's ``stream``), without a
    server-side cursor.

    Behind a cursor the server plans for a cursor (no parallel workers) and
    waits for each FETCH, so it sorted for 0.75 s before the first of 100,000
    rows and then sat idle while Python formatted them. Streamed, it plans the
    whole query, sends rows as fast as the client reads them and works ahead on
    the other CPU; the socket's buffer bounds what waits in memory.
    """
    chunk = STREAMED_CHUNK if psycopg.pq.version() >= 170000 else 1
    with driver.cursor() as cursor:
        # A plan of this cost is compiled to machine code first (JIT): 0.6 s of
        # a 0.9 s query for 100,000 rows, for a statement that runs once.
        cursor.execute("SET LOCAL jit = off")
        yield from cursor.stream(sql, size=chunk)


def csv_chunks(disclosure: Disclosure) -> Iterator[bytes]:
    """The CSV file, UTF-8 with BOM, produced a chunk of rows at a time."""
    formatter = RowFormatter(disclosure.profile)
    rows = (formatter.cells(row) for row in _stream_rows(disclosure))
    return csv_stream(formatter.header(), rows, neutralised=True)


def xlsx_file(disclosure: Disclosure, exporter_name: str) -> str:
    """Write the XLSX (rows go to disk as they come); returns the path of a
    temporary file the caller removes."""
    formatter = RowFormatter(disclosure.profile)
    listing = chain(
        [formatter.header()],
        (xlsx_row(formatter.cells(row)) for row in _stream_rows(disclosure)),
    )
    filters = json.loads(disclosure.filters)
    about = [
        xlsx_row([str(_("Exported by")), neutralise(exporter_name)]),
        [str(_("Exported at")), local_now().strftime("%Y-%m-%d %H:%M %Z")],
        [str(_("Profile")), profile_label(disclosure.profile)],
        [str(_("Rows")), disclosure.row_count],
        [str(_("Filters")), neutralise(json.dumps(filters, ensure_ascii=False))],
    ]
    handle, path = tempfile.mkstemp(prefix="rudenim-export-", suffix=".xlsx")
    os.close(handle)
    try:
        write_xlsx(path, [(str(_("Verification")), listing), (str(_("About this list")), about)])
    except BaseException:
        os.unlink(path)
        raise
    return path


def file_chunks(path: str, size: int = 64 * 1024) -> Iterator[bytes]:
    """Stream a temporary file and remove it afterwards."""
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(size):
                yield chunk
    finally:
        os.unlink(path)


def file_name(profile: str, extension: str) -> str:
    return f"verification-{profile}-{local_now().date().isoformat()}.{extension}"


def printable_rows(disclosure: Disclosure, limit: int) -> tuple[list[str], list[list]]:
    """Header and rows for the printable list (at most ``limit`` rows)."""
    formatter = RowFormatter(disclosure.profile)
    rows = [formatter.cells(row) for row in _stream_rows(disclosure, for_file=False, limit=limit)]
    return formatter.header(), rows


def disclosures_of(person_id: int) -> list[Disclosure]:
    """Every disclosure that listed this person, newest first."""
    return list(db.session.scalars(_disclosures_of_statement(), {"person_id": person_id}))


@built_once
def _disclosures_of_statement():
    return (
        select(Disclosure)
        .join(DisclosedPerson, DisclosedPerson.disclosure_id == Disclosure.id)
        .where(DisclosedPerson.person_id == bindparam("person_id"))
        .options(selectinload(Disclosure.exported_by))
        .order_by(Disclosure.exported_at.desc())
    )
