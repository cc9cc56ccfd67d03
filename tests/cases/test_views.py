"""The people registry's pages, through the test client.

No test holds an app context while it makes requests (Flask would reuse it);
data is set up and inspected in short ``with app.app_context():`` blocks.
"""

import html
import json
import re
import sqlite3
from datetime import date, timedelta

import pytest
from babel.dates import format_date
from sqlalchemy import insert, select, update

from rudenim.auth.models import UserSession
from rudenim.cases import services
from rudenim.cases.models import CustodyStatus, Person, Placement, Vulnerability
from rudenim.clock import as_utc, local_today, utcnow
from rudenim.extensions import WriteWhenReadOnly, only_reads_from_here, read_only_connection
from rudenim.extensions import db as _db
from tests.cases.conftest import (
    audit_events,
    distinct_names,
    english,
    listed,
    messages,
    person_row,
    row_counts,
)
from tests.conftest import around_one_write, sqlite_statements


def today() -> date:
    return local_today()


def english_date(day: date) -> str:
    """A date as the English interface shows it."""
    return format_date(day, "medium", locale="en")


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def registration(**overrides) -> dict:
    """What an officer types on the registration form."""
    data = {
        "full_name": "Amina Yusuf",
        "sex": "female",
        "date_of_birth": "1995-03-04",
        "nationality": "SO",
        "legal_category": "asylum_seeker",
        "arrived_on": (today() - timedelta(days=40)).isoformat(),
        "status": "detained",
        "placement_id": "",
    }
    data.update(overrides)
    return data


def custody_step(status, placement=None, on=None, reason="Decision of the head", **extra):
    on = on or today()
    return {
        "status": status,
        "placement_id": str(getattr(placement, "id", placement) or 0),
        "effective_on": on.isoformat() if isinstance(on, date) else on,
        "reason": reason,
        **extra,
    }


def field_value(response, name: str) -> str:
    """The value an <input> shows."""
    match = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', response.get_data(True))
    assert match, f"no value for {name}"
    return html.unescape(match.group(1))


def person_id_from(response) -> int:
    assert response.status_code == 302, messages(response) or response.status_code
    match = re.fullmatch(r"/cases/(\d+)", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


@pytest.fixture
def block(make_placement):
    return make_placement(kind="centre", name="Blok A", capacity=20)


@pytest.fixture
def housing(make_placement):
    return make_placement(kind="housing", name="Wisma Bahagia", capacity=40)


# --- who may do what ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "method", "path", "allowed"),
    [
        ("officer", "get", "/cases/new", True),
        ("supervisor", "get", "/cases/new", True),
        ("viewer", "get", "/cases/new", False),
        ("admin", "get", "/cases/new", False),
        ("viewer", "post", "/cases/new", False),
        ("admin", "post", "/cases/new", False),
        ("viewer", "get", "/cases/", True),
        ("admin", "get", "/cases/", False),
        ("viewer", "get", "/cases/{id}", True),
        ("admin", "get", "/cases/{id}", False),
        ("viewer", "get", "/cases/{id}/edit", False),
        ("viewer", "post", "/cases/{id}/custody", False),
        ("officer", "post", "/cases/{id}/reviews", False),
        ("officer", "get", "/cases/reference/placements", False),
        ("supervisor", "get", "/cases/reference/ethnicities", False),
        ("admin", "get", "/cases/reference/placements", True),
        ("admin", "get", "/cases/reference/ethnicities", True),
    ],
)
def test_permissions(app, client, sign_in, make_person, role, method, path, allowed):
    person = make_person()
    sign_in(role)
    before = row_counts(app)
    response = getattr(client, method)(path.format(id=person.id))
    assert (response.status_code != 403) is allowed, response.status_code
    if not allowed:
        assert row_counts(app) == before
        (refusal,) = audit_events(app, "permission_denied")
        assert json.loads(refusal.details)["path"] == path.format(id=person.id)


def test_signed_out_visitors_are_sent_to_sign_in(client, make_person):
    person = make_person()
    for path in ("/cases/", "/cases/new", f"/cases/{person.id}"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/auth/login")


# --- registering ------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["officer", "supervisor"])
def test_registration_assigns_case_numbers_in_sequence(app, client, sign_in, block, role):
    sign_in(role)
    year = today().year
    first = client.post("/cases/new", data=registration(placement_id=block.id))
    first_id = person_id_from(first)
    page = client.get(first.headers["Location"])
    assert f"Amina Yusuf is registered as KPG-{year}-0001." in messages(page)
    assert f"KPG-{year}-0001" in text_of(page)

    second = client.post(
        "/cases/new",
        data=registration(full_name="Bashir Karimi", nationality="AF", placement_id=block.id),
    )
    second_id = person_id_from(second)
    with app.app_context():
        assert _db.session.get(Person, first_id).case_number == f"KPG-{year}-0001"
        assert _db.session.get(Person, second_id).case_number == f"KPG-{year}-0002"


def test_the_site_code_comes_from_the_settings(app, client, sign_in, block):
    app.config["SITE_CODE"] = "TNJ"
    sign_in()
    response = client.post("/cases/new", data=registration(placement_id=block.id))
    assert person_row(app, person_id_from(response))["case_number"] == f"TNJ-{today().year}-0001"


def test_registration_stores_aliases_identifiers_vulnerabilities_and_first_custody(
    app, client, sign_in, housing
):
    sign_in()
    response = client.post(
        "/cases/new",
        data=registration(
            aliases="Aminah Yousef\r\n\r\nAmina Y.",
            unhcr_registration="354-24C00001",
            iom_case="IOM-2024-77",
            vulnerabilities=["pregnant", "medical"],
            claimed_ethnicity="Bajuni",
            languages="Somali, Swahili",
            needs_interpreter="y",
            status="community_housing",
            placement_id=housing.id,
            notes="Arrived by boat.",
        ),
    )
    person_id = person_id_from(response)
    with app.app_context():
        person = _db.session.get(Person, person_id)
        assert [alias.name for alias in person.aliases] == ["Aminah Yousef", "Amina Y."]
        assert {(i.kind.value, i.value) for i in person.identifiers} == {
            ("unhcr_registration", "354-24C00001"),
            ("iom_case", "IOM-2024-77"),
        }
        assert person.vulnerabilities == [Vulnerability.MEDICAL, Vulnerability.PREGNANT]
        assert person.needs_interpreter is True
        assert person.custody_status is CustodyStatus.COMMUNITY_HOUSING
        assert person.placement_id == housing.id
        (event,) = person.custody_events
        assert event.effective_on == today() - timedelta(days=40)

    page = text_of(client.get(f"/cases/{person_id}"))
    for shown in (
        "Aminah Yousef, Amina Y.",
        "354-24C00001",
        "IOM-2024-77",
        "Somali, Swahili",
        "needs an interpreter",
        "Wisma Bahagia",
        "Community housing",
        "Arrived by boat.",
    ):
        assert shown in page, shown


def test_registering_into_a_full_placement_warns(app, client, sign_in, make_placement):
    full = make_placement(kind="centre", name="Sel 9", capacity=0)
    sign_in()
    response = client.post("/cases/new", data=registration(placement_id=full.id))
    person_id_from(response)
    assert "Sel 9 is now over capacity." in messages(client.get(response.headers["Location"]))


def test_an_age_without_a_date_gives_an_estimated_birth_date(app, client, sign_in, block):
    sign_in()
    response = client.post(
        "/cases/new", data=registration(date_of_birth="", age_years="34", placement_id=block.id)
    )
    row = person_row(app, person_id_from(response))
    assert row["date_of_birth"] == date(today().year - 34, 1, 1)
    assert row["is_birth_date_estimated"] is True
    page = text_of(client.get(response.headers["Location"]))
    assert f"{english_date(date(today().year - 34, 1, 1))} (estimated)" in page


def test_nationality_names_are_in_the_interface_language(client, login_as):
    login_as("officer")  # the interface starts in Indonesian
    page = client.get("/cases/new").get_data(as_text=True)
    assert '<option value="AF">Afganistan</option>' in page
    assert '<option value="stateless">' in page and '<option value="unknown">' in page

    english(client)
    page = client.get("/cases/new").get_data(as_text=True)
    assert '<option value="AF">Afghanistan</option>' in page
    assert '<option value="stateless">Stateless</option>' in page
    assert '<option value="unknown">Unknown</option>' in page


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"full_name": ""}, "This field is required."),
        ({"full_name": "   "}, "This field is required."),
        ({"full_name": "محمد"}, "The name must contain letters (in Latin script)."),
        (
            {"date_of_birth": (local_today() + timedelta(days=3)).isoformat()},
            "The date of birth is in the future.",
        ),
        # The calendar's edges (the duplicate search looks two years either side).
        ({"date_of_birth": "9999-12-31"}, "The date of birth is in the future."),
        (
            {"date_of_birth": "0001-01-01"},
            "A date of birth more than 120 years ago is not possible.",
        ),
        ({"date_of_birth": "", "age_years": "150"}, "Number must be between 0 and 120."),
        (
            {"date_of_birth": "1990-01-01", "age_years": "30"},
            "Give either a date of birth or an age, not both.",
        ),
        ({"nationality": "XX"}, "Not a valid choice."),
        ({"placement_id": "999"}, "Not a valid choice."),
        ({"status": "released"}, "Not a valid choice."),
        (
            {"placement_id": "housing"},
            "Someone detained is placed in a block or room of the centre.",
        ),
        ({"placement_id": ""}, "Choose a placement for this status."),
        ({"arrived_on": ""}, "This field is required."),
        (
            {"arrived_on": (local_today() + timedelta(days=3)).isoformat()},
            "The arrival date is in the future.",
        ),
    ],
)
def test_bad_registrations_are_refused_with_a_message_and_save_nothing(
    app, client, sign_in, block, housing, overrides, message
):
    sign_in()
    placements = {"housing": str(housing.id)}
    data = registration(placement_id=block.id)
    data.update({k: placements.get(v, v) for k, v in overrides.items()})
    before = row_counts(app)
    response = client.post("/cases/new", data=data)
    assert response.status_code == 200
    assert message in messages(response)
    assert row_counts(app) == before
    # What the officer typed is still on the form.
    assert field_value(response, "languages") == ""
    if overrides.get("full_name", "x").strip():
        assert field_value(response, "full_name") == data["full_name"]


def test_an_identifier_already_held_is_refused_naming_and_linking_the_holder(
    app, client, sign_in, make_person, block
):
    holder = make_person(identifiers={"unhcr_registration": "354-24C00001"})
    sign_in()
    before = row_counts(app)
    response = client.post(
        "/cases/new",
        data=registration(
            full_name="Tesfaye Kebede",
            nationality="ET",
            unhcr_registration="354 24c00001",
            placement_id=block.id,
        ),
    )
    assert response.status_code == 200
    (message,) = [m for m in messages(response) if "already belongs to" in m]
    assert holder.case_number in message
    assert f'href="/cases/{holder.id}"' in response.get_data(as_text=True)
    assert row_counts(app) == before


def test_ethnicity_suggestions_are_offered_and_what_is_typed_is_kept(
    app, client, sign_in, make_user, block
):
    from tests.conftest import login

    admin = app.test_client()
    with app.app_context():
        from rudenim.auth.models import User

        username = _db.session.get(User, make_user("admin")).username
    login(admin, username)
    english(admin)
    assert admin.post("/cases/reference/ethnicities", data={"name": "Rohingya"}).status_code == 302

    sign_in()
    form = client.get("/cases/new").get_data(as_text=True)
    datalist = form[form.index('<datalist id="ethnicity-suggestions">') :]
    assert '<option value="Rohingya">' in datalist[: datalist.index("</datalist>")]
    assert 'list="ethnicity-suggestions"' in form

    response = client.post(
        "/cases/new",
        data=registration(nationality="MM", claimed_ethnicity="rohingya", placement_id=block.id),
    )
    assert person_row(app, person_id_from(response))["claimed_ethnicity"] == "rohingya"


# --- the duplicate check ------------------------------------------------------------------


@pytest.fixture
def rahman(make_person):
    return make_person(
        full_name="Mohammad Rahman",
        aliases=["Abdul Rahman"],
        nationality="AF",
        date_of_birth=date(1988, 2, 1),
    )


@pytest.mark.parametrize(
    ("typed", "because"),
    [
        ("Muhammad Rehman", "Similar name: Muhammad Rehman ~ Mohammad Rahman; same nationality"),
        ("Mohd Rahman", "Similar name: Mohd Rahman ~ Mohammad Rahman; same nationality"),
        ("Abdulrahman", "Similar name: Abdulrahman ~ Abdul Rahman; same nationality"),
        ("Abdoul-Rehman", "Similar name: Abdoul-Rehman ~ Abdul Rahman; same nationality"),
    ],
)
def test_possible_matches_are_shown_with_why_and_a_link_and_nothing_is_saved(
    app, client, sign_in, block, rahman, typed, because
):
    sign_in()
    before = row_counts(app)
    response = client.post(
        "/cases/new",
        data=registration(
            full_name=typed, nationality="AF", date_of_birth="2001-01-01", placement_id=block.id
        ),
    )
    assert response.status_code == 200
    assert row_counts(app) == before
    assert "This person may already be registered. Check the possible matches below." in messages(
        response
    )
    page = response.get_data(as_text=True)
    matches = page[page.index('id="possible-matches"') : page.index("</section>")]
    assert f'<a href="/cases/{rahman.id}">{rahman.case_number}</a>' in matches
    assert because in html.unescape(matches)
    assert field_value(response, "full_name") == typed
    assert field_value(response, "confirmed_ids") == str(rahman.id)
    assert "this is a different person" in page


def test_a_birth_date_within_two_years_matches_across_nationalities(
    app, client, sign_in, block, rahman
):
    sign_in()
    response = client.post(
        "/cases/new",
        data=registration(
            full_name="Muhammad Rehman",
            nationality="stateless",
            date_of_birth="1989-12-01",
            placement_id=block.id,
        ),
    )
    assert "date of birth within two years" in text_of(response)
    assert row_counts(app)["person"] == 1


def test_no_match_when_neither_birth_date_nor_nationality_agrees(
    app, client, sign_in, block, rahman
):
    sign_in()
    response = client.post(
        "/cases/new",
        data=registration(
            full_name="Muhammad Rehman",
            nationality="PK",
            date_of_birth="1995-01-01",
            placement_id=block.id,
        ),
    )
    person_id_from(response)
    assert row_counts(app)["person"] == 2
    assert audit_events(app, "duplicate_check_overridden") == []


def test_the_same_identifier_written_differently_is_refused(
    app, client, sign_in, block, make_person
):
    holder = make_person(identifiers={"unhcr_case": "354-24C00001"})
    sign_in()
    response = client.post(
        "/cases/new",
        data=registration(
            full_name="Laila Ebadi", unhcr_case="354 24c00001", placement_id=block.id
        ),
    )
    assert response.status_code == 200
    assert any(holder.case_number in m for m in messages(response))
    assert row_counts(app)["person"] == 1


def test_confirming_a_different_person_registers_and_is_audited(
    app, client, sign_in, block, rahman
):
    sign_in()
    data = registration(full_name="Muhammad Rehman", nationality="AF", placement_id=block.id)
    shown = client.post("/cases/new", data=data)
    confirmed_ids = field_value(shown, "confirmed_ids")

    # The ids alone, without the tick, are not a confirmation.
    again = client.post("/cases/new", data={**data, "confirmed_ids": confirmed_ids})
    assert again.status_code == 200 and 'id="possible-matches"' in again.get_data(True)
    assert row_counts(app)["person"] == 1

    response = client.post(
        "/cases/new", data={**data, "confirmed_ids": confirmed_ids, "confirm_different": "y"}
    )
    person_id = person_id_from(response)
    (override,) = audit_events(app, "duplicate_check_overridden")
    assert override.object_id == str(person_id)
    assert json.loads(override.details)["different_from"] == [rahman.case_number]


def test_a_confirmation_covers_only_the_matches_that_were_shown(
    app, client, sign_in, block, rahman, make_person
):
    sign_in()
    data = registration(full_name="Muhammad Rehman", nationality="AF", placement_id=block.id)
    confirmed_ids = field_value(client.post("/cases/new", data=data), "confirmed_ids")
    newcomer = make_person(
        full_name="Mohamed Rahman", nationality="AF", confirm=[rahman.id], date_of_birth=None
    )
    response = client.post(
        "/cases/new", data={**data, "confirmed_ids": confirmed_ids, "confirm_different": "y"}
    )
    assert response.status_code == 200
    assert f'<a href="/cases/{newcomer.id}">' in response.get_data(as_text=True)
    assert row_counts(app)["person"] == 2


# --- the list -------------------------------------------------------------------------------


@pytest.fixture
def registry(app, make_person, make_placement):
    """A few people to find; returns name → detached person."""
    second_block = make_placement(kind="centre", name="Blok B")
    wisma = make_placement(kind="housing", name="Wisma Bahagia")
    people = {
        "rahman": make_person(
            full_name="Mohammad Rahman",
            aliases=["Abdul Rahman Shah"],
            nationality="MM",
            claimed_ethnicity="Rohingya",
            identifiers={"unhcr_registration": "354-24C00001"},
            vulnerabilities=["medical"],
            arrived_on=today() - timedelta(days=300),
            placement=second_block.id,
        ),
        "amina": make_person(
            full_name="Amina Yusuf",
            sex="female",
            nationality="SO",
            legal_category="immigration_detainee",
            identifiers={"iom_case": "IOM-2024-77"},
            arrived_on=today() - timedelta(days=30),
            status="community_housing",
            placement=wisma.id,
        ),
        "hassan": make_person(
            full_name="Hassan Jalali",
            nationality="AF",
            claimed_ethnicity="Hazara",
            vulnerabilities=["unaccompanied_minor"],
            date_of_birth=date(today().year - 16, 1, 1),
            arrived_on=today() - timedelta(days=90),
        ),
        "tesfaye": make_person(full_name="Tesfaye Kebede", nationality="ET"),
    }
    from rudenim.cases import services

    with app.app_context():
        left = _db.session.get(Person, people["tesfaye"].id)
        services.record_custody_change(
            left,
            services.CustodyData("resettled", None, today(), "Resettled to Canada"),
            actor=left.custody_events[0].recorded_by,
        )
        _db.session.commit()
    return people


def cases(registry, *keys) -> list[str]:
    return [registry[key].case_number for key in keys]


@pytest.mark.parametrize(
    ("query", "who"),
    [
        ("q=Muhammad+Rehman", ["rahman"]),
        ("q=mohamed", ["rahman"]),
        ("q=Abdulrahman", ["rahman"]),
        ("q=yousuf", ["amina"]),
        ("q=354+24c00001", ["rahman"]),
        ("q=IOM-2024-77", ["amina"]),
        ("q=354-24C", []),
        ("status=community_housing", ["amina"]),
        ("status=detained&status=community_housing", ["rahman", "amina", "hassan"]),
        ("nationality=MM", ["rahman"]),
        ("ethnicity=hazara", ["hassan"]),
        ("legal_category=immigration_detainee", ["amina"]),
        ("vulnerability=unaccompanied_minor", ["hassan"]),
        (f"arrived_from={(local_today() - timedelta(days=100)).isoformat()}", ["amina", "hassan"]),
        (f"arrived_to={(local_today() - timedelta(days=100)).isoformat()}", ["rahman"]),
        ("include_left=y", ["rahman", "amina", "hassan", "tesfaye"]),
        ("q=Tesfaye", []),
        ("q=Tesfaye&include_left=y", ["tesfaye"]),
        ("nationality=AF&vulnerability=medical", []),
    ],
)
def test_search_and_filters(client, sign_in, registry, query, who):
    sign_in("viewer")
    response = client.get(f"/cases/?{query}")
    assert listed(response) == cases(registry, *who)
    count = "1 person" if len(who) == 1 else f"{len(who)} people"
    assert f'<p class="muted" id="result-count">{count}</p>' in response.get_data(True)


def test_search_by_case_number(client, sign_in, registry):
    sign_in()
    number = registry["hassan"].case_number
    assert listed(client.get(f"/cases/?q={number.lower()}")) == [number]


def test_the_placement_filter(app, client, sign_in, registry):
    sign_in()
    placement_id = person_row(app, registry["rahman"].id)["placement_id"]
    assert listed(client.get(f"/cases/?placement_id={placement_id}")) == cases(registry, "rahman")


@pytest.mark.parametrize(
    ("query", "order"),
    [
        ("sort=name", ["amina", "hassan", "rahman"]),
        ("sort=name&dir=desc", ["rahman", "hassan", "amina"]),
        ("sort=arrived", ["rahman", "hassan", "amina"]),
        ("sort=nationality", ["hassan", "rahman", "amina"]),
        ("sort=case_number&dir=desc", ["hassan", "amina", "rahman"]),
        ("", ["rahman", "amina", "hassan"]),
    ],
)
def test_sorting(client, sign_in, registry, query, order):
    sign_in()
    assert listed(client.get(f"/cases/?{query}")) == cases(registry, *order)


def test_sort_links_keep_the_filters(client, sign_in, registry):
    sign_in()
    page = client.get("/cases/?nationality=MM&sort=name").get_data(as_text=True)
    link = re.search(r'<a href="([^"]*sort=name[^"]*)"', page).group(1)
    assert "dir=desc" in link and "nationality=MM" in link


def test_pages_with_a_total_count_and_filters_kept_in_the_links(client, sign_in, make_person):
    for _ in range(12):
        make_person(nationality="AF")
    make_person(nationality="IR")
    sign_in()
    first = client.get("/cases/?nationality=AF&per_page=10&sort=name")
    assert len(listed(first)) == 10
    page = text_of(first)
    assert "12 people" in page and "Page 1 of 2" in page
    next_link = re.search(r'<a href="([^"]*page=2[^"]*)"', page).group(1)
    assert "nationality=AF" in next_link and "per_page=10" in next_link and "sort=name" in next_link

    second = client.get(next_link)
    assert len(listed(second)) == 2
    assert not set(listed(first)) & set(listed(second))
    assert listed(client.get("/cases/?nationality=AF&per_page=10&page=9")) == []


def test_an_unknown_page_size_falls_back(client, sign_in, make_person):
    for _ in range(26):
        make_person()
    sign_in()
    assert len(listed(client.get("/cases/?per_page=100000"))) == 25


def test_vulnerable_people_are_marked_on_the_list(client, sign_in, registry):
    sign_in()
    page = client.get("/cases/").get_data(as_text=True)
    rows = {
        number: row
        for row in re.findall(r"<tr>(.*?)</tr>", page, re.S)
        for number in re.findall(r">([A-Z]+-\d{4}-\d{4})</a>", row)
    }
    hassan = rows[registry["hassan"].case_number]
    assert re.search(r'class="tag tag-vulnerable"[^>]*>Unaccompanied minor<', hassan)
    assert 'class="tag tag-vulnerable"' in rows[registry["rahman"].case_number]
    assert "tag-vulnerable" not in rows[registry["amina"].case_number]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("x" * 10_000, "Field cannot be longer than 200 characters."),
        ("Mohammad " * 1_200, "Field cannot be longer than 200 characters."),
        ("'; DROP TABLE person; --", None),
        ("<script>alert(1)</script>", None),
        ("' OR '1'='1", None),
        ("%_%", None),
    ],
)
def test_huge_or_hostile_searches_change_nothing(app, client, sign_in, registry, query, message):
    sign_in()
    before = row_counts(app)
    response = client.get("/cases/", query_string={"q": query})
    assert response.status_code == 200
    if message:
        assert message in messages(response)
        assert "Some filters were not valid and were not applied." in messages(response)
    else:
        assert listed(response) == []
        assert "No one matches." in text_of(response)
    assert "<script>alert(1)</script>" not in response.get_data(as_text=True)
    assert row_counts(app) == before


def test_a_script_in_the_search_is_shown_escaped(client, sign_in, registry):
    sign_in()
    page = client.get("/cases/", query_string={"q": "<script>alert(1)</script>"})
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.get_data(as_text=True)


@pytest.mark.parametrize(
    "query",
    [
        "nationality=XX",
        "status=escaped",
        "arrived_from=yesterday",
        "arrived_from=2024-05-01&arrived_to=2024-01-01",
        "placement_id=abc",
        "vulnerability=troublemaker",
    ],
)
def test_invalid_filters_are_reported(client, sign_in, registry, query):
    sign_in()
    response = client.get(f"/cases/?{query}")
    assert response.status_code == 200
    assert "Some filters were not valid and were not applied." in messages(response)


# --- the person page ------------------------------------------------------------------------


def test_the_person_page_shows_identity_custody_and_the_detention_clock(
    client, sign_in, make_person, block
):
    arrived = today() - timedelta(days=45)
    person = make_person(
        full_name="Hassan Jalali",
        nationality="AF",
        claimed_ethnicity="Hazara",
        identifiers={"iom_case": "IOM-5"},
        vulnerabilities=["unaccompanied_minor"],
        arrived_on=arrived,
        placement=block.id,
    )
    sign_in()
    response = client.get(f"/cases/{person.id}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = text_of(response)
    for shown in ("Hassan Jalali", person.case_number, "Afghanistan", "Hazara", "IOM-5", "Blok A"):
        assert shown in page, shown
    assert re.search(r"Days in detention</dt><dd><strong>45</strong>", page)
    assert f"Next review due</dt><dd>{english_date(arrived + timedelta(days=30))}" in page
    assert 'class="vulnerable-banner"' in page and "Unaccompanied minor" in page


def test_the_review_interval_is_a_setting(app, client, sign_in, make_person):
    app.config["DETENTION_REVIEW_DAYS"] = 14
    person = make_person(arrived_on=today() - timedelta(days=10))
    sign_in()
    page = text_of(client.get(f"/cases/{person.id}"))
    assert f"Next review due</dt><dd>{english_date(today() + timedelta(days=4))}" in page


def test_a_recorded_review_moves_the_next_review_date(client, sign_in, make_person):
    person = make_person(arrived_on=today() - timedelta(days=40))
    sign_in("supervisor")
    overdue = text_of(client.get(f"/cases/{person.id}"))
    assert "overdue" in overdue
    response = client.post(
        f"/cases/{person.id}/reviews",
        data={
            "reviewed_on": (today() - timedelta(days=2)).isoformat(),
            "outcome": "continue",
            "note": "Identity still being established",
        },
    )
    assert response.status_code == 302
    page = client.get(f"/cases/{person.id}")
    assert "The detention review has been recorded." in messages(page)
    text = text_of(page)
    assert f"Next review due</dt><dd>{english_date(today() + timedelta(days=28))}" in text
    assert "Detention continues" in text
    assert "overdue" not in text


def test_a_bad_review_is_refused_with_its_field_named(app, client, sign_in, make_person):
    person = make_person()
    sign_in("supervisor")
    before = row_counts(app)
    client.post(f"/cases/{person.id}/reviews", data={"outcome": "continue", "note": "x"})
    page = client.get(f"/cases/{person.id}")
    assert "Review date: This field is required." in messages(page)
    assert row_counts(app) == before


def test_the_custody_timeline_lists_every_step_newest_first(
    client, sign_in, make_person, block, housing
):
    person = make_person(arrived_on=today() - timedelta(days=50), placement=block.id)
    sign_in()
    client.post(
        f"/cases/{person.id}/custody",
        data=custody_step("community_housing", housing, today() - timedelta(days=20), "Moved out"),
    )
    client.post(
        f"/cases/{person.id}/custody",
        data=custody_step("hospital", None, today() - timedelta(days=2), "Fever"),
    )
    page = text_of(client.get(f"/cases/{person.id}"))
    timeline = page[page.index('id="custody"') :]
    timeline = timeline[: timeline.index("</tbody>")]
    order = [
        timeline.index(f"<td>{english_date(today() - timedelta(days=days))}</td>")
        for days in (2, 20, 50)
    ]
    assert order == sorted(order)
    assert timeline.index("Fever") < timeline.index("Moved out") < timeline.index("Blok A")


@pytest.mark.parametrize(("role", "sees_history"), [("supervisor", True), ("officer", False)])
def test_only_supervisors_see_the_records_history(client, sign_in, make_person, role, sees_history):
    person = make_person()
    sign_in(role)
    page = client.get(f"/cases/{person.id}").get_data(as_text=True)
    assert ("History of this record" in page) is sees_history
    assert ('id="history"' in page) is sees_history


@pytest.mark.parametrize("role", ["officer", "supervisor", "viewer"])
def test_every_view_of_the_person_page_is_audited(app, client, sign_in, make_person, role):
    person, other = make_person(), make_person()
    user_id = sign_in(role)
    client.get(f"/cases/{person.id}")
    client.get(f"/cases/{person.id}")
    client.get(f"/cases/{other.id}")
    views = audit_events(app, "view", subject_id=person.id)
    assert len(views) == 2
    assert {(v.object_type, v.object_id, v.actor_id) for v in views} == {
        ("Person", str(person.id), user_id)
    }


def history_rows(page: str) -> int:
    section = page[page.index('<table class="audit">') :]
    return section[: section.index("</tbody>")].count("<tr>") - 1  # less the heading row


def test_the_person_page_shows_the_newest_history_and_links_to_the_rest(
    client, sign_in, make_person
):
    person = make_person()
    sign_in("supervisor")
    for _n in range(25):
        client.get(f"/cases/{person.id}")
    page = client.get(f"/cases/{person.id}").get_data(as_text=True)
    assert history_rows(page) == 20
    assert f'href="/cases/{person.id}/history"' in page


def test_a_short_history_has_no_link_to_more(app, client, sign_in, make_person):
    person = make_person()
    sign_in("supervisor")
    page = client.get(f"/cases/{person.id}").get_data(as_text=True)
    events = audit_events(app, subject_id=person.id)
    assert len(events) < 20  # its creation and this view
    assert history_rows(page) == len(events)
    assert f"/cases/{person.id}/history" not in page


def test_the_full_history_comes_in_pages_and_is_audited(app, client, sign_in, make_person):
    person = make_person()
    sign_in("supervisor")
    for _n in range(55):
        client.get(f"/cases/{person.id}")
    first = client.get(f"/cases/{person.id}/history")
    assert first.status_code == 200
    first = first.get_data(as_text=True)
    assert history_rows(first) == 50
    assert "Page 1 of 2" in first
    second = client.get(f"/cases/{person.id}/history?page=2").get_data(as_text=True)
    events = audit_events(app, subject_id=person.id)
    assert 50 < len(events) <= 100  # the registration's events, 55 views, two of history
    assert history_rows(second) == len(events) - 50
    assert "<code>create</code>" in second  # the oldest events come last
    views = audit_events(app, "view", subject_id=person.id)
    assert sum(1 for v in views if v.details and "history" in v.details) == 2


def test_officers_may_not_read_the_full_history(client, sign_in, make_person):
    person = make_person()
    sign_in("officer")
    assert client.get(f"/cases/{person.id}/history").status_code == 403


def test_the_history_of_an_unknown_person_is_not_found(client, sign_in):
    sign_in("supervisor")
    assert client.get("/cases/9999/history").status_code == 404


@pytest.mark.parametrize("page", ["/cases/{}", "/cases/{}/history", "/reports/people/{}/record"])
def test_a_person_page_holds_the_write_lock_only_to_record_its_view(
    app, client, sign_in, make_person, page
):
    # On SQLite, BEGIN IMMEDIATE takes the one write lock every request shares.
    # The page takes it for its audit event alone: signing the user in, loading
    # the person and rendering leave it free for the next request.
    person = make_person()
    sign_in("supervisor")
    before, locked, after = around_one_write(sqlite_statements(app, client, page.format(person.id)))
    assert [" ".join(s.split()[:3]) for s in locked] == [
        "SELECT audit_chain_head.last_id, audit_chain_head.last_hash",
        "INSERT INTO audit_event",
        "UPDATE audit_chain_head SET",
    ]
    reads = before + after
    assert all(s.startswith("SELECT") for s in reads)
    assert len(reads) > 3  # the person, their timeline, the other sections


@pytest.mark.parametrize(
    "url", ["/cases/", "/cases/verification", "/conduct/", "/", "/auth/account", "/monitoring/"]
)
def test_pages_that_only_read_leave_the_write_lock_free(app, client, sign_in, url):
    sign_in("supervisor")
    statements = sqlite_statements(app, client, url)
    assert statements[0] == "BEGIN"
    assert all(s.startswith(("BEGIN", "SELECT")) for s in statements)
    assert "BEGIN IMMEDIATE" not in statements


def test_a_page_renders_while_another_request_holds_the_write_lock(
    app, client, sign_in, make_person
):
    # Another worker in the middle of a write: a page that only reads, and the
    # health check a load balancer polls, do not wait for it (before, every
    # request took the lock at its first statement, and these would have failed
    # after the 10 s busy timeout).
    person = make_person(full_name="Amina Rahimi")
    sign_in("supervisor")
    with app.app_context():
        engine = _db.engine
    if engine.dialect.name != "sqlite":
        pytest.skip("only SQLite has one write lock for the whole database")
    writer = sqlite3.connect(engine.url.database, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        page = client.get("/cases/?q=Amina")
        board = client.get("/cases/verification")
        health = client.get("/healthz")
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert page.status_code == 200 and person.case_number in page.get_data(as_text=True)
    assert board.status_code == 200
    assert health.get_json() == {"status": "ok", "database": "ok"}


def test_a_session_s_last_seen_time_is_written_apart_from_the_page_s_reads(app, client, sign_in):
    user_id = sign_in("officer")
    long_ago = utcnow() - timedelta(minutes=30)
    with app.app_context():
        _db.session.execute(
            update(UserSession).where(UserSession.user_id == user_id).values(last_seen_at=long_ago)
        )
        _db.session.commit()
    _before, locked, _after = around_one_write(sqlite_statements(app, client, "/auth/account"))
    assert [s.split()[:2] for s in locked] == [["UPDATE", "user_session"]]
    with app.app_context():
        seen = _db.session.scalar(
            select(UserSession.last_seen_at).where(UserSession.user_id == user_id)
        )
    assert as_utc(seen) > long_ago + timedelta(minutes=25)


def test_a_page_s_reads_refuse_to_write(app, make_person):
    # After only_reads_from_here() a view's connection sends no write: on
    # PostgreSQL it would be committed by itself, statement by statement.
    person = make_person()
    with app.test_request_context():
        only_reads_from_here()
        assert _db.session.get(Person, person.id).full_name == person.full_name
        _db.session.get(Person, person.id).full_name = "Written After Reading"
        with pytest.raises(WriteWhenReadOnly):
            _db.session.flush()
        _db.session.rollback()
    with app.app_context():
        assert _db.session.get(Person, person.id).full_name == person.full_name
        with read_only_connection() as connection, pytest.raises(WriteWhenReadOnly):
            connection.execute(update(Person).values(full_name="Written After Reading"))
        # A plan may be asked for a read (the name search does), not for a
        # write, and never run with ANALYZE, which would write.
        for plan in ("EXPLAIN (FORMAT JSON) ", "EXPLAIN ANALYZE ", "EXPLAIN "):
            with read_only_connection() as connection, pytest.raises(WriteWhenReadOnly):
                connection.exec_driver_sql(f"{plan}UPDATE person SET full_name = 'x'")  # noqa: S608
        assert _db.session.scalar(select(Person.full_name).where(Person.id == person.id)) == (
            person.full_name
        )


def test_a_page_s_statements_stay_prepared_on_postgresql(app, client, sign_in, make_person):
    # psycopg prepares a statement the fifth time it runs on a connection and
    # forgets them all at a ROLLBACK: the pages' reads end without one, so
    # their statements are parsed and planned once per connection, not per request.
    with app.app_context():
        engine = _db.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("prepared statements are psycopg's")
    person = make_person()
    sign_in("supervisor")
    for _n in range(12):
        page = client.get(f"/cases/{person.id}")
        assert page.status_code == 200 and person.case_number in page.get_data(as_text=True)
    pooled = [engine.raw_connection() for _n in range(engine.pool.checkedin())]
    try:
        # The reads ran in autocommit; the pool hands the connection back out of
        # it, so the next request's writes are one transaction again.
        assert pooled and not any(c.driver_connection.autocommit for c in pooled)
        prepared = 0
        for connection in pooled:
            cursor = connection.cursor()
            cursor.execute("SELECT count(*) FROM pg_prepared_statements")
            prepared += cursor.fetchone()[0]
    finally:
        for connection in pooled:
            connection.close()
    assert prepared >= 10


def test_an_unknown_person_is_not_found(client, sign_in):
    sign_in()
    assert client.get("/cases/9999").status_code == 404
    assert client.get("/cases/9999/edit").status_code == 404


# --- editing with optimistic locking -------------------------------------------------------


def edit_form(person, **overrides) -> dict:
    data = {
        "full_name": person["full_name"],
        "sex": person["sex"].value,
        "date_of_birth": person["date_of_birth"].isoformat(),
        "nationality": person["nationality"],
        "legal_category": person["legal_category"].value,
        "arrived_on": person["arrived_on"].isoformat(),
        "claimed_ethnicity": person["claimed_ethnicity"] or "",
        "languages": person["languages"] or "",
        "notes": person["notes"] or "",
        "version": str(person["version"]),
    }
    data.update(overrides)
    return data


def test_an_edit_is_saved_and_audited(app, client, sign_in, make_person):
    person = make_person(full_name="Amina Yusuf", nationality="SO")
    sign_in()
    form = client.get(f"/cases/{person.id}/edit")
    assert field_value(form, "full_name") == "Amina Yusuf"
    assert field_value(form, "version") == str(person.version)
    response = client.post(
        f"/cases/{person.id}/edit",
        data=edit_form(
            person_row(app, person.id),
            full_name="Amina Yusuf Osman",
            aliases="Aminah",
            passport="P-77",
        ),
    )
    assert response.headers["Location"] == f"/cases/{person.id}"
    assert "The record has been saved." in messages(client.get(response.headers["Location"]))
    row = person_row(app, person.id)
    assert row["full_name"] == "Amina Yusuf Osman"
    assert row["version"] == person.version + 1
    updates = [e for e in audit_events(app, "update", subject_id=person.id)]
    assert json.loads(updates[-1].changes)["full_name"] == ["Amina Yusuf", "Amina Yusuf Osman"]
    created = {e.object_type for e in audit_events(app, "create", subject_id=person.id)}
    assert {"Alias", "Identifier"} <= created


def test_the_second_of_two_concurrent_edits_is_told_and_overwrites_nothing(
    app, client, sign_in, make_person
):
    person = make_person(full_name="Amina Yusuf", nationality="SO", languages="Somali")
    other = app.test_client()
    sign_in("officer")
    sign_in("officer", browser=other)
    opened = person_row(app, person.id)
    assert field_value(client.get(f"/cases/{person.id}/edit"), "version") == str(opened["version"])
    assert field_value(other.get(f"/cases/{person.id}/edit"), "version") == str(opened["version"])

    first = client.post(
        f"/cases/{person.id}/edit", data=edit_form(opened, full_name="Amina Yusuf Osman")
    )
    assert first.status_code == 302
    saved = person_row(app, person.id)

    second = other.post(
        f"/cases/{person.id}/edit",
        data=edit_form(opened, full_name="Amina Warsame", languages="Somali, Arabic"),
    )
    assert second.status_code == 200
    assert any("Someone else saved this record" in m for m in messages(second))
    # Their input is kept on the form ...
    assert field_value(second, "full_name") == "Amina Warsame"
    assert field_value(second, "languages") == "Somali, Arabic"
    # ... the other change is shown ...
    page = second.get_data(as_text=True)
    table = html.unescape(page[page.index('id="other-change"') : page.index("</section>")])
    assert "Amina Yusuf Osman" in table and "Amina Warsame" in table
    # ... and nothing was overwritten.
    assert person_row(app, person.id) == saved
    assert saved["full_name"] == "Amina Yusuf Osman" and saved["languages"] == "Somali"

    # Having compared, they save again on top of the current version.
    assert field_value(second, "version") == str(saved["version"])
    third = other.post(
        f"/cases/{person.id}/edit",
        data=edit_form(saved, full_name="Amina Yusuf Osman", languages="Somali, Arabic"),
    )
    assert third.status_code == 302
    assert person_row(app, person.id)["languages"] == "Somali, Arabic"


@pytest.mark.parametrize("version", ["", "abc", "-1", "99"])
def test_an_edit_with_a_missing_or_forged_version_is_treated_as_stale(
    app, client, sign_in, make_person, version
):
    person = make_person()
    sign_in()
    before = person_row(app, person.id)
    response = client.post(
        f"/cases/{person.id}/edit", data=edit_form(before, full_name="Laila Ebadi", version=version)
    )
    assert response.status_code == 200
    assert any("Someone else saved this record" in m for m in messages(response))
    assert person_row(app, person.id) == before


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"full_name": ""}, "This field is required."),
        (
            {"date_of_birth": (local_today() + timedelta(days=2)).isoformat()},
            "The date of birth is in the future.",
        ),
        # The calendar's edges (the duplicate search looks two years either side).
        ({"date_of_birth": "9999-12-31"}, "The date of birth is in the future."),
        (
            {"date_of_birth": "0001-01-01"},
            "A date of birth more than 120 years ago is not possible.",
        ),
        ({"date_of_birth": "", "age_years": "150"}, "Number must be between 0 and 120."),
        ({"nationality": "XX"}, "Not a valid choice."),
        (
            {"arrived_on": local_today().isoformat()},
            "The arrival date is after the first custody event",
        ),
    ],
)
def test_bad_edits_are_refused_and_change_nothing(
    app, client, sign_in, make_person, overrides, message
):
    person = make_person()
    sign_in()
    before = person_row(app, person.id)
    response = client.post(f"/cases/{person.id}/edit", data=edit_form(before, **overrides))
    assert response.status_code == 200
    assert any(message in m for m in messages(response)), messages(response)
    assert person_row(app, person.id) == before


def test_an_edit_cannot_take_someone_elses_identifier(app, client, sign_in, make_person):
    holder = make_person(identifiers={"passport": "P-1"})
    person = make_person()
    sign_in()
    before = row_counts(app)
    response = client.post(
        f"/cases/{person.id}/edit", data=edit_form(person_row(app, person.id), passport="p 1")
    )
    assert response.status_code == 200
    assert any(holder.case_number in m for m in messages(response))
    assert f'href="/cases/{holder.id}"' in response.get_data(as_text=True)
    assert row_counts(app) == before


# --- custody changes ------------------------------------------------------------------------


@pytest.fixture
def detained(make_person, block):
    """Someone detained in Blok A since 60 days ago."""
    return make_person(arrived_on=today() - timedelta(days=60), placement=block.id)


def custody_events_of(app, person_id) -> list[tuple]:
    with app.app_context():
        person = _db.session.get(Person, person_id)
        return [(e.status.value, e.effective_on) for e in person.custody_events]


@pytest.mark.parametrize(
    ("status", "where"),
    [
        ("community_housing", "housing"),
        ("hospital", None),
        ("released", None),
        ("resettled", None),
        ("voluntary_return", None),
        ("deported", None),
        ("absconded", None),
        ("deceased", None),
    ],
)
def test_every_custody_status_is_recorded_and_nothing_overwritten(
    app, client, sign_in, detained, housing, status, where
):
    sign_in()
    on = today() - timedelta(days=3)
    response = client.post(
        f"/cases/{detained.id}/custody",
        data=custody_step(status, housing if where else None, on),
    )
    assert response.headers["Location"] == f"/cases/{detained.id}#custody"
    page = client.get(f"/cases/{detained.id}")
    assert "The custody change has been recorded." in messages(page)
    assert custody_events_of(app, detained.id) == [
        (status, on),
        ("detained", today() - timedelta(days=60)),
    ]
    row = person_row(app, detained.id)
    assert (row["custody_status"], row["status_since"]) == (status, on)
    creates = audit_events(app, "create", subject_id=detained.id)
    assert [e.object_type for e in creates].count("CustodyEvent") == 2


def test_leaving_care_closes_the_record_for_officers(app, client, sign_in, detained, housing):
    sign_in()
    client.post(
        f"/cases/{detained.id}/custody",
        data=custody_step("released", None, today() - timedelta(days=1)),
    )
    page = client.get(f"/cases/{detained.id}").get_data(as_text=True)
    assert "Only a supervisor can reopen the record" in html.unescape(page)
    assert 'name="reopen"' not in page
    before = row_counts(app)
    response = client.post(
        f"/cases/{detained.id}/custody", data=custody_step("community_housing", housing)
    )
    assert response.status_code == 302
    (message,) = messages(client.get(f"/cases/{detained.id}"))
    assert "has left the centre's care (Released)" in message
    assert row_counts(app) == before
    assert detained.case_number not in listed(client.get("/cases/"))
    assert detained.case_number in listed(client.get("/cases/?include_left=y"))


def test_an_officer_ticking_reopen_is_refused_and_audited(app, client, sign_in, detained, housing):
    sign_in()
    client.post(
        f"/cases/{detained.id}/custody",
        data=custody_step("deported", None, today() - timedelta(days=1)),
    )
    before = row_counts(app)
    response = client.post(
        f"/cases/{detained.id}/custody",
        data=custody_step("community_housing", housing, reopen="y", reason="Came back"),
    )
    assert response.status_code == 403
    assert row_counts(app) == before
    (refusal,) = audit_events(app, "permission_denied")
    details = json.loads(refusal.details)
    assert details["permission"] == "custody.reopen"
    assert details["person_id"] == detained.id


def test_a_supervisor_reopens_with_a_reason(app, client, sign_in, detained, housing):
    sign_in("supervisor")
    client.post(
        f"/cases/{detained.id}/custody",
        data=custody_step("released", None, today() - timedelta(days=1)),
    )
    assert 'name="reopen"' in client.get(f"/cases/{detained.id}").get_data(as_text=True)
    response = client.post(
        f"/cases/{detained.id}/custody",
        data=custody_step("community_housing", housing, reopen="y", reason="Release revoked"),
    )
    assert response.status_code == 302
    page = client.get(f"/cases/{detained.id}")
    assert "The custody change has been recorded." in messages(page)
    assert "reopened" in text_of(page)
    row = person_row(app, detained.id)
    assert (row["custody_status"], row["is_in_care"]) == ("community_housing", True)
    assert len(custody_events_of(app, detained.id)) == 3


def test_reopening_without_ticking_the_box_is_refused_for_a_supervisor_too(
    app, client, sign_in, detained, housing
):
    sign_in("supervisor")
    client.post(f"/cases/{detained.id}/custody", data=custody_step("deceased", None))
    before = row_counts(app)
    client.post(f"/cases/{detained.id}/custody", data=custody_step("community_housing", housing))
    assert any("has left the centre's care" in m for m in messages(client.get("/cases/")))
    assert row_counts(app) == before


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (
            {"on": local_today() + timedelta(days=2)},
            "The date is in the future.",
        ),
        ({"on": local_today() - timedelta(days=61)}, "The date is before the person's arrival"),
        ({"placement": 999}, "Placement: Not a valid choice."),
        ({"status": "detained", "placement": "housing"}, "placed in a block or room of the centre"),
        (
            {"status": "detained", "placement": "block"},
            "The person already has this status and placement.",
        ),
        ({"status": "community_housing", "placement": None}, "Choose a placement"),
        ({"status": "escaped"}, "New status: Not a valid choice."),
        ({"reason": ""}, "Reason: This field is required."),
        ({"on": "31/12/2024"}, "Effective date: This field is required."),
    ],
)
def test_custody_steps_that_do_not_fit_are_refused_with_a_message(
    app, client, sign_in, detained, block, housing, step, message
):
    step = dict(step)
    placement = {"block": block, "housing": housing}.get(
        step.get("placement", "housing"), step.get("placement")
    )
    data = custody_step(
        step.get("status", "community_housing"),
        placement,
        step.get("on"),
        step.get("reason", "Decision of the head"),
    )
    if "on" in step and not isinstance(step["on"], date):
        data["effective_on"] = step["on"]
    sign_in()
    before, person_before = row_counts(app), person_row(app, detained.id)
    response = client.post(f"/cases/{detained.id}/custody", data=data)
    assert response.status_code == 302
    shown = messages(client.get(f"/cases/{detained.id}"))
    assert any(message in m for m in shown), shown
    assert row_counts(app) == before
    assert person_row(app, detained.id) == person_before


def test_a_step_dated_before_the_current_status_began_is_refused(
    app, client, sign_in, detained, housing
):
    sign_in()
    client.post(
        f"/cases/{detained.id}/custody",
        data=custody_step("community_housing", housing, today() - timedelta(days=10)),
    )
    before = row_counts(app)
    client.post(
        f"/cases/{detained.id}/custody",
        data=custody_step("hospital", None, today() - timedelta(days=20)),
    )
    shown = messages(client.get(f"/cases/{detained.id}"))
    assert any("before the current status began" in m for m in shown), shown
    assert row_counts(app) == before


def test_a_move_into_a_full_placement_warns(client, sign_in, detained, make_placement):
    full = make_placement(kind="housing", name="Wisma Kecil", capacity=0)
    sign_in()
    client.post(f"/cases/{detained.id}/custody", data=custody_step("community_housing", full))
    assert "Wisma Kecil is now over capacity." in messages(client.get(f"/cases/{detained.id}"))


# --- reference data -------------------------------------------------------------------------


def test_placements_show_occupancy_against_capacity(client, sign_in, make_person, make_placement):
    small = make_placement(kind="centre", name="Sel 1", capacity=1)
    make_placement(kind="housing", name="Wisma Luas", capacity=30)
    make_person(placement=small.id)
    make_person(placement=small.id)
    sign_in("admin")
    page = client.get("/cases/reference/placements").get_data(as_text=True)
    rows = {
        re.search(r">([^<]+)</a>", row).group(1): row
        for row in re.findall(r"<tr>(.*?)</tr>", page, re.S)
        if "</a>" in row
    }
    assert re.search(r'<td class="num">2</td>\s*<td class="num">1', rows["Sel 1"])
    assert "over capacity" in rows["Sel 1"]
    assert re.search(r'<td class="num">0</td>\s*<td class="num">30', rows["Wisma Luas"])
    assert "over capacity" not in rows["Wisma Luas"]


def test_an_admin_creates_and_edits_placements(app, client, sign_in):
    sign_in("admin")
    response = client.post(
        "/cases/reference/placements",
        data={"kind": "housing", "name": "Wisma Damai", "capacity": "25", "is_active": "y"},
    )
    assert response.status_code == 302
    page = client.get("/cases/reference/placements")
    assert "The placement has been saved." in messages(page)
    placement_id = int(re.search(r'/placements/(\d+)">Wisma Damai<', page.get_data(True)).group(1))

    edit = client.get(f"/cases/reference/placements/{placement_id}")
    assert field_value(edit, "capacity") == "25"
    client.post(
        f"/cases/reference/placements/{placement_id}",
        data={"kind": "housing", "name": "Wisma Damai", "capacity": "30", "is_active": "y"},
    )
    with app.app_context():
        from rudenim.cases.models import Placement

        placement = _db.session.get(Placement, placement_id)
        assert (placement.capacity, placement.is_active) == (30, True)


def test_a_duplicate_placement_name_is_refused(app, client, sign_in, block):
    sign_in("admin")
    before = row_counts(app)
    response = client.post(
        "/cases/reference/placements", data={"kind": "centre", "name": "blok a", "capacity": "3"}
    )
    assert response.status_code == 200
    assert "A placement named blok a exists." in messages(response)
    assert row_counts(app) == before


def test_a_placement_out_of_use_is_not_offered(client, sign_in, make_placement):
    make_placement(kind="centre", name="Blok Lama", is_active=False)
    sign_in()
    assert "Blok Lama" not in client.get("/cases/new").get_data(as_text=True)


def test_an_admin_adds_and_removes_ethnicity_suggestions(app, client, sign_in):
    sign_in("admin")
    client.post("/cases/reference/ethnicities", data={"name": "Hazara"})
    page = client.get("/cases/reference/ethnicities")
    assert "The suggestion has been added." in messages(page)
    assert "<td>Hazara</td>" in page.get_data(as_text=True)

    before = row_counts(app)
    duplicate = client.post("/cases/reference/ethnicities", data={"name": "HAZARA"})
    assert "HAZARA is already in the list." in messages(duplicate)
    assert row_counts(app) == before

    suggestion_id = re.search(r"/ethnicities/(\d+)/delete", page.get_data(True)).group(1)
    client.post(f"/cases/reference/ethnicities/{suggestion_id}/delete")
    page = client.get("/cases/reference/ethnicities")
    assert "The suggestion has been removed." in messages(page)
    assert "<td>Hazara</td>" not in page.get_data(as_text=True)


# --- a bounded number of queries ---------------------------------------------------------------


def test_the_list_issues_the_same_queries_whatever_the_page_size(
    app, client, sign_in, make_person, make_placement, count_queries
):
    placements = [make_placement(kind="centre", name=f"Blok {n}").id for n in range(5)]
    for n in range(100):
        make_person(
            placement=placements[n % 5],
            aliases=[distinct_names()[120 + n]],
            vulnerabilities=["medical", "elderly"][: n % 3],
        )
    sign_in()
    counts = {}
    for size in (10, 100):
        with count_queries() as statements:
            response = client.get(f"/cases/?per_page={size}&q=")
        assert len(listed(response)) == size
        counts[size] = len(statements)
    with count_queries() as statements:
        listed(client.get("/cases/?per_page=100&nationality=AF&sort=name"))
    assert counts[10] == counts[100] == len(statements), counts


def test_the_person_page_issues_the_same_queries_whatever_the_history(
    app, client, sign_in, make_person, make_placement, make_user, count_queries
):
    from rudenim.auth.models import User
    from rudenim.cases import services

    short = make_person(aliases=["One"], identifiers={"passport": "P1"})
    long = make_person(
        aliases=[f"Name {letter}" for letter in "BCDFGHJKLM"],
        identifiers={"passport": "P2", "iom_case": "I2", "unhcr_case": "U2", "other": "O2"},
        vulnerabilities=["medical", "elderly", "disability"],
        arrived_on=today() - timedelta(days=100),
    )
    recorders = [make_user("officer") for _ in range(10)]
    with app.app_context():
        person = _db.session.get(Person, long.id)
        for step in range(10):
            where = make_placement(kind="centre", name=f"Sel {step}")
            services.record_custody_change(
                person,
                services.CustodyData(
                    "detained", where.id, today() - timedelta(days=90 - step), "Move"
                ),
                actor=_db.session.get(User, recorders[step]),
            )
        _db.session.commit()

    sign_in("supervisor")
    counts = []
    for someone in (short, long):
        with count_queries() as statements:
            assert client.get(f"/cases/{someone.id}").status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1], counts


def test_pages_reuse_the_placements_but_a_sent_form_is_checked_against_the_current_list(
    app, client, sign_in, detained, make_placement, monkeypatch
):
    app.config["PLACEMENT_CACHE_SECONDS"] = 30
    sign_in()
    client.get("/cases/")  # the list of placements is now this worker's
    make_placement(kind="housing", name="Wisma Baru")  # changed here: forgotten at once
    assert "Wisma Baru" in client.get("/cases/").get_data(as_text=True)

    # Another worker adds a placement: this one's pages show it once their list expires…
    with app.app_context(), _db.engine.begin() as connection:
        connection.execute(
            insert(Placement).values(kind="housing", name="Wisma Lain", is_active=True)
        )
        other = connection.scalar(select(Placement.id).where(Placement.name == "Wisma Lain"))
    assert "Wisma Lain" not in client.get("/cases/").get_data(as_text=True)
    # …but a form that names it is checked against the current list, and taken.
    client.post(f"/cases/{detained.id}/custody", data=custody_step("community_housing", other))
    with app.app_context():
        assert _db.session.get(Person, detained.id).placement_id == other

    later = services.monotonic() + 31
    monkeypatch.setattr(services, "monotonic", lambda: later)
    assert "Wisma Lain" in client.get("/cases/").get_data(as_text=True)


def test_kept_placement_choices_follow_the_language_and_the_selection(
    app, client, sign_in, make_placement
):
    app.config["PLACEMENT_CACHE_SECONDS"] = 30
    block = make_placement(name="Blok Timur")
    sign_in()  # in English
    page = client.get("/cases/").get_data(as_text=True)
    assert f'<option value="{block.id}">Blok Timur (Centre)</option>' in page
    page = client.get(f"/cases/?placement_id={block.id}").get_data(as_text=True)
    assert f'<option selected value="{block.id}">Blok Timur (Centre)</option>' in page

    client.post("/auth/language", data={"locale": "id", "next": "/auth/account"})
    page = client.get("/cases/").get_data(as_text=True)
    assert f'<option value="{block.id}">Blok Timur (Rudenim)</option>' in page
    assert "selected" not in page.split('name="placement_id"')[1].split("</select>")[0]
