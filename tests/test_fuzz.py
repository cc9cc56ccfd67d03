"""Fuzzed input: Hypothesis sends every form rubbish and checks nothing breaks.

Every POST route is walked from ``app.url_map``; its form's fields are read from
the FlaskForm classes its view uses. Each submission mixes plausible values with
control characters, very long values, wrong types, unknown choices, repeated and
missing fields and fields no form has. For every one: never a 500, no redirect
off the site, and a submission the app refused changes nothing. A second group
stores odd names and notes and reads them back from the person page (escaped)
and from the CSV and XLSX exports (formula-safe).

``FUZZ_EXAMPLES`` sets the examples per route (default 25).
"""

import csv
import inspect
import io
import os
import re
import types
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
from flask import url_for
from flask_wtf import FlaskForm
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from markupsafe import escape
from openpyxl import load_workbook
from sqlalchemy import select
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    FieldList,
    FormField,
    IntegerField,
    SelectFieldBase,
)

from rudenim import create_app
from rudenim.auth.models import User
from rudenim.auth.permissions import PERMISSIONS, PUBLIC, Role
from rudenim.cases.models import Person
from rudenim.conduct.models import Violation
from rudenim.exports import neutralise
from rudenim.extensions import db as _db
from rudenim.reports.services import PROFILE_COLUMNS
from tests.conftest import login
from tests.conftest import test_settings as settings_with
from tests.load.loadtest import form_with
from tests.populated import get_rules, populate, post_rules, row_counts

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
#: The route walk needs only the URL map: an app on no database at all.
URL_MAP_APP = create_app(settings_with())
ROUTES = {rule.endpoint: rule for rule in post_rules(URL_MAP_APP)}
#: Routes a signed-out browser uses.
ANONYMOUS = {"auth.login", "auth.second_factor"}
#: Tables a refused sign-in legitimately writes to: the failure is counted and audited.
SIGN_IN_TABLES = {"audit_event", "login_throttle", "user_session"}
SUCCESS_MARKS = (
    'class="flash flash-success"',
    'id="one-time-password"',
    'id="recovery-codes"',
    'id="updated"',
    'class="print-page"',
)
FLASH = re.compile(r'class="flash flash-(\w+)"')

# --- values --------------------------------------------------------------------------------------

CONTROL = st.characters(min_codepoint=0, max_codepoint=0x1F)
ODD = st.sampled_from(list("aZ<>&\"'=+-@;, éßØ中😀\u202e\u200b\u00a0\ufeff\u2028\\/%"))
NASTY_TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)
CONTROL_TEXT = st.text(alphabet=st.one_of(CONTROL, ODD), max_size=30)
LONG_TEXT = st.builds(lambda s, n: (s or "x") * n, st.text(max_size=3), st.integers(2_000, 12_000))
WRONG_TYPE = st.sampled_from(
    [
        "",
        " ",
        "abc",
        "-1",
        "0",
        "1e309",
        "9" * 40,
        "2024-02-30",
        "2024-13-01",
        "9999-12-31",
        "0001-01-01",
        "2024-01-01T25:61",
        "NaN",
        "[]",
        "{}",
        "None",
        "null",
        "true",
        "١٢٣",
        "1; DROP TABLE person",
        "<script>alert(1)</script>",
        '=HYPERLINK("http://x")',
        "../../etc",
    ]
)


def plausible(field, ids: dict):
    """Values the field could hold when a browser fills it in."""
    today = date.today()
    if isinstance(field, BooleanField):
        return st.sampled_from(["y", "on", "1", "false"])
    if isinstance(field, DateTimeLocalField):
        return st.sampled_from([f"{today - timedelta(days=1)}T10:00", f"{today}T00:00"])
    if isinstance(field, DateField):
        return st.sampled_from([today.isoformat(), (today - timedelta(days=400)).isoformat()])
    if isinstance(field, IntegerField):
        return st.integers(-5, 500).map(str)
    if isinstance(field, SelectFieldBase):
        choices = [str(value) for value, *_label in field.iter_choices()]
        known = [str(value) for value in ids.values() if value]
        return st.sampled_from(choices + known or ["x"])
    if field.short_name.endswith("_id"):
        return st.sampled_from([str(value) for value in ids.values() if value] or ["1"])
    return st.builds(lambda text: "Ali " + text, NASTY_TEXT)


def field_values(field, ids: dict):
    """Anything at all for one field: plausible, hostile, long, mistyped, or repeated."""
    single = st.one_of(plausible(field, ids), NASTY_TEXT, CONTROL_TEXT, LONG_TEXT, WRONG_TYPE)
    return st.one_of(single, st.lists(single, min_size=2, max_size=3))


def form_classes(view) -> set[type]:
    """The FlaskForm classes a view uses, itself or through the helpers it calls."""
    found, seen = set(), set()

    def scan(code, namespace, depth):
        for name in code.co_names:
            thing = namespace.get(name)
            if isinstance(thing, type) and issubclass(thing, FlaskForm):
                found.add(thing)
            elif (
                inspect.isfunction(thing)
                and depth < 3
                and thing.__module__.startswith("rudenim")
                and thing not in seen
            ):
                seen.add(thing)
                scan(thing.__code__, thing.__globals__, depth + 1)
        for constant in code.co_consts:  # lambdas and inner functions
            if isinstance(constant, types.CodeType):
                scan(constant, namespace, depth)

    view = inspect.unwrap(view)
    scan(view.__code__, view.__globals__, 0)
    return found


def form_fields(app, endpoint: str) -> list:
    """Every input of the view's forms (sub-forms of lists included, one row each)."""
    fields = []
    with app.test_request_context():
        for form_class in form_classes(app.view_functions[endpoint]):
            form = form_class(formdata=None)
            for field in form:
                if isinstance(field, FieldList):
                    for _row in range(2):
                        entry = field.append_entry()
                        fields.extend(entry.form if isinstance(entry, FormField) else [entry])
                elif field.short_name not in ("csrf_token", "submit"):
                    fields.append(field)
    return fields


def submissions(fields, ids: dict):
    """Whole forms: all plausible, all plausible but one field spoilt or missing, or noise."""
    names = [field.name for field in fields]
    extras = st.dictionaries(st.text(min_size=1, max_size=8), NASTY_TEXT, max_size=2)
    if not names:
        return extras
    plausible_form = st.fixed_dictionaries({f.name: plausible(f, ids) for f in fields})
    noisy_form = st.fixed_dictionaries(
        {}, optional={field.name: field_values(field, ids) for field in fields}
    )

    def spoil(form, name, value):
        form = dict(form)
        if value is None:
            form.pop(name, None)
        else:
            form[name] = value
        return form

    noise = st.one_of(st.none(), NASTY_TEXT, CONTROL_TEXT, LONG_TEXT, WRONG_TYPE)
    one_spoilt = st.builds(spoil, plausible_form, st.sampled_from(names), noise)
    form = st.one_of(plausible_form, one_spoilt, noisy_form)
    return st.tuples(form, extras).map(lambda pair: {**pair[1], **pair[0]})


def url_values(rule, ids: dict):
    """The URL's arguments: a record that exists, one that does not, odd agencies."""
    values = {}
    for argument in sorted(rule.arguments):
        if argument == "agency":
            values[argument] = st.sampled_from(["iom", "unhcr", "IOM", "x", "iom%00"])
        else:
            values[argument] = st.sampled_from([ids.get(argument) or 1, 999_999])
    return st.fixed_dictionaries(values)


# --- the app under fuzz --------------------------------------------------------------------------


def role_for(permission: str) -> str:
    """A role that holds ``permission`` (a supervisor where one does)."""
    if permission == PUBLIC:
        return "supervisor"
    for role in (Role.SUPERVISOR, Role.ADMIN, Role.OFFICER, Role.VIEWER):
        if role in PERMISSIONS[permission]:
            return role.value
    raise AssertionError(permission)


def username_of(app, user_id: int) -> str:
    with app.app_context():
        return _db.session.get(User, user_id).username


def taken_flashes(client) -> list[str]:
    """The categories of the messages waiting in the session (and clear them)."""
    with client.session_transaction() as state:
        return [category for category, _message in state.pop("_flashes", [])]


def verdict(response, flashed: list[str]) -> str:
    """ "accepted", "refused" or "silent", from what the user would see."""
    body = response.get_data(as_text=True) if response.mimetype == "text/html" else ""
    shown = flashed + FLASH.findall(body)
    if "success" in shown or any(mark in body for mark in SUCCESS_MARKS):
        return "accepted"
    if response.status_code == 200 and response.mimetype != "text/html":
        return "accepted"  # a file download
    if response.status_code >= 400 or {"error", "warning"} & set(shown):
        return "refused"
    if 'class="error"' in body:
        return "refused"
    return "silent"


@pytest.mark.parametrize("endpoint", sorted(ROUTES))
def test_no_submission_to_any_form_breaks_it_and_a_refused_one_changes_nothing(
    app, make_user, endpoint
):
    rule = ROUTES[endpoint]
    ids = populate(app)
    fields = form_fields(app, endpoint)
    client = app.test_client()
    username = None
    if endpoint not in ANONYMOUS:
        permission = getattr(app.view_functions[endpoint], "permission", PUBLIC)
        username = username_of(app, make_user(role_for(permission)))
        assert login(client, username).status_code == 302
    ignored = SIGN_IN_TABLES if endpoint in ANONYMOUS else set()
    seen = {"accepted": 0, "refused": 0, "silent": 0}

    @FUZZ
    @given(data=st.data())
    def submit(data):
        url_args = data.draw(url_values(rule, ids), label="url")
        form = data.draw(submissions(fields, ids), label="form")
        with app.test_request_context():
            url = url_for(endpoint, **url_args)
        before = row_counts(app)
        response = client.post(url, data=form)
        response.get_data()  # a streamed export runs to its end
        response.close()
        assert response.status_code < 500
        outcome = verdict(response, taken_flashes(client))
        seen[outcome] += 1
        if outcome == "refused":
            after = row_counts(app)
            changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
            assert not {k: v for k, v in changed.items() if k not in ignored}, changed
        if response.status_code in (301, 302, 303):
            location = urlsplit(response.headers["Location"])
            assert location.netloc in ("", "localhost"), response.headers["Location"]
            if username and location.path == "/auth/login":
                login(client, username)  # e.g. signed out by the fuzzed form: sign in again

    submit()
    assert sum(seen.values()) >= min(EXAMPLES, 5)


def filter_forms(view) -> list[type]:
    """The GET (search and filter) forms a view reads from its query string."""
    return [form for form in form_classes(view) if not form.Meta.csrf]


#: Pages (without ids in their address) that read a search or filter form.
GET_ROUTES = {
    rule.endpoint: rule
    for rule in get_rules(URL_MAP_APP)
    if not rule.arguments and filter_forms(URL_MAP_APP.view_functions[rule.endpoint])
}


def has_nul(query: dict) -> bool:
    """Whether a NUL character is anywhere in the query string's names or values."""
    texts = list(query)
    for value in query.values():
        texts += value if isinstance(value, list) else [value]
    return any("\x00" in text for text in texts)


@pytest.mark.parametrize("endpoint", sorted(GET_ROUTES))
def test_no_search_or_filter_in_the_address_breaks_a_page(app, make_user, endpoint):
    view = app.view_functions[endpoint]
    populate(app)
    permission = getattr(view, "permission", PUBLIC)
    client = app.test_client()
    assert login(client, username_of(app, make_user(role_for(permission)))).status_code == 302
    fields = form_fields(app, endpoint)
    ids = {"id": 1}
    extra = st.fixed_dictionaries(
        {},
        optional={
            name: st.one_of(WRONG_TYPE, NASTY_TEXT, CONTROL_TEXT)
            for name in ("page", "per_page", "sort", "dir", "agency", "q")
        },
    )

    @FUZZ
    @given(query=submissions(fields, ids), more=extra)
    def search(query, more):
        before = row_counts(app)
        query = {**query, **more}
        response = client.get(GET_ROUTES[endpoint].rule, query_string=query)
        response.get_data()
        # A NUL character is refused outright (PostgreSQL stores none); all else is a page.
        assert response.status_code == (400 if has_nul(query) else 200)
        after = row_counts(app)
        assert {k for k in before if before[k] != after[k]} <= {"audit_event"}

    search()


# --- stored values come back as given ------------------------------------------------------------

NAME = st.builds(
    lambda head, tail: f"{head} {tail}",
    st.text(alphabet=st.one_of(ODD, CONTROL, st.sampled_from("<script>'\"&")), max_size=20),
    st.text(alphabet=st.characters(exclude_categories=("Cs",)), min_size=0, max_size=20),
).map(lambda name: "Budi " + name)  # Latin letters, as the name rule wants


@pytest.fixture
def supervisor(app, make_user):
    client = app.test_client()
    login(client, username_of(app, make_user("supervisor")))
    return client


def csv_rows(response) -> list[list[str]]:
    """The rows of a CSV export (without its BOM)."""
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


FULL_NAME = PROFILE_COLUMNS["internal"].index("full_name")


def test_a_stored_name_and_notes_come_back_exactly_escaped_and_formula_safe(app, supervisor):
    populate(app)
    with app.app_context():
        person_id = _db.session.scalar(
            select(Violation.person_id).join(Person).where(Person.is_in_care.is_(True))
        )
    export = {"agency": "iom", "profile": "internal", "include_left": "y"}
    with app.app_context():
        person = _db.session.get(Person, person_id)
        previous = {"name": person.full_name, "notes": person.notes}

    @FUZZ
    @given(name=NAME, notes=st.one_of(NASTY_TEXT, CONTROL_TEXT))
    @example(name='Budi =HYPERLINK("http://evil.example","x")', notes="=1+1")
    @example(name="Budi <script>alert('x')</script> & Sons", notes="<b>bold</b>\r\n@SUM(A1)")
    @example(name="Budi \x01\x02\x0b\x1b[31m red", notes="\x00 nul")
    @example(name="-Budi +Ali @home", notes="\t\ttab")
    def store_and_read_back(name, notes):
        page = supervisor.get(f"/cases/{person_id}/edit").get_data(as_text=True)
        form = form_with(page, "version")
        values = [(k, v) for k, v in form["fields"] if k not in ("full_name", "notes")]
        before = row_counts(app)
        response = supervisor.post(
            f"/cases/{person_id}/edit",
            data=dict(values) | {"full_name": name, "notes": notes},
        )
        assert response.status_code in (200, 302, 400)
        with app.app_context():
            person = _db.session.get(Person, person_id)
            stored_name, stored_notes = person.full_name, person.notes
        if response.status_code != 302:  # refused (a NUL is a 400): nothing changed
            assert row_counts(app) == before
            assert (stored_name, stored_notes) == (previous["name"], previous["notes"])
            return
        previous.update(name=stored_name, notes=stored_notes)
        # Stored as given, but for the documented clean-up: a name's runs of
        # whitespace become one space, notes lose surrounding whitespace.
        assert stored_name == " ".join(name.split())
        assert stored_notes == (notes.strip() or None)

        shown = supervisor.get(f"/cases/{person_id}").get_data(as_text=True)
        assert str(escape(stored_name)) in shown
        if stored_notes:
            assert str(escape(stored_notes)) in shown
        if "<" in stored_name:
            assert stored_name not in shown

        rows = csv_rows(supervisor.post("/reports/verification.csv", data=export))
        assert neutralise(stored_name) in [row[FULL_NAME] for row in rows[1:]]

        response = supervisor.post("/reports/verification.xlsx", data=export)
        sheet = load_workbook(io.BytesIO(response.get_data()), read_only=True).worksheets[0]
        cells = [row[FULL_NAME] for row in sheet.iter_rows(min_row=2, values_only=True)]
        assert xlsx_safe(neutralise(stored_name)) in cells

        log = csv_rows(supervisor.post("/conduct/export.csv", data={}))
        assert neutralise(stored_name) in [cell for row in log[1:] for cell in row]

    store_and_read_back()


def xlsx_safe(value: str) -> str:
    """What an XLSX cell can hold of ``value``: XML 1.0 has no control characters."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE.sub("", value)
