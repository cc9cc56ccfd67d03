"""Verification-status lists: CSV, XLSX and the printable list, and the ledger.

An export is what leaves the centre about the people in its care, so each
test reads the file the way its recipient would (the csv module, openpyxl)
and checks what went into the disclosure ledger and the audit trail.
No test holds an app context while it makes requests.
"""

import csv
import gc
import io
import json
import re
import time
import tracemalloc
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from babel.dates import format_date
from babel.messages.pofile import read_po
from openpyxl import load_workbook
from sqlalchemy import select, text

from rudenim.audit.context import Actor, acting_as
from rudenim.auth.models import User
from rudenim.cases.models import Person
from rudenim.clock import local_now, local_today
from rudenim.exports import FORMULA_STARTS, CsvLines, csv_stream, neutralise, xlsx_row
from rudenim.extensions import db as _db
from rudenim.reports.models import DisclosedPerson, Disclosure
from tests.cases.conftest import audit_events, messages
from tests.reports.conftest import (
    bring_to,
    insert_people,
    plain,
    section,
    state,
    table_rows,
    take_steps,
)

URLS = {
    "csv": "/reports/verification.csv",
    "xlsx": "/reports/verification.xlsx",
    "print": "/reports/verification/print",
}
IDENTITY = [
    "Case number",
    "Name",
    "Other names",
    "Sex",
    "Date of birth",
    "Nationality",
    "Claimed ethnicity",
]
UNHCR = [
    "UNHCR registration no.",
    "UNHCR case no.",
    "UNHCR reference",
    "UNHCR status",
    "UNHCR status date",
]
IOM = ["IOM case no.", "IOM reference", "IOM status", "IOM status date"]
#: The columns each profile carries, as an English-speaking recipient reads them.
COLUMNS = {
    "unhcr": [*IDENTITY, *UNHCR],
    "iom": [*IDENTITY, *IOM],
    "internal": [*IDENTITY, *UNHCR, *IOM, "Custody status", "Placement"],
}
SECRET_NOTE = "NOTE-ZX81-confidential medical history"
VIOLATION_TEXT = "VIOLATION-QW55 left the site at night"
CATALOGUE = Path(__file__).resolve().parents[2] / "rudenim/translations/id/LC_MESSAGES/messages.po"
GROUP_REFUSAL = "A list selected by nationality or ethnicity alone is not exported."


def export(client, fmt: str, profile: str = "unhcr", **filters):
    """Press an export button on the board with these filters."""
    data = {"agency": "unhcr", "profile": profile, **filters}
    return client.post(URLS[fmt], data=data)


def read_csv(response) -> list[list[str]]:
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf"), raw[:10]
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def read_xlsx(response):
    return load_workbook(io.BytesIO(response.get_data()))


def sheet_rows(sheet) -> list[list]:
    return [["" if v is None else v for v in row] for row in sheet.iter_rows(values_only=True)]


def ledger(app) -> list[dict]:
    """Every disclosure, oldest first, with the case numbers it listed."""
    with app.app_context():
        result = []
        for disclosure in _db.session.scalars(select(Disclosure).order_by(Disclosure.id)):
            listed = _db.session.scalars(
                select(Person.case_number)
                .join(DisclosedPerson, DisclosedPerson.person_id == Person.id)
                .where(DisclosedPerson.disclosure_id == disclosure.id)
                .order_by(Person.case_number)
            )
            result.append(
                {
                    "profile": disclosure.profile,
                    "format": disclosure.format,
                    "filters": json.loads(disclosure.filters),
                    "row_count": disclosure.row_count,
                    "exported_by_id": disclosure.exported_by_id,
                    "exported_at": disclosure.exported_at,
                    "listed": list(listed),
                }
            )
        return result


def indonesian(text: str) -> str:
    """The Bahasa Indonesia catalogue's translation (the English text if it has none)."""
    with CATALOGUE.open("rb") as handle:
        catalogue = read_po(handle)
    message = catalogue.get(text)
    return message.string if message is not None and message.string else text


@pytest.fixture
def officer(make_staff):
    return make_staff("officer")


@pytest.fixture
def people(app, make_person, make_placement, officer):
    """Three people at different places in their verification, with what an
    export must never carry: notes and a violation."""
    wisma = make_placement(kind="housing", name="Wisma Lavender")
    amina = make_person(
        full_name="Amina Yusuf",
        sex="female",
        nationality="SO",
        claimed_ethnicity="Bajuni",
        aliases=["Aminah Yousuf", "Umm Khalid"],
        identifiers={"unhcr_registration": "354-24C00001", "unhcr_case": "354-24C00001-01"},
        notes=SECRET_NOTE,
        status="community_housing",
        placement=wisma.id,
    )
    bring_to(app, amina.id, "unhcr", "verified", actor_id=officer.id, start=30, ref="UN-REF-1")
    take_steps(app, amina.id, "iom", ("referred", 12, "IOM-REF-1"), actor_id=officer.id)
    bashir = make_person(
        full_name="Bashir Karimi",
        nationality="AF",
        claimed_ethnicity="Hazara",
        identifiers={"iom_case": "IOM-TL-0099"},
        notes=SECRET_NOTE,
    )
    take_steps(app, bashir.id, "unhcr", ("referred", 20), actor_id=officer.id)
    bring_to(app, bashir.id, "iom", "in_progress", actor_id=officer.id, start=25)
    farida = make_person(full_name="Farida Osman", nationality="MM", claimed_ethnicity="Rohingya")
    _report_violation(app, bashir.id, officer.id)
    return {"amina": amina, "bashir": bashir, "farida": farida, "wisma": wisma}


def _report_violation(app, person_id: int, officer_id: int) -> None:
    from rudenim.conduct import services as conduct
    from rudenim.conduct.models import HouseRule
    from rudenim.reference import load_reference

    with app.app_context():
        officer = _db.session.get(User, officer_id)
        with acting_as(Actor(officer.id, officer.username)):
            load_reference()
            conduct.report_violation(
                _db.session.get(Person, person_id),
                conduct.ReportData(
                    rule_id=_db.session.scalars(select(HouseRule.id)).first(),
                    occurred_at=(local_now() - timedelta(hours=2)).replace(tzinfo=None),
                    location="Gate",
                    description=VIOLATION_TEXT,
                ),
                actor=officer,
            )
        _db.session.commit()


@pytest.fixture
def supervisor(sign_in):
    """A supervisor signed in, in English."""
    return sign_in("supervisor", full_name="Siti Rahayu")


# --- who may export -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(URLS))
@pytest.mark.parametrize("role", ["officer", "viewer", "admin"])
def test_only_a_supervisor_exports_and_a_refusal_is_recorded(
    app, client, sign_in, people, role, fmt
):
    sign_in(role)
    before = state(app)

    response = export(client, fmt, vstatus="verified")

    assert response.status_code == 403
    assert ledger(app) == []
    denied = audit_events(app, "permission_denied")[-1]
    assert json.loads(denied.details)["permission"] == "export.verification"
    assert json.loads(denied.details)["path"] == URLS[fmt]
    assert audit_events(app, "export") == []
    assert state(app)["audit"] == before["audit"] + 1


# --- CSV ------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["unhcr", "iom", "internal"])
def test_each_profile_has_exactly_its_columns(app, client, supervisor, people, profile):
    response = export(client, "csv", profile, vstatus=["not_referred", "referred", "verified"])

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    header, *rows = read_csv(response)
    assert header == COLUMNS[profile]
    assert [row[0] for row in rows] == sorted(
        p.case_number for p in people.values() if p != people["wisma"]
    )
    by_name = {row[1]: dict(zip(header, row, strict=True)) for row in rows}
    amina = by_name["Amina Yusuf"]
    assert {key: amina[key] for key in IDENTITY} == {
        "Case number": people["amina"].case_number,
        "Name": "Amina Yusuf",
        "Other names": "Aminah Yousuf; Umm Khalid",
        "Sex": "Female",
        "Date of birth": "1990-06-15",
        "Nationality": "Somalia",
        "Claimed ethnicity": "Bajuni",
    }
    if profile != "iom":
        assert {key: amina[key] for key in UNHCR} == {
            "UNHCR registration no.": "354-24C00001",
            "UNHCR case no.": "354-24C00001-01",
            "UNHCR reference": "UN-REF-1",
            "UNHCR status": "Verified",
            "UNHCR status date": (local_today() - timedelta(days=28)).isoformat(),
        }
        farida = by_name["Farida Osman"]
        assert (farida["UNHCR status"], farida["UNHCR status date"]) == ("Not referred", "")
    if profile != "unhcr":
        bashir = by_name["Bashir Karimi"]
        assert {key: bashir[key] for key in IOM} == {
            "IOM case no.": "IOM-TL-0099",
            "IOM reference": "",
            "IOM status": "In progress",
            "IOM status date": (local_today() - timedelta(days=24)).isoformat(),
        }
    if profile == "internal":
        assert (amina["Custody status"], amina["Placement"]) == (
            "Community housing",
            "Wisma Lavender",
        )


@pytest.mark.parametrize("profile", ["unhcr", "iom", "internal"])
def test_no_profile_carries_notes_violations_or_flags(app, client, supervisor, people, profile):
    for fmt in URLS:
        response = export(client, fmt, profile, vstatus=["referred", "verified"])
        assert response.status_code == 200
        if fmt == "xlsx":
            workbook = read_xlsx(response)
            text = " ".join(
                str(cell)
                for sheet in workbook.worksheets
                for row in sheet_rows(sheet)
                for cell in row
            )
        else:
            text = response.get_data(as_text=True)
        assert "Bashir Karimi" in text
        for secret in (SECRET_NOTE, "NOTE-ZX81", VIOLATION_TEXT, "VIOLATION-QW55"):
            assert secret not in text, (fmt, secret)
    for column in COLUMNS[profile]:
        assert not re.search(r"note|violation|flag|sanction", column, re.I)


def test_headers_are_in_the_interface_language(app, client, login_as, sign_in, people):
    # login_as leaves the interface in its default, Bahasa Indonesia.
    login_as("supervisor")
    indonesian_header, indonesian_row = read_csv(
        export(client, "csv", "internal", vstatus="verified")
    )
    sign_in("supervisor")
    english_header, english_row = read_csv(export(client, "csv", "internal", vstatus="verified"))

    assert english_header == COLUMNS["internal"]
    assert indonesian_header == [indonesian(title) for title in COLUMNS["internal"]]
    assert indonesian_header[1] == "Nama" and english_header[1] == "Name"
    assert indonesian_header != english_header
    # The labels in the cells follow the language too; the data itself does not.
    status = COLUMNS["internal"].index("UNHCR status")
    assert (english_row[status], indonesian_row[status]) == ("Verified", indonesian("Verified"))
    assert indonesian_row[:3] == english_row[:3]


def test_an_empty_selection_is_a_file_with_its_header(app, client, supervisor, people):
    response = export(client, "csv", "iom", vstatus="closed")
    assert read_csv(response) == [COLUMNS["iom"]]
    assert ledger(app)[0]["row_count"] == 0


# --- XLSX -----------------------------------------------------------------------------


def test_the_xlsx_has_the_list_and_a_sheet_saying_who_exported_it(app, client, supervisor, people):
    filters = {"vstatus": ["referred", "verified"], "q": "", "include_left": "y"}
    csv_rows = read_csv(export(client, "csv", "internal", **filters))

    response = export(client, "xlsx", "internal", **filters)

    assert response.status_code == 200
    assert response.mimetype == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    workbook = read_xlsx(response)
    listing, about = workbook.worksheets
    assert listing.title == "Verification"
    assert sheet_rows(listing) == csv_rows
    assert len(csv_rows) == 3
    assert about.title == "About this list"
    facts = {row[0]: row[1] for row in sheet_rows(about)}
    assert facts["Exported by"] == "Siti Rahayu"
    assert facts["Exported at"].startswith(local_today().isoformat())
    assert facts["Profile"] == "Internal"
    assert facts["Rows"] == 2
    filters_written = json.loads(facts["Filters"])
    assert filters_written["verification_status"] == ["referred", "verified"]
    assert filters_written["agency"] == "unhcr"
    assert filters_written["include_left"] is True


@pytest.mark.parametrize(("fmt", "extension"), [("csv", "csv"), ("xlsx", "xlsx")])
@pytest.mark.parametrize("profile", ["unhcr", "iom", "internal"])
def test_the_file_name_carries_profile_and_date(
    app, client, supervisor, people, fmt, extension, profile
):
    response = export(client, fmt, profile, vstatus="verified")
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="verification-{profile}-{local_today().isoformat()}.{extension}"'
    )


# --- formulas ---------------------------------------------------------------------------


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_cell_a_spreadsheet_would_run_is_neutralised(start):
    assert neutralise(f"{start}HYPERLINK(1)") == f"'{start}HYPERLINK(1)"
    header, row = list(
        csv.reader(io.StringIO(b"".join(csv_stream(["a"], [[f"{start}x"]])).decode("utf-8-sig")))
    )
    assert row == [f"'{start}x"]


@pytest.mark.parametrize("value", ["Amina", "a=b", "", "354-24C", 5, None])
def test_other_cells_are_left_as_they_are(value):
    assert neutralise(value) == value


@pytest.mark.parametrize(
    "cells",
    [
        ["KPG-2024-0001", "Amina Yusuf", "", "Perempuan", "1990-06-15"],
        ["Yusuf, Amina", "x"],
        ['Amina "Mina" Yusuf', "x"],
        ["line\nbreak", "x"],
        ["carriage\rreturn", "x"],
        ["'=1+1", " leading and trailing ", "; ", "中文 😀 \u202e"],
        [""],
        [],
        ["", ""],
        ["a"],
        [5, None, "Amina", 2.5],
        [",", '"', "\r\n"],
    ],
)
def test_a_csv_line_is_what_csv_writer_writes(cells):
    # The export joins rows of plain text itself; every other row, and the
    # result, is csv.writer's (Excel's dialect).
    buffer = io.StringIO()
    csv.writer(buffer).writerow(cells)
    assert CsvLines()(cells) == buffer.getvalue()


def test_a_csv_line_after_one_with_quotes_has_none_of_them():
    line = CsvLines()
    assert line(['Amina "Mina"', "x"]) == '"Amina ""Mina""",x\r\n'
    assert line(["Farida", "y"]) == "Farida,y\r\n"


def test_an_xlsx_row_drops_control_characters_from_text_only():
    assert xlsx_row(["Amina", "Yu\x01suf", "\x0b"]) == ["Amina", "Yusuf", ""]
    assert xlsx_row(["Amina", 5, None, "Far\x1bida"]) == ["Amina", 5, None, "Farida"]
    assert xlsx_row(["Amina", "Yusuf"]) == ["Amina", "Yusuf"]


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_the_list_s_free_text_is_neutralised_for_every_formula_start(
    start, app, client, supervisor, make_person
):
    # The database neutralises the list's free text; the forms strip a
    # leading tab or line break, so the values are stored as an import or an
    # older version might have left them. The printed list shows them as stored.
    make_person(aliases=["Bashir Karimi"], identifiers={"unhcr_registration": "354-24C00777"})
    with app.app_context():
        _db.session.execute(text("UPDATE person SET claimed_ethnicity = :v"), {"v": f"{start}X(1)"})
        _db.session.execute(text("UPDATE alias SET name = :v"), {"v": f"{start}Bashir"})
        _db.session.execute(text("UPDATE identifier SET value = :v"), {"v": f"{start}354-24C"})
        _db.session.commit()
    rows = read_csv(export(client, "csv", "internal"))
    assert [row[2:8] for row in rows[1:]] == [
        [
            f"'{start}Bashir",
            "Male",
            "1990-06-15",
            "Afghanistan",
            f"'{start}X(1)",
            f"'{start}354-24C",
        ]
    ]
    page = export(client, "print", "internal").get_data(as_text=True)
    assert f">{start}X(1)<" in page


def test_formulas_typed_into_a_record_are_neutralised_in_every_file(
    app, client, supervisor, make_person, officer
):
    dangerous = {
        "=Amina Yusuf": make_person(
            full_name="=Amina Yusuf",
            aliases=["+Bashir Karimi"],
            claimed_ethnicity='=HYPERLINK("http://evil.example","x")',
            identifiers={"unhcr_registration": "-354-24C00777"},
        ),
        "@Farida Osman": make_person(full_name="@Farida Osman", claimed_ethnicity="-2+3"),
    }
    for person in dangerous.values():
        take_steps(
            app, person.id, "unhcr", ("referred", 3, "@REF-1" + str(person.id)), actor_id=officer.id
        )

    rows = read_csv(export(client, "csv", "unhcr", vstatus="referred"))[1:]
    workbook = read_xlsx(export(client, "xlsx", "unhcr", vstatus="referred"))

    expected = {
        "'=Amina Yusuf": [
            "'+Bashir Karimi",
            '\'=HYPERLINK("http://evil.example","x")',
            "'-354-24C00777",
        ],
        "'@Farida Osman": ["", "'-2+3", ""],
    }
    for row in rows:
        aliases, ethnicity, registration = row[2], row[6], row[7]
        assert [aliases, ethnicity, registration] == expected[row[1]]
        assert row[9].startswith("'@REF-1")
    cells = [cell for row in workbook.worksheets[0].iter_rows(min_row=2) for cell in row]
    assert {c.value for c in cells if c.value} >= {"'=Amina Yusuf", "'@Farida Osman", "'-2+3"}
    # Nothing became a formula: every non-empty cell is stored as text or a number.
    assert {c.data_type for c in cells if c.value is not None} <= {"s", "n"}
    page = plain(export(client, "print", "unhcr", vstatus="referred").get_data(as_text=True))
    assert "=Amina Yusuf" in page  # the printed page shows the name as it was typed


# --- refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(URLS))
@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        pytest.param(
            {"profile": "violations"}, "Column profile: Not a valid choice.", id="profile"
        ),
        pytest.param({"profile": ""}, "Column profile: Not a valid choice.", id="no-profile"),
        pytest.param(
            {"arrived_from": "2024-13-45"}, "Arrived from: Not a valid date value.", id="date"
        ),
        pytest.param(
            {"arrived_from": "2024-06-01", "arrived_to": "2024-05-01"},
            "Arrived until: The end date is before the start date.",
            id="dates-reversed",
        ),
        pytest.param({"agency": "xyz"}, "Agency: Not a valid choice.", id="agency"),
        pytest.param({"vstatus": "approved"}, "Verification status: ", id="vstatus"),
        pytest.param({"nationality": "MM"}, GROUP_REFUSAL, id="nationality-alone"),
        pytest.param({"ethnicity": "Rohingya"}, GROUP_REFUSAL, id="ethnicity-alone"),
        pytest.param(
            {"nationality": "AF", "ethnicity": "Hazara", "status": "detained", "stalled": "y"},
            GROUP_REFUSAL,
            id="group-with-other-filters",
        ),
    ],
)
def test_a_bad_export_request_is_refused_with_a_message_and_nothing_recorded(
    app, client, supervisor, people, fmt, filters, expected
):
    before = state(app)
    response = export(client, fmt, **filters)

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/cases/verification?agency=")
    assert state(app) == before
    assert ledger(app) == [] and audit_events(app, "export") == []
    page = client.get(response.headers["Location"])
    assert any(m.startswith(expected) for m in messages(page)), messages(page)


def test_the_group_refusal_explains_what_to_do(app, client, supervisor, people):
    response = export(client, "csv", nationality="MM")
    assert messages(client.get(response.headers["Location"])) == [
        "A list selected by nationality or ethnicity alone is not exported. Add a "
        "verification status filter, or use the dashboard's counts for group totals."
    ]


@pytest.mark.parametrize(
    ("filters", "listed"),
    [
        ({"nationality": "AF", "vstatus": "referred"}, ["bashir"]),
        ({"ethnicity": "bajuni", "vstatus": ["verified", "referred"]}, ["amina"]),
        ({"nationality": "MM", "vstatus": "not_referred"}, ["farida"]),
        ({"nationality": "MM", "vstatus": "verified"}, []),
    ],
)
def test_nationality_or_ethnicity_with_a_status_filter_is_exported(
    app, client, supervisor, people, filters, listed
):
    response = export(client, "csv", "unhcr", **filters)

    assert response.status_code == 200
    rows = read_csv(response)[1:]
    assert [row[0] for row in rows] == sorted(people[name].case_number for name in listed)
    assert ledger(app)[0]["listed"] == [row[0] for row in rows]


# --- the ledger and the audit trail --------------------------------------------------------


def test_every_export_is_in_the_ledger_person_by_person(app, client, supervisor, people):
    filters = {"vstatus": ["referred", "verified"], "legal_category": "", "q": ""}

    csv_rows = read_csv(export(client, "csv", "unhcr", **filters))[1:]
    export(client, "xlsx", "iom", agency="iom", vstatus="in_progress")
    export(client, "print", "internal", vstatus="not_referred")

    entries = ledger(app)
    assert [(e["profile"], e["format"]) for e in entries] == [
        ("unhcr", "csv"),
        ("iom", "xlsx"),
        ("internal", "print"),
    ]
    assert all(e["exported_by_id"] == supervisor for e in entries)
    first = entries[0]
    assert first["listed"] == [row[0] for row in csv_rows]
    assert first["listed"] == sorted([people["amina"].case_number, people["bashir"].case_number])
    assert first["row_count"] == 2
    assert first["filters"] == {
        "agency": "unhcr",
        "verification_status": ["referred", "verified"],
        "stalled_only": False,
    }
    assert entries[1]["listed"] == [people["bashir"].case_number]
    assert entries[1]["filters"]["agency"] == "iom"
    assert entries[2]["listed"] == [people["farida"].case_number]
    assert abs(datetime.now(first["exported_at"].tzinfo) - first["exported_at"]) < timedelta(
        minutes=5
    )

    exported = audit_events(app, "export")
    assert len(exported) == 3
    details = json.loads(exported[0].details)
    assert details == {
        "profile": "unhcr",
        "format": "csv",
        "filters": first["filters"],
        "rows": 2,
    }
    assert exported[0].actor_id == supervisor
    assert exported[0].object_type == "Disclosure"


def test_a_large_export_tells_postgresql_how_large_the_ledger_is(
    app, client, supervisor, people, is_postgres, monkeypatch
):
    # The ledger's rows are read back at once: planned from figures that
    # predate them, a national export was planned as a few hundred rows.
    if not is_postgres:
        pytest.skip("SQLite's plans do not depend on the table's figures")
    import rudenim.reports.services

    monkeypatch.setattr(rudenim.reports.services, "ANALYZED_FROM_ROWS", 2)

    def planner_rows():
        with app.app_context():
            return _db.session.scalar(
                text("SELECT reltuples FROM pg_class WHERE relname = 'disclosed_person'")
            )

    before = planner_rows()
    export(client, "csv", "iom", agency="iom", vstatus="in_progress")  # one person
    export(client, "csv", "internal", vstatus="not_referred")  # one person
    assert [e["row_count"] for e in ledger(app)] == [1, 1]
    assert planner_rows() == before  # below the threshold: left to autovacuum
    export(client, "csv", "unhcr", vstatus=["referred", "verified"])  # two people
    assert planner_rows() == 4


def test_the_ledger_keeps_the_filters_the_user_set(app, client, supervisor, people):
    export(
        client,
        "csv",
        "internal",
        vstatus="referred",
        q="Karimi",
        nationality="AF",
        status="detained",
        arrived_from=(local_today() - timedelta(days=365)).isoformat(),
        include_left="y",
    )

    (entry,) = ledger(app)
    assert entry["filters"] == {
        "agency": "unhcr",
        "verification_status": ["referred"],
        "stalled_only": False,
        "q": "Karimi",
        "nationality": "AF",
        "status": ["detained"],
        "arrived_from": (local_today() - timedelta(days=365)).isoformat(),
        "include_left": True,
    }
    assert entry["listed"] == [people["bashir"].case_number]


def test_the_person_page_shows_what_was_disclosed_to_supervisors_only(
    app, client, supervisor, people, sign_in
):
    export(client, "csv", "unhcr", vstatus=["referred", "verified"])
    export(client, "print", "iom", agency="iom", vstatus="in_progress")

    disclosed = section(client.get(f"/cases/{people['bashir'].id}"), "disclosed")
    assert disclosed is not None
    rows = table_rows(disclosed)
    with app.app_context():
        username = _db.session.get(User, supervisor).username
    assert [row[1:5] for row in rows] == [
        ["IOM", "PRINT", username, "1"],
        ["UNHCR", "CSV", username, "2"],
    ]
    assert '"verification_status": ["referred", "verified"]' in rows[1][5]
    nothing = plain(section(client.get(f"/cases/{people['farida'].id}"), "disclosed"))
    assert "This record has not been in any export." in nothing

    for role in ("officer", "viewer"):
        client.post("/auth/logout")
        sign_in(role)
        page = client.get(f"/cases/{people['bashir'].id}")
        assert page.status_code == 200
        assert section(page, "disclosed") is None
        assert 'id="disclosed"' not in page.get_data(as_text=True)


def test_the_board_export_form_carries_the_boards_filters(app, client, supervisor, people):
    board = client.get("/cases/verification?agency=unhcr&vstatus=referred&vstatus=verified&q=a")
    form = re.search(
        r'<form method="post" class="actions" id="export-form">(.*?)</form>',
        board.get_data(as_text=True),
        re.S,
    ).group(1)
    fields: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form):
        fields.setdefault(name, []).append(value)
    assert fields["vstatus"] == ["referred", "verified"] and fields["q"] == ["a"]

    response = client.post(URLS["csv"], data={**fields, "profile": "unhcr"})

    shown = re.findall(r'#verification">([A-Z]+-\d{4}-\d{4})</a>', board.get_data(as_text=True))
    # "a" finds Amina (a name starting with it), not Bashir, who is also referred.
    assert shown == [people["amina"].case_number]
    assert [row[0] for row in read_csv(response)[1:]] == shown


# --- the printable list --------------------------------------------------------------------


def test_the_printable_list_is_ready_to_sign_and_is_in_the_ledger(app, client, supervisor, people):
    response = export(client, "print", "unhcr", vstatus=["referred", "verified"])

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    text = plain(page)
    assert "<h1>Rumah Detensi Imigrasi Kupang</h1>" in page
    assert "Verification status list for UNHCR" in text
    assert f"Date: {format_date(local_today(), 'long', locale='en')}" in text
    assert "Number of people: 2" in text
    assert re.search(r'<div class="signatures">', page)
    assert "Prepared by" in text and "Siti Rahayu" in text
    assert "Approved by the head of the centre" in text
    header = re.findall(r"<th>(.*?)</th>", page)
    assert header == ["#", *COLUMNS["unhcr"]]
    rows = table_rows(page[page.index('class="print-table"') :])
    assert [row[:3] for row in rows] == [
        ["1", people["amina"].case_number, "Amina Yusuf"],
        ["2", people["bashir"].case_number, "Bashir Karimi"],
    ]
    assert rows[0][-2:] == ["Verified", (local_today() - timedelta(days=28)).isoformat()]
    (entry,) = ledger(app)
    assert (entry["format"], entry["profile"], entry["row_count"]) == ("print", "unhcr", 2)
    with app.app_context():
        disclosure_id = _db.session.scalar(select(Disclosure.id))
    assert f"Ledger entry #{disclosure_id}" in text


def test_a_long_printable_list_says_it_is_cut_short(app, client, supervisor, people, monkeypatch):
    import rudenim.reports.views

    monkeypatch.setattr(rudenim.reports.views, "PRINT_LIMIT", 1)

    response = export(client, "print", "internal", vstatus=["referred", "verified"])

    text = plain(response.get_data(as_text=True))
    assert "Only the first person is shown." in text
    assert len(table_rows(response.get_data(as_text=True).split('class="print-table"')[1])) == 1
    # The ledger says what the selection was: both people.
    assert ledger(app)[0]["row_count"] == 2


# --- streaming ------------------------------------------------------------------------------


def _stream(client) -> tuple[int, int, float]:
    """Export everyone as CSV; (data rows, peak memory of request and reading, seconds).

    Tracing starts before the request: the test client already reads the
    first chunk before it hands the response over.
    """
    started = time.perf_counter()
    lines, response = 0, None
    tracemalloc.start()
    try:
        response = export(client, "csv", "internal", vstatus="in_progress")
        assert response.status_code == 200
        assert response.is_streamed
        chunks = 0
        for chunk in response.response:
            if chunks == 0:
                assert chunk.startswith(b"\xef\xbb\xbf")
            chunks += 1
            lines += chunk.count(b"\r\n")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        if response is not None:
            response.close()
    # Written as it is read: many chunks, not one file produced at once.
    assert chunks > lines // 1000
    return lines - 1, peak, time.perf_counter() - started


def test_an_export_is_streamed_and_memory_does_not_grow_with_the_rows(app, client, supervisor):
    insert_people(app, 2_000)
    rows_small, peak_small, seconds_small = _stream(client)
    insert_people(app, 18_000, first=2_001)
    rows_large, peak_large, seconds_large = _stream(client)

    assert (rows_small, rows_large) == (2_000, 20_000)
    assert peak_large < 1.5 * peak_small + 256 * 1024, (peak_small, peak_large)
    # Nor does the time per row grow: ten times the rows, not a hundred times the wait.
    assert seconds_large < 20 * seconds_small + 5, (seconds_small, seconds_large)
    entries = ledger(app)
    assert [e["row_count"] for e in entries] == [2_000, 20_000]


def test_a_download_stopped_halfway_leaves_nothing_open(app, client, supervisor):
    insert_people(app, 2_500)
    response = export(client, "csv", "unhcr", vstatus="in_progress")
    chunks = iter(response.response)
    assert next(chunks).startswith(b"\xef\xbb\xbf")

    response.close()  # the browser went away
    gc.collect()

    # The database answers the next request as usual (no cursor left open, no lock held).
    assert read_csv(export(client, "csv", "iom", vstatus="in_progress"))[1][0] == (
        "BLK-2024-000001"
    )
    assert [e["row_count"] for e in ledger(app)] == [2_500, 2_500]
