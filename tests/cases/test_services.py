"""The people registry's rules, called directly."""

import json
from datetime import date, timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import event, func, select, update

from rudenim.audit.models import AuditEvent
from rudenim.cases import names, nationalities, services
from rudenim.cases.models import (
    CustodyEvent,
    CustodyStatus,
    IdentifierKind,
    LegalCategory,
    NameToken,
    Person,
    Vulnerability,
)
from rudenim.cases.services import CustodyData, PeopleFilter, PersonData
from rudenim.clock import local_today
from rudenim.errors import DomainError, DuplicateRecord, IllegalTransition, StaleRecord
from rudenim.extensions import refresh_statistics
from tests.cases.conftest import audit_events, row_counts


@pytest.fixture(autouse=True)
def in_english(ctx):
    """Rules speak the interface language; these tests read them in English."""
    with force_locale("en"):
        yield


@pytest.fixture
def today():
    return local_today()


@pytest.fixture
def officer(make_staff):
    return make_staff("officer")


@pytest.fixture
def block(make_placement):
    return make_placement(kind="centre", name="Blok A", capacity=10)


@pytest.fixture
def housing(make_placement):
    return make_placement(kind="housing", name="Wisma Bahagia", capacity=40)


def person_data(**overrides) -> PersonData:
    values = {
        "full_name": "Amina Yusuf",
        "sex": "female",
        "nationality": "SO",
        "legal_category": "asylum_seeker",
        "arrived_on": local_today() - timedelta(days=60),
        "date_of_birth": date(1995, 3, 4),
    }
    values.update(overrides)
    return PersonData(**values)


def register(data, placement, actor, **options):
    return services.register_person(
        data, CustodyData("detained", placement.id, None), actor=actor, **options
    )


def people(db, **criteria) -> list[str]:
    query = services.people_query(PeopleFilter(**criteria))
    return [person.case_number for person in db.session.scalars(query)]


# --- registering -------------------------------------------------------------------


def test_case_numbers_follow_site_and_year_in_sequence(db, app, block, officer, today):
    first = register(person_data(), block, officer)
    second = register(person_data(full_name="Bashir Karimi", nationality="AF"), block, officer)
    assert first.case_number == f"KPG-{today.year}-0001"
    assert second.case_number == f"KPG-{today.year}-0002"

    app.config["SITE_CODE"] = "TNJ"
    third = register(person_data(full_name="Farida Haidari", nationality="IR"), block, officer)
    assert third.case_number == f"TNJ-{today.year}-0001"


def test_a_case_number_is_never_handed_out_again(db, block, officer, today):
    register(person_data(), block, officer)
    second = register(person_data(full_name="Bashir Karimi", nationality="AF"), block, officer)
    db.session.commit()
    # Even if a record disappeared, its number is not given to anyone else.
    db.session.delete(second)
    db.session.commit()
    third = register(person_data(full_name="Farida Haidari", nationality="IR"), block, officer)
    assert third.case_number == f"KPG-{today.year}-0003"


def test_a_new_year_starts_a_new_sequence(db, block, officer, today):
    register(person_data(), block, officer)
    next_year = date(today.year + 1, 1, 3)
    person = services.register_person(
        person_data(full_name="Bashir Karimi", arrived_on=next_year),
        CustodyData("detained", block.id, None),
        actor=officer,
        today=next_year,
    )
    assert person.case_number == f"KPG-{today.year + 1}-0001"


def test_registration_stores_identity_aliases_identifiers_vulnerabilities_and_custody(
    db, block, officer, today
):
    data = person_data(
        full_name="  Amina   Yusuf ",
        aliases=["Aminah Yousef", "amina yusuf", "", "Aminah Yousef", "Amina Y."],
        identifiers={"unhcr_registration": "354-24C00001", "passport": " P1234567 ", "other": ""},
        vulnerabilities=["pregnant", "survivor_of_violence"],
        claimed_ethnicity="Bajuni",
        languages="Somali, Swahili",
        needs_interpreter=True,
        notes="Arrived by boat.",
    )
    person = register(data, block, officer)
    db.session.commit()
    db.session.expire_all()

    person = db.session.get(Person, person.id)
    assert person.full_name == "Amina Yusuf"
    assert [alias.name for alias in person.aliases] == ["Aminah Yousef", "Amina Y."]
    assert {(i.kind, i.value) for i in person.identifiers} == {
        (IdentifierKind.UNHCR_REGISTRATION, "354-24C00001"),
        (IdentifierKind.PASSPORT, "P1234567"),
    }
    assert person.vulnerabilities == [Vulnerability.PREGNANT, Vulnerability.SURVIVOR_OF_VIOLENCE]
    assert person.claimed_ethnicity == "Bajuni"
    assert person.needs_interpreter is True
    assert person.legal_category is LegalCategory.ASYLUM_SEEKER
    assert person.custody_status is CustodyStatus.DETAINED
    assert person.placement_id == block.id
    assert person.status_since == data.arrived_on
    assert person.is_in_care is True
    (event,) = person.custody_events
    assert (event.status, event.placement_id, event.effective_on) == (
        CustodyStatus.DETAINED,
        block.id,
        data.arrived_on,
    )
    assert event.recorded_by_id == officer.id


def test_an_age_without_a_date_gives_an_estimated_first_of_january(db, block, officer, today):
    person = register(person_data(date_of_birth=None, age_years=34), block, officer)
    assert person.date_of_birth == date(today.year - 34, 1, 1)
    assert person.is_birth_date_estimated is True
    assert person.age_on(date(today.year, 12, 31)) == 34


def test_claimed_ethnicity_is_kept_exactly_as_stated(db, block, officer):
    services.add_ethnicity_suggestion("Rohingya")
    person = register(
        person_data(nationality="MM", claimed_ethnicity="rohingya (Arakan)"), block, officer
    )
    assert person.claimed_ethnicity == "rohingya (Arakan)"


def test_community_housing_needs_a_housing_site(db, housing, officer):
    person = services.register_person(
        person_data(), CustodyData("community_housing", housing.id, None), actor=officer
    )
    assert person.custody_status is CustodyStatus.COMMUNITY_HOUSING
    assert person.placement is housing


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"full_name": "   "}, "full_name", "Enter the person's full name."),
        ({"full_name": "محمد"}, "full_name", "The name must contain letters (in Latin script)."),
        ({"full_name": "A" * 201}, "full_name", "The name is longer than 200 characters."),
        (
            {"date_of_birth": local_today() + timedelta(days=1)},
            "date_of_birth",
            "The date of birth is in the future.",
        ),
        (
            {"date_of_birth": date(local_today().year - 121, 1, 1)},
            "date_of_birth",
            "A date of birth more than 120 years ago is not possible.",
        ),
        (
            {"date_of_birth": None, "age_years": 150},
            "age_years",
            "An age must be between 0 and 120 years.",
        ),
        (
            {"date_of_birth": None, "age_years": -1},
            "age_years",
            "An age must be between 0 and 120 years.",
        ),
        ({"nationality": "XX"}, "nationality", "XX is not a known nationality."),
        ({"nationality": ""}, "nationality", " is not a known nationality."),
        ({"arrived_on": None}, "arrived_on", "Enter the arrival date."),
        (
            {"arrived_on": local_today() + timedelta(days=1)},
            "arrived_on",
            "The arrival date is in the future.",
        ),
        (
            {"arrived_on": date(1994, 1, 1)},
            "arrived_on",
            "The arrival date is before the date of birth.",
        ),
        ({"sex": "x"}, None, "Choose the person's sex."),
        ({"legal_category": "criminal"}, None, "Choose a legal category."),
        ({"vulnerabilities": ["troublemaker"]}, None, "troublemaker is not a known vulnerability."),
        ({"identifiers": {"passport": "---"}}, "passport", "This identifier is not valid."),
        ({"identifiers": {"tax": "123"}}, None, "tax is not a kind of identifier."),
    ],
)
def test_bad_identity_data_is_refused_and_nothing_is_saved(
    app, db, block, officer, overrides, field, message
):
    before = row_counts(app)
    with pytest.raises(DomainError) as refused:
        register(person_data(**overrides), block, officer)
    assert str(refused.value) == message
    assert refused.value.field == field
    db.session.rollback()
    assert row_counts(app) == before


def test_an_identifier_held_by_someone_else_is_refused_naming_their_case(app, db, block, officer):
    holder = register(
        person_data(identifiers={"unhcr_registration": "354-24C00001"}), block, officer
    )
    db.session.commit()
    before = row_counts(app)
    with pytest.raises(DuplicateRecord) as refused:
        register(
            person_data(
                full_name="Tesfaye Kebede",
                nationality="ET",
                date_of_birth=date(1970, 1, 1),
                identifiers={"unhcr_registration": "354 24c00001"},
            ),
            block,
            officer,
        )
    assert holder.case_number in str(refused.value)
    assert "UNHCR registration no." in str(refused.value)
    assert refused.value.other is holder
    assert refused.value.field == "unhcr_registration"
    db.session.rollback()
    assert row_counts(app) == before


def test_the_same_number_of_another_kind_is_no_conflict(db, block, officer):
    register(person_data(identifiers={"iom_case": "12345"}), block, officer)
    other = register(
        person_data(
            full_name="Tesfaye Kebede", nationality="ET", identifiers={"passport": "12345"}
        ),
        block,
        officer,
    )
    assert other.identifiers[0].value == "12345"


@pytest.mark.parametrize(
    ("status", "placement", "message"),
    [
        (
            "released",
            None,
            "A new person is registered in the centre's care, not as having left it.",
        ),
        ("detained", None, "Choose a placement for this status."),
        ("detained", "housing", "Someone detained is placed in a block or room of the centre."),
        ("community_housing", "block", "Someone in community housing is placed at a housing site."),
        ("detained", 999, "That placement does not exist."),
        ("escaped", None, "Choose a custody status."),
    ],
)
def test_a_first_custody_step_that_does_not_fit_is_refused(
    app, db, block, housing, officer, status, placement, message
):
    placement_id = {"block": block.id, "housing": housing.id}.get(placement, placement)
    before = row_counts(app)
    with pytest.raises(DomainError, match=message):
        services.register_person(
            person_data(), CustodyData(status, placement_id, None), actor=officer
        )
    db.session.rollback()
    assert row_counts(app) == before


def test_a_placement_taken_out_of_use_cannot_be_chosen(db, make_placement, officer):
    closed = make_placement(kind="centre", name="Blok Lama", is_active=False)
    with pytest.raises(DomainError, match="That placement does not exist."):
        services.register_person(
            person_data(), CustodyData("detained", closed.id, None), actor=officer
        )


def test_registration_is_audited_under_the_person(app, db, block, officer):
    person = register(
        person_data(
            aliases=["Aminah Yousef"],
            identifiers={"iom_case": "IOM-77"},
            vulnerabilities=["medical"],
        ),
        block,
        officer,
    )
    db.session.commit()
    events = audit_events(app, "create", subject_id=person.id)
    assert {event.object_type for event in events} == {
        "Person",
        "Alias",
        "Identifier",
        "PersonVulnerability",
        "CustodyEvent",
    }
    created = next(event for event in events if event.object_type == "Person")
    assert created.object_id == str(person.id)
    assert json.loads(created.changes)["full_name"] == "Amina Yusuf"


# --- nationalities -------------------------------------------------------------------


def test_nationalities_are_iso_codes_plus_stateless_and_unknown():
    assert nationalities.is_valid("AF")
    assert nationalities.is_valid("stateless")
    assert nationalities.is_valid("unknown")
    assert not nationalities.is_valid("XX")
    assert not nationalities.is_valid("af")


def test_nationality_names_follow_the_interface_language():
    assert nationalities.label("AF", "id") == "Afganistan"
    assert nationalities.label("AF", "en") == "Afghanistan"
    english = nationalities.choices("en")
    assert english[:2] == [("stateless", "Stateless"), ("unknown", "Unknown")]
    assert ("MM", "Myanmar") in english
    assert len(english) == 2 + len({code for code, _ in english[2:]}) >= 2 + 249


# --- possible duplicates ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("known", "typed"),
    [
        ("Mohammad Rahman", "Muhammad Rehman"),
        ("Mohammad Rahman", "Mohamed Rahman"),
        ("Mohammad Rahman", "Mohd Rahman"),
        ("Abdul Karim Haidari", "Abdoul Karim Haidari"),
        ("Nur Jahan", "Noor Jahan"),
        ("Abdul Rahman", "Abdul-Rahman"),
        ("Abdul Rahman", "Abdulrahman"),
        ("Abdulrahman", "Abdul Rahman"),
        ("Hüseyin Yılmaz", "Huseyin Yilmaz"),
        ("Ayşe Kaya", "AYSE KAYA"),
    ],
)
def test_transliteration_variants_with_the_same_nationality_are_possible_matches(
    db, block, officer, known, typed
):
    existing = register(
        person_data(full_name=known, nationality="AF", date_of_birth=date(1980, 1, 1)),
        block,
        officer,
    )
    matches = services.find_possible_duplicates(
        person_data(full_name=typed, nationality="AF", date_of_birth=date(1999, 1, 1))
    )
    assert [match.person for match in matches] == [existing]
    assert matches[0].reasons == [f"Similar name: {typed} ~ {known}; same nationality"]


def test_a_birth_date_within_two_years_matches_across_nationalities(db, block, officer):
    existing = register(
        person_data(full_name="Mohammad Rahman", nationality="MM", date_of_birth=date(1990, 5, 1)),
        block,
        officer,
    )
    typed = person_data(
        full_name="Muhammad Rehman", nationality="stateless", date_of_birth=date(1992, 4, 1)
    )
    (match,) = services.find_possible_duplicates(typed)
    assert match.person == existing
    assert match.reasons == [
        "Similar name: Muhammad Rehman ~ Mohammad Rahman; date of birth within two years"
    ]


def test_an_estimated_age_counts_as_a_birth_date(db, block, officer, today):
    existing = register(
        person_data(full_name="Nur Jahan", nationality="MM", date_of_birth=None, age_years=30),
        block,
        officer,
    )
    typed = person_data(full_name="Noor Jahan", nationality="BD", date_of_birth=None, age_years=31)
    assert [m.person for m in services.find_possible_duplicates(typed)] == [existing]


def test_a_similar_name_with_neither_birth_date_nor_nationality_agreeing_is_no_match(
    db, block, officer
):
    register(
        person_data(full_name="Mohammad Rahman", nationality="MM", date_of_birth=date(1990, 5, 1)),
        block,
        officer,
    )
    typed = person_data(
        full_name="Muhammad Rehman", nationality="BD", date_of_birth=date(1993, 1, 1)
    )
    assert services.find_possible_duplicates(typed) == []
    typed.date_of_birth = None
    assert services.find_possible_duplicates(typed) == []


def test_a_different_name_is_no_match_even_with_everything_else_equal(db, block, officer):
    register(person_data(full_name="Amina Yusuf"), block, officer)
    assert services.find_possible_duplicates(person_data(full_name="Halima Warsame")) == []


def test_an_alias_is_matched_and_named_in_the_reason(db, block, officer):
    existing = register(
        person_data(full_name="Ahmad Shah Popalzai", aliases=["Abdoul Rehman"], nationality="AF"),
        block,
        officer,
    )
    typed = person_data(full_name="Abdul Rahman", nationality="AF", date_of_birth=None)
    (match,) = services.find_possible_duplicates(typed)
    assert match.person == existing
    assert match.reasons == ["Similar name: Abdul Rahman ~ Abdoul Rehman; same nationality"]


def test_a_typed_alias_is_compared_too(db, block, officer):
    existing = register(person_data(full_name="Abdul Rahman", nationality="AF"), block, officer)
    typed = person_data(full_name="Ahmad Shah", aliases=["Abdoul Rehman"], nationality="AF")
    assert [m.person for m in services.find_possible_duplicates(typed)] == [existing]


def test_the_same_identifier_is_a_match_whatever_the_name(db, block, officer):
    existing = register(
        person_data(identifiers={"unhcr_registration": "354-24C00001"}), block, officer
    )
    typed = person_data(
        full_name="Tesfaye Kebede",
        nationality="ET",
        date_of_birth=date(1960, 1, 1),
        identifiers={"unhcr_registration": "354 24c00001"},
    )
    (match,) = services.find_possible_duplicates(typed)
    assert match.person == existing
    assert match.reasons == ["Same UNHCR registration no.: 354-24C00001"]


def test_registration_waits_until_every_match_is_confirmed_as_someone_else(app, db, block, officer):
    first = register(person_data(full_name="Mohammad Rahman", nationality="AF"), block, officer)
    second = register(
        person_data(full_name="Mohd Rehman", nationality="AF", date_of_birth=date(1960, 1, 1)),
        block,
        officer,
        confirmed_different_from=[first.id],
    )
    db.session.commit()
    typed = person_data(full_name="Muhammad Rahman", nationality="AF")
    before = row_counts(app)

    with pytest.raises(services.PossibleDuplicates) as waiting:
        register(typed, block, officer)
    assert {m.person.id for m in waiting.value.matches} == {first.id, second.id}
    db.session.rollback()
    assert row_counts(app) == before

    with pytest.raises(services.PossibleDuplicates):
        register(typed, block, officer, confirmed_different_from=[first.id])
    db.session.rollback()
    assert row_counts(app) == before

    person = register(typed, block, officer, confirmed_different_from=[first.id, second.id])
    db.session.commit()
    (override,) = audit_events(app, "duplicate_check_overridden", subject_id=person.id)
    details = json.loads(override.details)
    assert sorted(details["different_from"]) == sorted([first.case_number, second.case_number])
    assert set(details["reasons"]) == {first.case_number, second.case_number}


# --- editing -------------------------------------------------------------------------


def test_an_edit_changes_identity_aliases_identifiers_and_vulnerabilities(app, db, block, officer):
    person = register(
        person_data(
            aliases=["Aminah"], identifiers={"passport": "P1"}, vulnerabilities=["medical"]
        ),
        block,
        officer,
    )
    db.session.commit()
    version = person.version
    services.update_person(
        person,
        person_data(
            full_name="Amina Yusuf Osman",
            aliases=["Amina Osman"],
            identifiers={"passport": "P2", "iom_case": "IOM-9"},
            vulnerabilities=["pregnant"],
        ),
        expected_version=version,
    )
    db.session.commit()
    db.session.expire_all()
    person = db.session.get(Person, person.id)
    assert person.full_name == "Amina Yusuf Osman"
    assert [a.name for a in person.aliases] == ["Amina Osman"]
    assert {(i.kind.value, i.value) for i in person.identifiers} == {
        ("passport", "P2"),
        ("iom_case", "IOM-9"),
    }
    assert person.vulnerabilities == [Vulnerability.PREGNANT]
    assert person.version == version + 1
    assert [p.id for p in db.session.scalars(services.people_query(PeopleFilter(q="osmn")))] == [
        person.id
    ]

    updates = audit_events(app, "update", subject_id=person.id)
    changed = [json.loads(e.changes) for e in updates if e.object_type == "Person"]
    assert changed[-1]["full_name"] == ["Amina Yusuf", "Amina Yusuf Osman"]
    assert any(e.object_type == "Identifier" for e in updates)
    deleted = {e.object_type for e in audit_events(app, "delete", subject_id=person.id)}
    assert deleted == {"Alias", "PersonVulnerability"}


def test_a_change_of_aliases_alone_is_a_new_version(db, block, officer):
    person = register(person_data(aliases=["Aminah"]), block, officer)
    db.session.commit()
    version = person.version
    services.update_person(
        person, person_data(aliases=["Aminah", "Amina Y"]), expected_version=version
    )
    db.session.commit()
    assert person.version == version + 1


def test_saving_unchanged_data_keeps_the_version(db, block, officer):
    person = register(person_data(aliases=["Aminah"]), block, officer)
    db.session.commit()
    version = person.version
    services.update_person(person, person_data(aliases=["Aminah"]), expected_version=version)
    db.session.commit()
    assert person.version == version


def test_a_stale_edit_is_refused_and_overwrites_nothing(app, db, block, officer):
    person = register(person_data(), block, officer)
    db.session.commit()
    opened = person.version
    services.update_person(
        person, person_data(full_name="Amina Yusuf Osman"), expected_version=opened
    )
    db.session.commit()

    with pytest.raises(StaleRecord) as refused:
        services.update_person(
            person, person_data(full_name="Amina Warsame"), expected_version=opened
        )
    assert "Someone else saved this record" in str(refused.value)
    assert refused.value.current is person
    db.session.rollback()
    assert db.session.get(Person, person.id).full_name == "Amina Yusuf Osman"


def test_an_edit_cannot_take_an_identifier_held_by_someone_else(app, db, block, officer):
    holder = register(person_data(identifiers={"iom_case": "IOM-1"}), block, officer)
    person = register(person_data(full_name="Tesfaye Kebede", nationality="ET"), block, officer)
    db.session.commit()
    with pytest.raises(DuplicateRecord, match=holder.case_number):
        services.update_person(
            person,
            person_data(
                full_name="Tesfaye Kebede", nationality="ET", identifiers={"iom_case": "iom 1"}
            ),
            expected_version=person.version,
        )
    db.session.rollback()
    assert db.session.get(Person, person.id).identifiers == []


def test_an_edit_keeping_ones_own_identifier_is_fine(db, block, officer):
    person = register(person_data(identifiers={"iom_case": "IOM-1"}), block, officer)
    db.session.commit()
    services.update_person(
        person, person_data(identifiers={"iom_case": "iom 1"}), expected_version=person.version
    )
    assert person.identifiers[0].value == "iom 1"


def test_an_arrival_after_the_first_custody_step_is_refused(db, block, officer, today):
    person = register(person_data(), block, officer)
    db.session.commit()
    with pytest.raises(DomainError, match="after the first custody event"):
        services.update_person(
            person, person_data(arrived_on=today), expected_version=person.version
        )


# --- custody --------------------------------------------------------------------------


@pytest.fixture
def detained(make_person, block, today):
    """Someone detained in Blok A since 60 days ago."""
    return make_person(
        full_name="Amina Yusuf", placement=block.id, arrived_on=today - timedelta(days=60)
    )


def change(person, status, placement=None, on=None, reason="Decision of the head", **options):
    on = on or local_today()
    placement_id = getattr(placement, "id", placement)
    return services.record_custody_change(
        person, CustodyData(status, placement_id, on, reason), actor=options.pop("actor"), **options
    )


def custody_rows(db, person) -> list[tuple]:
    return list(
        db.session.execute(
            select(CustodyEvent.status, CustodyEvent.placement_id, CustodyEvent.effective_on)
            .where(CustodyEvent.person_id == person.id)
            .order_by(CustodyEvent.id)
        )
    )


@pytest.mark.parametrize(
    ("status", "needs"),
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
def test_every_custody_status_can_be_recorded_and_adds_an_event(
    app, db, detained, housing, officer, today, status, needs
):
    placement = housing if needs == "housing" else None
    event = change(detained, status, placement, on=today - timedelta(days=5), actor=officer)
    db.session.commit()
    db.session.expire_all()
    person = db.session.get(Person, detained.id)
    assert person.custody_status == status
    assert person.status_since == today - timedelta(days=5)
    assert person.placement_id == (placement.id if placement else None)
    assert person.is_in_care is (status in ("community_housing", "hospital", "absconded"))
    assert [e.status for e in person.custody_events] == [status, CustodyStatus.DETAINED]
    assert person.custody_events[0].id == event.id
    assert event.recorded_by_id == officer.id
    (created,) = [
        e for e in audit_events(app, "create", subject_id=person.id) if e.object_id == str(event.id)
    ]
    assert created.object_type == "CustodyEvent"


def saved_meanwhile(db, person, **values):
    """Another request's committed save, unseen by the copy of ``person`` in hand."""
    table = Person.__table__
    db.session.execute(
        update(table).where(table.c.id == person.id).values(version=table.c.version + 1, **values)
    )


def test_a_custody_change_after_someone_else_saved_the_person_applies(
    db, detained, housing, officer, today
):
    saved_meanwhile(db, detained, full_name="Amina Yusuf Osman")
    change(detained, "community_housing", housing, on=today - timedelta(days=1), actor=officer)
    db.session.commit()
    db.session.expire_all()
    person = db.session.get(Person, detained.id)
    assert person.custody_status is CustodyStatus.COMMUNITY_HOUSING
    assert person.full_name == "Amina Yusuf Osman"  # the other save is kept


def test_a_custody_change_is_judged_against_the_saved_person(db, detained, housing, officer, today):
    saved_meanwhile(db, detained, custody_status="released", is_in_care=False, placement_id=None)
    with pytest.raises(IllegalTransition, match="left the centre's care"):
        change(detained, "community_housing", housing, actor=officer)
    db.session.rollback()
    assert [row[0] for row in custody_rows(db, detained)] == [CustodyStatus.DETAINED]


def test_back_to_detention_from_housing(db, detained, housing, block, officer, today):
    change(detained, "community_housing", housing, on=today - timedelta(days=20), actor=officer)
    change(detained, "detained", block, on=today - timedelta(days=2), actor=officer)
    assert detained.custody_status is CustodyStatus.DETAINED
    assert len(custody_rows(db, detained)) == 3


def test_a_hospital_stay_may_name_the_hospital_or_not(db, detained, make_placement, officer):
    ward = make_placement(kind="centre", name="Klinik")
    change(detained, "hospital", ward, actor=officer)
    assert detained.placement == ward


def test_a_move_within_the_centre_keeps_the_status_date(db, detained, make_placement, officer):
    since = detained.status_since
    other_block = make_placement(kind="centre", name="Blok B")
    change(detained, "detained", other_block, actor=officer)
    assert detained.placement == other_block
    assert detained.status_since == since
    assert len(custody_rows(db, detained)) == 2


@pytest.mark.parametrize(
    "leaving", ["released", "resettled", "voluntary_return", "deported", "deceased"]
)
def test_after_leaving_care_no_further_change_without_reopening(
    app, db, detained, housing, officer, today, leaving
):
    change(detained, leaving, on=today - timedelta(days=3), actor=officer)
    db.session.commit()
    before = row_counts(app)
    with pytest.raises(IllegalTransition, match="has left the centre's care"):
        change(detained, "community_housing", housing, actor=officer)
    db.session.rollback()
    assert row_counts(app) == before
    assert db.session.get(Person, detained.id).custody_status == leaving


def test_a_supervisor_reopens_a_closed_record_with_a_reason(
    db, detained, housing, officer, make_staff, today
):
    supervisor = make_staff("supervisor")
    change(detained, "released", on=today - timedelta(days=3), actor=officer)
    event = change(
        detained,
        "community_housing",
        housing,
        reopen=True,
        reason="Release order revoked",
        actor=supervisor,
    )
    assert event.is_reopening is True
    assert detained.is_in_care is True
    assert detained.custody_status is CustodyStatus.COMMUNITY_HOUSING
    assert len(custody_rows(db, detained)) == 3


def test_reopening_is_only_for_closed_records_and_brings_the_person_back(
    db, detained, make_staff, today
):
    supervisor = make_staff("supervisor")
    with pytest.raises(IllegalTransition, match="nothing to reopen"):
        change(detained, "released", reopen=True, actor=supervisor)
    change(detained, "released", on=today - timedelta(days=3), actor=supervisor)
    with pytest.raises(IllegalTransition, match="back into the centre's care"):
        change(detained, "resettled", reopen=True, actor=supervisor)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"on": local_today() + timedelta(days=1)}, "The date is in the future."),
        ({"on": local_today() - timedelta(days=61)}, "The date is before the person's arrival"),
        ({"reason": "   "}, "Give the reason for the change."),
        ({"status": "detained", "placement": "block"}, "already has this status and placement"),
        ({"status": "detained", "placement": "housing"}, "placed in a block or room"),
        ({"status": "community_housing", "placement": None}, "Choose a placement"),
        ({"status": "community_housing", "placement": 999}, "That placement does not exist."),
        ({"status": "released", "placement": "block"}, "has no placement"),
        ({"status": "escaped"}, "Choose a custody status."),
        ({"on": None, "none": True}, "Enter the date the change took effect."),
    ],
)
def test_a_custody_step_that_does_not_fit_is_refused_and_changes_nothing(
    app, db, detained, block, housing, officer, kwargs, message
):
    kwargs = dict(kwargs)
    status = kwargs.pop("status", "community_housing")
    placement = kwargs.pop("placement", "housing")
    placement = {"block": block, "housing": housing}.get(placement, placement)
    if kwargs.pop("none", False):
        data = CustodyData(status, getattr(placement, "id", placement), None, "moved")
        call = lambda: services.record_custody_change(detained, data, actor=officer)  # noqa: E731
    else:
        call = lambda: change(detained, status, placement, actor=officer, **kwargs)  # noqa: E731
    db.session.commit()
    before, person_before = row_counts(app), detained.custody_status
    with pytest.raises(DomainError, match=message):
        call()
    db.session.rollback()
    assert row_counts(app) == before
    assert db.session.get(Person, detained.id).custody_status == person_before


def test_a_change_dated_before_the_current_status_began_is_refused(
    db, detained, housing, officer, today
):
    change(detained, "community_housing", housing, on=today - timedelta(days=10), actor=officer)
    with pytest.raises(DomainError, match="before the current status began"):
        change(detained, "hospital", on=today - timedelta(days=20), actor=officer)


def test_a_move_dated_before_the_last_move_is_refused(db, detained, make_placement, officer, today):
    """The current placement is always the latest event's: no step slips in before it."""
    second, third = make_placement(name="Blok B"), make_placement(name="Blok C")
    change(detained, "detained", second, on=today - timedelta(days=10), actor=officer)
    with pytest.raises(DomainError, match="Record changes in the order they happened"):
        change(detained, "detained", third, on=today - timedelta(days=20), actor=officer)
    db.session.refresh(detained)
    assert detained.placement == second
    assert detained.custody_events[0].placement == second


def test_custody_guards_of_other_domains_can_refuse(db, detained, officer, monkeypatch):
    def no_deportation(person, status):
        if status is CustodyStatus.DEPORTED:
            raise IllegalTransition("UNHCR track open")

    monkeypatch.setattr(services, "custody_guards", [no_deportation])
    with pytest.raises(IllegalTransition, match="UNHCR track open"):
        change(detained, "deported", actor=officer)
    assert detained.custody_status is CustodyStatus.DETAINED


# --- detention clock and reviews -------------------------------------------------------


def test_the_detention_clock_counts_days_and_the_next_review(app, db, detained, today):
    clock = services.detention_clock(detained)
    assert clock.days_held == 60
    assert clock.next_review_on == today - timedelta(days=30)
    assert clock.is_review_overdue
    app.config["DETENTION_REVIEW_DAYS"] = 90
    assert services.detention_clock(detained).next_review_on == today + timedelta(days=30)


def test_a_recorded_review_moves_the_next_review(db, detained, make_staff, today):
    supervisor = make_staff("supervisor")
    services.record_detention_review(
        detained, today - timedelta(days=5), "continue", "Identity still unclear", actor=supervisor
    )
    clock = services.detention_clock(detained)
    assert clock.last_review.reviewed_on == today - timedelta(days=5)
    assert clock.next_review_on == today + timedelta(days=25)
    assert not clock.is_review_overdue


def test_only_detention_has_a_clock(db, detained, housing, officer, today):
    change(detained, "community_housing", housing, on=today, actor=officer)
    assert services.detention_clock(detained) is None


@pytest.mark.parametrize(
    ("reviewed_on", "outcome", "note", "message"),
    [
        (local_today() + timedelta(days=1), "continue", "x", "missing or in the future"),
        (None, "continue", "x", "missing or in the future"),
        (local_today() - timedelta(days=61), "continue", "x", "before this detention began"),
        (local_today(), "flog", "x", "Choose the outcome"),
        (local_today(), "continue", "  ", "grounds of the review"),
    ],
)
def test_a_bad_review_is_refused(db, detained, make_staff, reviewed_on, outcome, note, message):
    with pytest.raises(DomainError, match=message):
        services.record_detention_review(
            detained, reviewed_on, outcome, note, actor=make_staff("supervisor")
        )
    assert services.detention_clock(detained).last_review is None


def test_someone_not_detained_is_not_reviewed(db, make_person, make_staff):
    housed = make_person(status="community_housing")
    with pytest.raises(DomainError, match="Only the detention of someone detained"):
        services.record_detention_review(
            housed, local_today(), "continue", "x", actor=make_staff("supervisor")
        )


# --- finding people --------------------------------------------------------------------


@pytest.fixture
def registry(db, make_person, make_placement, today):
    """A small registry to search and filter."""
    housing = make_placement(kind="housing", name="Wisma Bahagia")
    made = {
        "rahman": make_person(
            full_name="Mohammad Rahman",
            aliases=["Abdul Rahman Shah"],
            nationality="MM",
            claimed_ethnicity="Rohingya",
            identifiers={"unhcr_registration": "354-24C00001"},
            vulnerabilities=["medical"],
            arrived_on=today - timedelta(days=300),
        ),
        "amina": make_person(
            full_name="Amina Yusuf",
            sex="female",
            nationality="SO",
            legal_category="immigration_detainee",
            identifiers={"iom_case": "IOM-2024-77"},
            arrived_on=today - timedelta(days=30),
            status="community_housing",
            placement=housing.id,
        ),
        "hassan": make_person(
            full_name="Hassan Jalali",
            nationality="AF",
            claimed_ethnicity="Hazara",
            vulnerabilities=["unaccompanied_minor"],
            date_of_birth=today.replace(year=today.year - 16),
            arrived_on=today - timedelta(days=90),
        ),
    }
    left = make_person(full_name="Tesfaye Kebede", nationality="ET")
    services.record_custody_change(
        left, CustodyData("resettled", None, today, "Resettled to Canada"), actor=officer_of(left)
    )
    db.session.commit()
    made["tesfaye"] = left
    return {key: person.case_number for key, person in made.items()}


def officer_of(person):
    return person.custody_events[0].recorded_by


@pytest.mark.parametrize(
    ("q", "who"),
    [
        ("Muhammad Rehman", ["rahman"]),
        ("mohd", ["rahman"]),
        ("rahman", ["rahman"]),
        ("Abdulrahman", ["rahman"]),
        ("abdoul rehman shah", ["rahman"]),
        ("AMINA", ["amina"]),
        ("yousuf", ["amina"]),
        ("354 24c00001", ["rahman"]),
        ("iom 2024 77", ["amina"]),
        ("354-24C", []),
        ("Jalali Hassan", ["hassan"]),
        ("Hassan Rahman", []),
    ],
)
def test_search_is_fuzzy_on_names_and_exact_on_numbers(db, registry, q, who):
    assert people(db, q=q) == [registry[key] for key in who]


def test_search_finds_a_case_number_in_any_case(db, registry):
    assert people(db, q=registry["amina"].lower()) == [registry["amina"]]
    assert people(db, q=registry["amina"][:-1]) == []


@pytest.mark.parametrize(
    "q",
    [
        "'; DROP TABLE person; --",
        "<script>alert(1)</script>",
        "%",
        "_",
        "' OR '1'='1",
        "x" * 10_000,
        "%%% ___ |",
    ],
)
def test_hostile_or_huge_searches_find_nothing_and_change_nothing(app, db, registry, q):
    before = row_counts(app)
    assert people(db, q=q) == []
    assert row_counts(app) == before


def test_people_who_left_care_are_hidden_unless_asked_for(db, registry):
    assert registry["tesfaye"] not in people(db)
    assert registry["tesfaye"] in people(db, include_left=True)
    assert people(db, q="Tesfaye") == []
    assert people(db, q="Tesfaye", include_left=True) == [registry["tesfaye"]]


def tokens_of(db, person) -> set[tuple[bool, str]]:
    rows = db.session.execute(
        select(NameToken.is_word, NameToken.token).where(NameToken.person_id == person.id)
    )
    return set(map(tuple, rows))


def test_the_search_index_follows_every_change_of_names(db, block, officer):
    data = person_data(full_name="Layla Haidari", aliases=["Leila Noori"])
    person = register(data, block, officer)
    db.session.commit()
    assert people(db, q="Noori") == [person.case_number]
    assert tokens_of(db, person) == names.name_tokens(person.name_key) | names.name_tokens(
        names.name_key("Leila Noori")
    )

    services.update_person(
        person,
        person_data(full_name="Layla Sultani", aliases=["Mariam Jafari"]),
        expected_version=person.version,
    )
    db.session.commit()
    assert people(db, q="Noori") == [] and people(db, q="Haidari") == []
    assert people(db, q="Sultani") == [person.case_number]
    assert people(db, q="Jafari") == [person.case_number]
    assert tokens_of(db, person) == names.name_tokens(
        names.name_key("Layla Sultani")
    ) | names.name_tokens(names.name_key("Mariam Jafari"))


def test_words_must_meet_in_one_name_not_across_a_name_and_an_alias(db, block, officer):
    data = person_data(full_name="Layla Haidari", aliases=["Mariam Jafari"])
    person = register(data, block, officer)
    db.session.commit()
    assert people(db, q="Layla Jafari") == []  # each word is in one of her names, not both
    assert people(db, q="Mariam Jafari") == [person.case_number]


SEARCHED_NAMES = [
    ("Mohammad Rezaei", ["Mohamed Rezai"]),
    ("Muhammad Abdul Rahman", ["Mohd Abdulrahman", "Abdoul Rehman"]),
    ("Abdulrahman Noor", []),
    ("Nur Aisyah Rahmani", ["Noor Aisha"]),
    ("Ali Reza Ahmadi", ["Alireza Ahmadi"]),
    ("Rezvan Alizadeh", []),
    ("Fatima Zahra Ali", ["Fatemeh Zahra"]),
    ("Hassan Al-Rashid", ["Hasan Rashid"]),
    ("Rashida Hassan", []),
    ("Amina Mohamud", ["Aminah Mohamed"]),
]


def found_by_definition(query: str, named: dict[str, list[str]]) -> set[str]:
    """Who the search box should find, straight from its rule: each short word
    starts a word, each long one occurs in the joined form, of one name."""

    def matches(name: str) -> bool:
        words, _bar, joined = names.name_key(name).partition("|")
        return all(
            word in joined
            if names.is_long(word)
            else any(w.startswith(word) for w in words.split())
            for word in names.query_words(query)
        )

    return {case for case, all_names in named.items() if any(map(matches, all_names))}


def test_the_search_index_finds_exactly_whom_its_rule_says(db, block, officer):
    named = {}
    for number, (full_name, aliases) in enumerate(SEARCHED_NAMES):
        data = person_data(
            full_name=full_name,
            aliases=aliases,
            nationality=["AF", "SO", "MM", "IR", "IQ"][number % 5],
            date_of_birth=date(1960 + number, 1 + number % 12, 1 + number),
        )
        try:
            person = register(data, block, officer)
        except services.PossibleDuplicates as possible:
            others = [match.person.id for match in possible.matches]
            person = register(data, block, officer, confirmed_different_from=others)
        named[person.case_number] = [full_name, *aliases]
    db.session.commit()
    words = sorted({w for full_name, aliases in SEARCHED_NAMES for n in [full_name, *aliases]
                    for w in n.replace("-", " ").split()})  # fmt: skip
    queries = [*words, *(w[:3] for w in words), *(w[1:] for w in words)]
    queries += [f"{a} {b}" for a in words[::3] for b in words[1::4]]
    queries += ["Abdulrahman", "Muhammad Rahman", "Ali Zadeh", "Reza", "Rashid Hassan"]
    queries += ["Mohd Abdul Rehman", "Ali Reza Ahmadi", "Abdul Muhammad Rahman", "Zahra Ali Fatima"]
    seen_both = False
    for query in queries:
        expected = found_by_definition(query, named)
        assert set(people(db, q=query)) == expected, query
        seen_both = seen_both or 1 < len(expected) < len(named)
    assert seen_both  # the queries include some that find several people, not all


def test_a_search_of_several_words_reads_the_rarest_word_s_tokens_and_checks_their_keys(
    app, db, block, officer
):
    # Neither database tells how many tokens a prefix range holds before
    # reading it, so the search counts them and starts from the rarest word,
    # whatever the query's order: its work follows the few Rezaeis, not the many
    # Muhammads. The other words are looked for in the name key beside each
    # token (one statement, no lookup per name).
    for number, surname in enumerate(["Karimi", "Ahmadi", "Hosseini", "Sultani", "Jafari"]):
        register(
            person_data(
                full_name=f"Muhammad {surname}",
                nationality=["AF", "IR", "IQ", "SO", "MM"][number],
                date_of_birth=date(1970 + number, 1 + number, 1 + number),
            ),
            block,
            officer,
        )
    rezaei = register(person_data(full_name="Mohammad Rezaei"), block, officer)
    db.session.commit()
    refresh_statistics()  # PostgreSQL's estimates (autovacuum's work, given time)
    # Each three times over: psycopg prepares a statement the fifth time it
    # runs, and the estimates must still be of each word's own range then.
    for query in ("Mohamed Rezaei", "Rezai Muhammad") * 3:
        issued = []

        def record(_conn, _cursor, statement, parameters, *_args, issued=issued):
            values = parameters.values() if isinstance(parameters, dict) else parameters
            issued.append((statement, list(values)))

        event.listen(db.engine, "before_cursor_execute", record)
        try:
            found = people(db, q=query)
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        assert found == [rezaei.case_number], query
        driving = [values for statement, values in issued if "LIKE" in statement]
        assert len(driving) == 1, issued
        # Read: the tokens from "rz" (a short word: word tokens) up to "s";
        # "mhmd" (a long word) is looked for in the joined form of each key.
        assert "rz" in driving[0] and "s" in driving[0], query
        assert "%|%mhmd%" in driving[0] and "mhmd" not in driving[0], query


def test_retention_erases_the_search_index_with_the_names(app, db, block, officer, today):
    from rudenim import retention
    from rudenim.audit.context import Actor, acting_as

    person = register(
        person_data(
            full_name="Layla Haidari",
            aliases=["Leila Noori"],
            arrived_on=today - timedelta(days=8 * 365),
        ),
        block,
        officer,
    )
    services.record_custody_change(
        person,
        CustodyData("resettled", None, today - timedelta(days=7 * 365), "Resettled to Canada"),
        actor=officer,
    )
    db.session.commit()
    assert tokens_of(db, person)

    with acting_as(Actor(None, "retention")):
        retention.run(dry_run=False)
    db.session.commit()

    assert tokens_of(db, person) == set()
    assert people(db, q="Haidari", include_left=True) == []
    assert people(db, q="Noori", include_left=True) == []


@pytest.mark.parametrize(
    ("criteria", "who"),
    [
        ({"status": ["community_housing"]}, ["amina"]),
        ({"status": ["detained", "community_housing"]}, ["rahman", "amina", "hassan"]),
        ({"nationality": "MM"}, ["rahman"]),
        ({"ethnicity": " hazara "}, ["hassan"]),
        ({"legal_category": "immigration_detainee"}, ["amina"]),
        ({"vulnerability": "unaccompanied_minor"}, ["hassan"]),
        ({"vulnerability": "pregnant"}, []),
        ({"arrived_from": local_today() - timedelta(days=100)}, ["amina", "hassan"]),
        ({"arrived_to": local_today() - timedelta(days=100)}, ["rahman"]),
        (
            {
                "arrived_from": local_today() - timedelta(days=100),
                "arrived_to": local_today() - timedelta(days=60),
            },
            ["hassan"],
        ),
    ],
)
def test_filters_narrow_the_list(db, registry, criteria, who):
    assert sorted(people(db, **criteria)) == sorted(registry[key] for key in who)


def test_the_placement_filter(db, registry):
    amina = db.session.scalar(select(Person).where(Person.case_number == registry["amina"]))
    assert people(db, placement_id=amina.placement_id) == [registry["amina"]]


@pytest.mark.parametrize(
    ("sort", "descending", "order"),
    [
        ("name", False, ["amina", "hassan", "rahman"]),
        ("name", True, ["rahman", "hassan", "amina"]),
        ("arrived", False, ["rahman", "hassan", "amina"]),
        ("nationality", False, ["hassan", "rahman", "amina"]),
        ("case_number", True, ["hassan", "amina", "rahman"]),
        ("no-such-column", False, ["rahman", "amina", "hassan"]),
    ],
)
def test_sorting(db, registry, sort, descending, order):
    assert people(db, sort=sort, descending=descending) == [registry[key] for key in order]


# --- reference data -------------------------------------------------------------------


def test_placement_names_are_unique_whatever_the_case(app, db, block):
    before = row_counts(app)
    with pytest.raises(DuplicateRecord, match="A placement named blok a exists."):
        services.save_placement(None, kind="centre", name="  blok   a ", capacity=None)
    db.session.rollback()
    assert row_counts(app) == before


def test_a_placement_can_be_renamed_and_keep_its_own_name(db, block):
    services.save_placement(block, kind="centre", name="BLOK A", capacity=12)
    assert (block.name, block.capacity) == ("BLOK A", 12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": " "}, "Enter the placement's name."),
        ({"capacity": -1}, "Capacity cannot be negative."),
        ({"kind": "prison"}, "Choose the kind of placement."),
    ],
)
def test_bad_placements_are_refused(db, kwargs, message):
    values = {"kind": "centre", "name": "Blok Z", "capacity": None, **kwargs}
    with pytest.raises(DomainError, match=message):
        services.save_placement(None, **values)


def test_an_occupied_placement_keeps_its_kind(db, detained, block):
    with pytest.raises(DomainError, match="its kind cannot change"):
        services.save_placement(block, kind="housing", name=block.name, capacity=10)


def test_occupancy_counts_people_in_care_and_warns_over_capacity(
    db, make_person, make_placement, officer, today
):
    small = make_placement(kind="centre", name="Sel 1", capacity=1)
    first = make_person(placement=small.id)
    assert services.occupancy() == {small.id: 1}
    assert not services.placement_is_over_capacity(small)
    make_person(placement=small.id)
    assert services.occupancy() == {small.id: 2}
    assert services.placement_is_over_capacity(small)
    change(first, "released", on=today, actor=officer)
    assert services.occupancy() == {small.id: 1}
    assert not services.placement_is_over_capacity(small)


def test_ethnicity_suggestions_are_added_once_and_removed(app, db):
    rohingya = services.add_ethnicity_suggestion(" Rohingya ")
    services.add_ethnicity_suggestion("Hazara")
    with pytest.raises(DuplicateRecord, match="rohingya is already in the list."):
        services.add_ethnicity_suggestion("rohingya")
    with pytest.raises(DomainError, match="up to 80 characters"):
        services.add_ethnicity_suggestion("  ")
    assert services.ethnicity_suggestions() == ["Hazara", "Rohingya"]
    services.remove_ethnicity_suggestion(rohingya)
    assert services.ethnicity_suggestions() == ["Hazara"]


def test_removing_a_suggestion_keeps_what_people_stated(db, make_person):
    suggestion = services.add_ethnicity_suggestion("Rohingya")
    person = make_person(nationality="MM", claimed_ethnicity="Rohingya")
    services.remove_ethnicity_suggestion(suggestion)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Person, person.id).claimed_ethnicity == "Rohingya"


def test_the_audit_trail_names_the_person_for_each_row(app, db, detained, housing, officer):
    change(detained, "community_housing", housing, actor=officer)
    db.session.commit()
    subjects = db.session.execute(
        select(AuditEvent.object_type, func.count())
        .where(AuditEvent.subject_type == "Person", AuditEvent.subject_id == str(detained.id))
        .group_by(AuditEvent.object_type)
    ).all()
    assert dict(subjects)["CustodyEvent"] == 2
    assert dict(subjects)["Person"] >= 2  # created, then its status updated


def test_an_arrival_after_the_first_step_is_refused_after_a_status_change_too(
    db, detained, housing, officer, today
):
    change(detained, "community_housing", housing, on=today - timedelta(days=10), actor=officer)
    db.session.commit()
    with pytest.raises(DomainError, match="after the first custody event"):
        services.update_person(
            detained,
            person_data(arrived_on=today - timedelta(days=30)),
            expected_version=detained.version,
        )


def test_a_true_duplicate_is_found_among_many_people_with_a_similar_first_name(
    db, block, officer, today
):
    """Hundreds of Mohammads of one nationality must not hide the one who matches."""
    common = {
        "sex": "male",
        "nationality": "AF",
        "legal_category": LegalCategory.ASYLUM_SEEKER,
        "arrived_on": today,
        "custody_status": CustodyStatus.DETAINED,
        "status_since": today,
        "placement_id": block.id,
    }
    for n in range(450):
        family = "".join("bdfgklmnpst"[int(d)] for d in f"{n:04d}") + "o"
        name = f"Mohammad {family.capitalize()}"
        db.session.add(
            Person(
                case_number=f"X-{n:04d}", full_name=name, name_key=names.name_key(name), **common
            )
        )
    existing = Person(
        case_number="X-9999",
        full_name="Mohammad Rahman",
        name_key=names.name_key("Mohammad Rahman"),
        **common,
    )
    db.session.add(existing)
    db.session.flush()
    matches = services.find_possible_duplicates(
        person_data(full_name="Muhammad Rehman", nationality="AF")
    )
    assert existing in [match.person for match in matches]
