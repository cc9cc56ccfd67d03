"""IOM and UNHCR verification: steps on the person page, the board, bulk steps.

The rules are shown once through the service (every pair of statuses) and
then through the pages, as an officer meets them: what the page shows after a
step, and, for every bad input, the message and an unchanged database.
No test holds an app context while it makes requests.
"""

import itertools
import re
from datetime import date, timedelta

import pytest
from babel.dates import format_date
from flask_babel import force_locale
from sqlalchemy import update

from rudenim.cases import verification
from rudenim.cases.models import (
    VERIFICATION_STEPS,
    Agency,
    LegalCategory,
    Person,
    VerificationStatus,
)
from rudenim.clock import local_today
from rudenim.errors import DomainError, IllegalTransition
from rudenim.extensions import db as _db
from tests.cases.conftest import audit_events, messages, person_row
from tests.reports.conftest import (
    PATHS,
    bring_to,
    days_ago,
    plain,
    section,
    state,
    table_rows,
    take_steps,
    track_row,
)

LABELS = {
    "not_referred": "Not referred",
    "referred": "Referred",
    "in_progress": "In progress",
    "verified": "Verified",
    "not_verified": "Not verified",
    "closed": "Closed",
}
ALLOWED = [(a.value, b.value) for a, targets in VERIFICATION_STEPS.items() for b in targets]
ILLEGAL = [
    (a.value, b.value)
    for a, b in itertools.product(VerificationStatus, VerificationStatus)
    if b not in VERIFICATION_STEPS[a]
]


def english_date(day: date) -> str:
    return format_date(day, "medium", locale="en")


def step(to_status, on, reference="", note=""):
    """What an officer types in the step form."""
    return {
        "to_status": to_status,
        "occurred_on": on.isoformat() if isinstance(on, date) else on,
        "reference": reference,
        "note": note,
    }


def track_panel(response, agency_label: str) -> str:
    """The raw HTML of one agency's panel in the person page's verification section."""
    verification_html = section(response, "verification")
    assert verification_html is not None
    panels = re.split(r'<div class="track">', verification_html)[1:]
    for panel in panels:
        if re.search(rf"<h3>\s*{agency_label}\s*</h3>", panel):
            return panel
    raise AssertionError(f"no {agency_label} panel")


def shown_status(response, agency_label: str) -> str:
    panel = track_panel(response, agency_label)
    return plain(re.search(r'<span class="tag vstatus-[^"]+">(.*?)</span>', panel).group(1))


def timeline(response, agency_label: str) -> list[str]:
    panel = track_panel(response, agency_label)
    listing = re.search(r'<ol class="timeline">(.*?)</ol>', panel, re.S)
    if listing is None:
        return []
    return [plain(item) for item in re.findall(r"<li>(.*?)</li>", listing.group(1), re.S)]


@pytest.fixture
def officer(make_staff):
    return make_staff("officer")


# --- the state machine, through the service ---------------------------------------------


@pytest.mark.parametrize(("from_status", "to_status"), ALLOWED)
def test_every_step_the_machine_allows_is_recorded_as_an_event(
    app, db, make_person, officer, from_status, to_status
):
    person = make_person()
    bring_to(app, person.id, "unhcr", from_status, actor_id=officer.id, start=30)
    reference = "UN-777" if to_status == "verified" else None

    event = verification.record_verification_step(
        person,
        "unhcr",
        verification.StepData(to_status, days_ago(5), reference, note="after the interview"),
        actor=officer,
    )

    db.session.expire_all()
    track = verification.track_of(person, Agency.UNHCR)
    assert (event.from_status, event.to_status) == (from_status, to_status)
    assert (track.status, track.status_on) == (to_status, days_ago(5))
    assert event.note == "after the interview" and event.recorded_by_id == officer.id
    # Nothing is overwritten: every step stays, the newest first.
    assert [e.to_status.value for e in reversed(track.events)] == [*PATHS[from_status], to_status]
    assert verification.status_of(person, Agency.IOM) is VerificationStatus.NOT_REFERRED
    # The person's copy, which the board counts, says the same.
    assert (person.unhcr_status, person.iom_status) == (to_status, VerificationStatus.NOT_REFERRED)


def test_a_step_leaves_the_persons_version_alone(app, db, make_person, officer):
    # An officer editing the identity meanwhile must not be told someone else saved it.
    person = make_person()
    version = person.version
    take_steps(app, person.id, "iom", ("referred", 3), ("in_progress", 1), actor_id=officer.id)

    db.session.expire_all()
    assert (person.iom_status, person.version) == (VerificationStatus.IN_PROGRESS, version)
    changes = [e.changes or "" for e in audit_events(app, "update", subject_id=person.id)]
    assert not any("iom_status" in text for text in changes)


@pytest.mark.parametrize(("from_status", "to_status"), ILLEGAL)
def test_every_other_step_is_refused_naming_what_is_allowed(
    app, db, make_person, officer, from_status, to_status
):
    person = make_person()
    bring_to(app, person.id, "iom", from_status, actor_id=officer.id, start=30)
    before = state(app)

    with force_locale("en"), pytest.raises(IllegalTransition) as refused:
        verification.record_verification_step(
            person, "iom", verification.StepData(to_status, days_ago(1), "IOM-1"), actor=officer
        )

    message = str(refused.value)
    allowed = [LABELS[s.value] for s in VERIFICATION_STEPS[VerificationStatus(from_status)]]
    assert message.startswith(
        f"IOM: a track cannot go from {LABELS[from_status]} to {LABELS[to_status]}."
    )
    assert all(label in message.split("can go to:")[1] for label in allowed)
    db.session.rollback()
    assert state(app) == before


def test_the_machine_is_the_one_in_the_design():
    s = VerificationStatus
    design = {
        s.NOT_REFERRED: {s.REFERRED},
        s.REFERRED: {s.IN_PROGRESS},
        s.IN_PROGRESS: {s.VERIFIED, s.NOT_VERIFIED},
        s.VERIFIED: {s.CLOSED},
        s.NOT_VERIFIED: {s.CLOSED, s.IN_PROGRESS},
        s.CLOSED: {s.REFERRED},
    }
    assert design == VERIFICATION_STEPS


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda person, actor: verification.record_verification_step(
                person, "unhcr", verification.StepData("approved", days_ago(1)), actor=actor
            ),
            "approved is not a verification status.",
        ),
        (
            lambda person, actor: verification.record_verification_step(
                person, "unicef", verification.StepData("referred", days_ago(1)), actor=actor
            ),
            "unicef is not an agency. Choose IOM or UNHCR.",
        ),
        (
            lambda person, actor: verification.record_verification_step(
                person, "iom", verification.StepData("referred", None), actor=actor
            ),
            "Enter the date of the step.",
        ),
        (
            lambda person, actor: verification.bulk_step(
                [person.id],
                "unhcr",
                verification.StepData("referred", days_ago(1), "UN-1"),
                actor=actor,
            ),
            "A reference number belongs to one person; record it on their page.",
        ),
        (
            lambda person, actor: verification.bulk_step(
                [], "unhcr", verification.StepData("referred", days_ago(1)), actor=actor
            ),
            "Select at least one person.",
        ),
    ],
    ids=["unknown-status", "unknown-agency", "no-date", "bulk-reference", "bulk-no-one"],
)
def test_the_service_refuses_what_the_forms_usually_catch(
    app, db, make_person, officer, call, message
):
    person = make_person()
    before = state(app)

    with force_locale("en"), pytest.raises(DomainError) as refused:
        call(person, officer)

    assert str(refused.value) == message
    db.session.rollback()
    assert state(app) == before


def test_a_step_is_in_the_audit_trail_of_the_person(app, make_person, officer):
    person = make_person()
    take_steps(app, person.id, "unhcr", ("referred", 3, "UN-55"), actor_id=officer.id)

    created = {
        e.object_type
        for e in audit_events(app, "create", subject_id=person.id)
        if e.object_type.startswith("Verification")
    }
    assert created == {"VerificationTrack", "VerificationEvent"}


# --- steps on the person page ---------------------------------------------------------


def test_a_track_walks_every_step_on_the_person_page(app, client, sign_in, make_person):
    officer_id = sign_in("officer")
    person = make_person()
    walk = [
        ("referred", 60, "", "Referred after registration"),
        ("in_progress", 50, "", "Interview held"),
        ("not_verified", 40, "", "Not enough documents"),
        ("in_progress", 30, "", "Reopened with new documents"),
        ("verified", 20, "354-24C01234", "Recognised"),
        ("closed", 10, "", "Resettled file"),
        ("referred", 0, "", "New referral"),
    ]
    previous = "not_referred"
    for count, (to_status, ago, reference, note) in enumerate(walk, start=1):
        response = client.post(
            f"/cases/{person.id}/verification/unhcr",
            data=step(to_status, days_ago(ago), reference, note),
        )
        assert response.status_code == 302
        assert response.headers["Location"] == f"/cases/{person.id}#verification"
        page = client.get(f"/cases/{person.id}")
        assert "The verification step has been recorded." in messages(page)
        assert shown_status(page, "UNHCR") == LABELS[to_status]
        events = timeline(page, "UNHCR")
        assert len(events) == count
        newest = events[0]
        assert newest.startswith(
            f"{english_date(days_ago(ago))} — {LABELS[previous]} → {LABELS[to_status]}"
        )
        assert note in newest
        assert track_row(app, person.id, "unhcr")[:2] == (to_status, days_ago(ago))
        previous = to_status

    page = client.get(f"/cases/{person.id}")
    panel = plain(track_panel(page, "UNHCR"))
    # The reference recorded with "verified" stays the track's reference.
    assert "Reference: 354-24C01234" in panel
    assert f"since {english_date(local_today())}" in panel
    assert shown_status(page, "IOM") == "Not referred"
    assert timeline(page, "IOM") == []
    assert track_row(app, person.id, "iom") is None
    with app.app_context():
        person_now = _db.session.get(Person, person.id)
        track = verification.track_of(person_now, Agency.UNHCR)
        assert [e.recorded_by_id for e in track.events] == [officer_id] * len(walk)


@pytest.fixture
def referred(app, make_person, officer):
    """A person whose UNHCR track was referred ten days ago with a reference."""
    person = make_person()
    take_steps(app, person.id, "unhcr", ("referred", 10, "UN-2024-001"), actor_id=officer.id)
    return person


@pytest.mark.parametrize(
    ("agency", "data", "expected"),
    [
        pytest.param(
            "unhcr",
            step("verified", days_ago(1), "UN-9"),
            "UNHCR: a track cannot go from Referred to Verified. "
            "From Referred it can go to: In progress.",
            id="illegal-step",
        ),
        pytest.param(
            "unhcr",
            step("referred", days_ago(1)),
            "UNHCR: a track cannot go from Referred to Referred.",
            id="same-status-again",
        ),
        pytest.param(
            "xyz",
            step("in_progress", days_ago(1)),
            "xyz is not an agency. Choose IOM or UNHCR.",
            id="unknown-agency",
        ),
        pytest.param(
            "unhcr",
            step("approved", days_ago(1)),
            "New status: Not a valid choice.",
            id="unknown-status",
        ),
        pytest.param(
            "unhcr",
            step("not_referred", days_ago(1)),
            "New status: Not a valid choice.",
            id="back-to-not-referred",
        ),
        pytest.param(
            "unhcr",
            step("in_progress", local_today() + timedelta(days=1)),
            "The date of the step is in the future.",
            id="future-date",
        ),
        pytest.param(
            "unhcr",
            step("in_progress", days_ago(11)),
            f"The date is before the previous step ({days_ago(10).isoformat()}). "
            "Record steps in the order they happened.",
            id="before-previous-step",
        ),
        pytest.param(
            "unhcr",
            step("in_progress", "2024-02-30"),
            # WTForms' DataRequired answers a date it cannot read as a missing one.
            "Date of the step: ",
            id="malformed-date",
        ),
        pytest.param(
            "unhcr",
            step("in_progress", ""),
            "Date of the step: This field is required.",
            id="missing-date",
        ),
        pytest.param(
            "unhcr",
            step("in_progress", days_ago(1), "-/ -"),
            "This reference number is not valid.",
            id="reference-without-letters-or-digits",
        ),
    ],
)
def test_a_bad_step_is_refused_with_its_reason_and_changes_nothing(
    app, client, sign_in, referred, agency, data, expected
):
    sign_in("officer")
    before = state(app)

    response = client.post(f"/cases/{referred.id}/verification/{agency}", data=data)

    assert response.status_code == 302
    assert state(app) == before
    page = client.get(response.headers["Location"])
    assert any(m.startswith(expected) for m in messages(page)), messages(page)
    assert "The verification step has been recorded." not in messages(page)
    assert shown_status(page, "UNHCR") == "Referred"


def test_a_reference_used_for_another_person_at_the_same_agency_is_refused(
    app, client, sign_in, make_person, referred
):
    sign_in("officer")
    other = make_person()
    # At the other agency the same number is no one's business but IOM's: accepted.
    response = client.post(
        f"/cases/{other.id}/verification/iom", data=step("referred", days_ago(5), "UN-2024-001")
    )
    assert "The verification step has been recorded." in messages(
        client.get(response.headers["Location"])
    )
    assert track_row(app, other.id, "iom") == ("referred", days_ago(5), "UN-2024-001")
    before = state(app)

    # The same number, typed differently, is the same number.
    response = client.post(
        f"/cases/{other.id}/verification/unhcr",
        data=step("referred", days_ago(1), "un 2024/001"),
    )

    assert state(app) == before
    page = client.get(response.headers["Location"])
    assert (
        f"UNHCR reference un 2024/001 is already used for {referred.case_number} "
        f"({referred.full_name})." in messages(page)
    )
    assert shown_status(page, "UNHCR") == "Not referred"
    # The person who holds the number may record it again.
    response = client.post(
        f"/cases/{referred.id}/verification/unhcr",
        data=step("in_progress", days_ago(1), "UN-2024-001"),
    )
    assert "The verification step has been recorded." in messages(
        client.get(response.headers["Location"])
    )
    assert track_row(app, referred.id, "unhcr")[0] == "in_progress"


def test_verified_needs_a_reference_unless_the_track_has_one(
    app, client, sign_in, make_person, officer
):
    sign_in("officer")
    without, with_reference = make_person(), make_person()
    take_steps(app, without.id, "iom", ("referred", 9), ("in_progress", 8), actor_id=officer.id)
    take_steps(
        app,
        with_reference.id,
        "iom",
        ("referred", 9, "IOM-TL-88"),
        ("in_progress", 8),
        actor_id=officer.id,
    )
    before = state(app)

    response = client.post(
        f"/cases/{without.id}/verification/iom", data=step("verified", days_ago(1))
    )

    assert state(app) == before
    assert "A verified status needs the agency's reference number." in messages(
        client.get(response.headers["Location"])
    )
    client.post(f"/cases/{with_reference.id}/verification/iom", data=step("verified", days_ago(1)))
    assert track_row(app, with_reference.id, "iom") == ("verified", days_ago(1), "IOM-TL-88")


def test_a_step_for_someone_who_does_not_exist_is_not_found(app, client, sign_in):
    sign_in("officer")
    before = state(app)
    response = client.post("/cases/999999/verification/unhcr", data=step("referred", days_ago(1)))
    assert response.status_code == 404
    assert state(app) == before


@pytest.mark.parametrize("role", ["viewer", "admin"])
def test_who_cannot_record_a_step_is_refused_and_it_is_recorded(
    app, client, sign_in, make_person, role
):
    person = make_person()
    sign_in(role)
    before = state(app)

    response = client.post(
        f"/cases/{person.id}/verification/unhcr", data=step("referred", days_ago(1))
    )

    assert response.status_code == 403
    assert track_row(app, person.id, "unhcr") is None
    assert state(app)["events"] == before["events"]
    denied = audit_events(app, "permission_denied")
    assert '"verification.update"' in denied[-1].details


# --- "refugee" follows UNHCR ----------------------------------------------------------


def test_a_verified_unhcr_track_makes_the_person_a_refugee(
    app, client, sign_in, make_person, officer
):
    sign_in("officer")
    person, other = make_person(), make_person()
    bring_to(app, person.id, "unhcr", "in_progress", actor_id=officer.id)
    bring_to(app, other.id, "iom", "in_progress", actor_id=officer.id)

    client.post(f"/cases/{other.id}/verification/iom", data=step("verified", days_ago(1), "IOM-42"))
    client.post(
        f"/cases/{person.id}/verification/unhcr",
        data=step("verified", days_ago(1), "354-24C00042"),
    )

    assert person_row(app, person.id)["legal_category"] is LegalCategory.REFUGEE
    # IOM's verification says nothing about refugee status.
    assert person_row(app, other.id)["legal_category"] is LegalCategory.ASYLUM_SEEKER
    page = plain(section(client.get(f"/cases/{person.id}"), "identity"))
    assert "Legal category Refugee" in page


def test_verified_after_someone_else_saved_the_person_keeps_both_changes(
    app, db, make_person, officer
):
    person = make_person(full_name="Amina Yusuf")
    bring_to(app, person.id, "unhcr", "in_progress", actor_id=officer.id)
    person = db.session.get(Person, person.id)
    person.version  # noqa: B018  (loaded before the other save, as a request would)
    table = Person.__table__
    db.session.execute(  # another request's save, committed before this step takes the lock
        update(table)
        .where(table.c.id == person.id)
        .values(version=table.c.version + 1, full_name="Amina Yusuf Osman")
    )

    verification.record_verification_step(
        person,
        "unhcr",
        verification.StepData("verified", days_ago(1), "354-24C00043"),
        actor=officer,
    )
    db.session.commit()

    row = person_row(app, person.id)
    assert row["legal_category"] is LegalCategory.REFUGEE
    assert row["full_name"] == "Amina Yusuf Osman"


def _registration(**overrides) -> dict:
    data = {
        "full_name": "Parwin Sultani",
        "sex": "female",
        "date_of_birth": "1994-02-03",
        "nationality": "AF",
        "legal_category": "asylum_seeker",
        "arrived_on": days_ago(30).isoformat(),
        "status": "community_housing",
        "placement_id": "0",
    }
    data.update(overrides)
    return data


def _edit(person: dict, **overrides) -> dict:
    data = {
        "full_name": person["full_name"],
        "sex": person["sex"].value,
        "date_of_birth": person["date_of_birth"].isoformat(),
        "nationality": person["nationality"],
        "legal_category": person["legal_category"].value,
        "arrived_on": person["arrived_on"].isoformat(),
        "version": str(person["version"]),
    }
    data.update(overrides)
    return data


REFUGEE_REFUSED = "“Refugee” follows UNHCR's decision"


def test_registering_someone_as_refugee_is_refused(app, client, sign_in, make_placement):
    sign_in("officer")
    housing = make_placement(kind="housing", name="Wisma Kupang")
    before = state(app)

    response = client.post(
        "/cases/new", data=_registration(legal_category="refugee", placement_id=str(housing.id))
    )

    assert response.status_code == 200
    assert any(m.startswith(REFUGEE_REFUSED) for m in messages(response)), messages(response)
    assert state(app)["people"] == before["people"]


def test_editing_someone_into_refugee_needs_a_verified_unhcr_track(
    app, client, sign_in, make_person, officer
):
    sign_in("officer")
    person = make_person()
    bring_to(app, person.id, "iom", "verified", actor_id=officer.id)
    bring_to(app, person.id, "unhcr", "in_progress", actor_id=officer.id)
    row = person_row(app, person.id)

    response = client.post(f"/cases/{person.id}/edit", data=_edit(row, legal_category="refugee"))

    assert response.status_code == 200
    assert any(m.startswith(REFUGEE_REFUSED) for m in messages(response)), messages(response)
    assert person_row(app, person.id) == row


# --- non-refoulement ------------------------------------------------------------------


def _deport(client, person_id: int):
    return client.post(
        f"/cases/{person_id}/custody",
        data={
            "status": "deported",
            "placement_id": "0",
            "effective_on": local_today().isoformat(),
            "reason": "Order of the head of the regional office",
        },
    )


@pytest.mark.parametrize("unhcr_status", ["referred", "in_progress", "verified"])
def test_no_deportation_while_unhcr_is_looking_at_the_case(
    app, client, sign_in, make_person, officer, unhcr_status
):
    sign_in("supervisor")
    person = make_person()
    bring_to(app, person.id, "unhcr", unhcr_status, actor_id=officer.id)
    before = state(app)

    response = _deport(client, person.id)

    assert state(app) == before
    page = client.get(response.headers["Location"])
    assert (
        f"{person.full_name} cannot be deported while their UNHCR verification is "
        f"{LABELS[unhcr_status]} (non-refoulement)."
    ) in messages(page)
    assert person_row(app, person.id)["custody_status"].value == "detained"


@pytest.mark.parametrize("unhcr_status", ["not_referred", "not_verified", "closed"])
def test_deportation_is_possible_once_unhcr_is_not_involved(
    app, client, sign_in, make_person, officer, unhcr_status
):
    sign_in("supervisor")
    person = make_person()
    bring_to(app, person.id, "unhcr", unhcr_status, actor_id=officer.id)
    # An IOM track in progress does not protect from deportation.
    bring_to(app, person.id, "iom", "in_progress", actor_id=officer.id)

    response = _deport(client, person.id)

    assert "The custody change has been recorded." in messages(
        client.get(response.headers["Location"])
    )
    assert person_row(app, person.id)["custody_status"].value == "deported"


# --- the board ------------------------------------------------------------------------


def board_counts(response) -> dict[str, int]:
    listing = re.search(
        r'<ul class="counts" id="status-counts">(.*?)</ul>', response.get_data(as_text=True), re.S
    ).group(1)
    counts = {}
    for item in re.findall(r"<li>(.*?)</li>", listing, re.S):
        number, label = re.fullmatch(r"(\d+) (.+)", plain(item)).groups()
        counts[label] = int(number)
    return counts


def board_rows(response) -> dict[str, dict]:
    """The board's rows by case number."""
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    table = body[body.index('<table class="people">') :]
    table = table[: table.index("</table>")]
    rows = {}
    for attrs, row in re.findall(r"<tr([^>]*)>(.*?)</tr>", table.split("<tbody>")[1], re.S):
        cells = [plain(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        if len(cells) == 1:
            continue  # "No one matches."
        if 'type="checkbox"' in row:
            cells = cells[1:]
        case_number, name, nationality, custody, status, reference, last, days = cells
        rows[case_number] = {
            "name": name,
            "status": status.removesuffix(" stalled"),
            "stalled": "stalled" in attrs and status.endswith(" stalled"),
            "reference": reference,
            "last_step": last,
            "days": days,
            "custody": custody,
        }
    return rows


@pytest.fixture
def board(app, make_person, officer, make_staff):
    """People at every UNHCR status, and one with only an IOM track."""
    people = {}
    for status in ["not_referred", "referred", "in_progress", "verified", "not_verified"]:
        people[status] = make_person()
        bring_to(app, people[status].id, "unhcr", status, actor_id=officer.id, start=20)
    people["closed"] = make_person(nationality="MM", claimed_ethnicity="Rohingya")
    bring_to(app, people["closed"].id, "unhcr", "closed", actor_id=officer.id, start=20)
    people["iom_only"] = make_person(nationality="SO")
    take_steps(app, people["iom_only"].id, "iom", ("referred", 4, "IOM-7"), actor_id=officer.id)
    return people


def test_the_board_counts_every_status_and_lists_each_person(app, client, sign_in, board):
    sign_in("officer")

    response = client.get("/cases/verification?agency=unhcr")

    assert board_counts(response) == {
        "Not referred": 2,  # no track at all, and a track with IOM only
        "Referred": 1,
        "In progress": 1,
        "Verified": 1,
        "Not verified": 1,
        "Closed": 1,
    }
    rows = board_rows(response)
    assert set(rows) == {person.case_number for person in board.values()}
    verified = rows[board["verified"].case_number]
    # bring_to: referred 20 days ago, in progress 19, verified 18.
    assert verified == {
        "name": board["verified"].full_name,
        "status": "Verified",
        "stalled": False,
        "reference": f"UNHCR-{board['verified'].id:05d}",
        "last_step": english_date(days_ago(18)),
        "days": "18",
        "custody": "Detained",
    }
    nothing = rows[board["iom_only"].case_number]
    assert (nothing["status"], nothing["reference"], nothing["last_step"], nothing["days"]) == (
        "Not referred",
        "—",
        "—",
        "—",
    )


def test_the_iom_board_shows_the_iom_tracks(app, client, sign_in, board):
    sign_in("officer")

    response = client.get("/cases/verification?agency=iom")

    counts = board_counts(response)
    assert counts["Referred"] == 1 and counts["Not referred"] == len(board) - 1
    row = board_rows(response)[board["iom_only"].case_number]
    assert (row["status"], row["reference"], row["days"]) == ("Referred", "IOM-7", "4")
    assert "Verification board: IOM" in plain(response.get_data(as_text=True))


def test_a_track_that_has_not_moved_for_the_stalled_period_is_marked(
    app, client, sign_in, make_person, officer
):
    sign_in("officer")
    people = {name: make_person() for name in ["old", "young", "verified", "in_progress"]}
    take_steps(app, people["old"].id, "unhcr", ("referred", 90), actor_id=officer.id)
    take_steps(app, people["young"].id, "unhcr", ("referred", 89), actor_id=officer.id)
    bring_to(app, people["verified"].id, "unhcr", "verified", actor_id=officer.id, start=400)
    bring_to(app, people["in_progress"].id, "unhcr", "in_progress", actor_id=officer.id, start=200)

    rows = board_rows(client.get("/cases/verification?agency=unhcr"))
    stalled = {case for case, row in rows.items() if row["stalled"]}
    assert stalled == {people["old"].case_number, people["in_progress"].case_number}
    assert rows[people["old"].case_number]["days"] == "90"

    only = board_rows(client.get("/cases/verification?agency=unhcr&stalled=y"))
    assert set(only) == stalled

    app.config["VERIFICATION_STALLED_DAYS"] = 30
    response = client.get("/cases/verification?agency=unhcr&stalled=y")
    assert set(board_rows(response)) == stalled | {people["young"].case_number}
    assert "stalled: no step for 30 days" in plain(response.get_data(as_text=True))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("vstatus=referred&vstatus=in_progress", {"referred", "in_progress"}),
        ("vstatus=not_referred", {"not_referred", "iom_only"}),
        ("vstatus=verified&nationality=AF", {"verified"}),
        ("nationality=MM", {"closed"}),
        ("ethnicity=rohingya", {"closed"}),
        ("legal_category=refugee", {"verified"}),
        ("status=detained&vstatus=closed", {"closed"}),
        ("status=community_housing", set()),
    ],
)
def test_the_board_filters_like_the_people_list(app, client, sign_in, board, query, expected):
    sign_in("officer")

    response = client.get(f"/cases/verification?agency=unhcr&{query}")

    assert set(board_rows(response)) == {board[name].case_number for name in expected}


def test_the_counts_follow_the_people_filters_not_the_status_filter(app, client, sign_in, board):
    sign_in("officer")

    response = client.get("/cases/verification?agency=unhcr&nationality=AF&vstatus=verified")

    counts = board_counts(response)
    assert counts["Closed"] == 0  # the closed track belongs to someone from Myanmar
    assert counts["Not referred"] == 1  # the one from Somalia with an IOM track is not AF
    assert (counts["Referred"], counts["Verified"]) == (1, 1)
    assert list(board_rows(response)) == [board["verified"].case_number]


def test_the_board_searches_by_name_and_hides_who_left_unless_asked(
    app, client, sign_in, board, make_staff
):
    sign_in("supervisor")
    target = board["not_verified"]
    _deport(client, target.id)
    assert person_row(app, target.id)["custody_status"].value == "deported"

    first_name = target.full_name.split()[0]
    assert board_rows(client.get(f"/cases/verification?q={first_name}")) == {}
    found = board_rows(client.get(f"/cases/verification?q={first_name}&include_left=y"))
    assert list(found) == [target.case_number]
    assert found[target.case_number]["custody"] == "Deported"


def test_an_unknown_agency_on_the_board_gets_a_message(app, client, sign_in, board):
    sign_in("officer")

    response = client.get("/cases/verification?agency=xyz")

    assert response.status_code == 200
    assert "Some filters were not valid and were not applied." in messages(response)
    # It shows the UNHCR board, as the link in the menu would.
    assert board_counts(response)["Verified"] == 1


def test_bad_board_filters_are_reported_not_applied(app, client, sign_in, board):
    sign_in("officer")

    response = client.get("/cases/verification?agency=unhcr&arrived_from=2024-99-01")

    assert "Some filters were not valid and were not applied." in messages(response)
    assert len(board_rows(response)) == len(board)


@pytest.mark.parametrize(
    ("role", "status", "bulk", "export"),
    [
        ("officer", 200, True, False),
        ("supervisor", 200, True, True),
        ("viewer", 200, False, False),
        ("admin", 403, False, False),
    ],
)
def test_who_sees_the_board_and_its_actions(
    app, client, sign_in, board, role, status, bulk, export
):
    sign_in(role)
    response = client.get("/cases/verification?agency=unhcr")
    assert response.status_code == status
    body = response.get_data(as_text=True)
    assert ('id="bulk-step"' in body) is bulk
    assert ('name="person_ids"' in body) is bulk
    assert ('id="export-form"' in body) is export


# --- bulk steps -----------------------------------------------------------------------


def bulk(client, person_ids, to_status="in_progress", on=None, note="Visit of UNHCR", **extra):
    data = {
        "agency": extra.pop("agency", "unhcr"),
        "person_ids": [str(i) for i in person_ids],
        "to_status": to_status,
        "occurred_on": (on or days_ago(0)).isoformat() if not isinstance(on, str) else on,
        "note": note,
        **extra,
    }
    return client.post("/cases/verification/bulk", data=data)


def outcome(response) -> tuple[list[str], list[list[str]]]:
    """(updated entries, refused [person, why] rows) as the result page shows them."""
    assert response.status_code == 200, response.status_code
    updated = section(response, "updated")
    items = [plain(i) for i in re.findall(r"<li>(.*?)</li>", updated, re.S)]
    refused = table_rows(section(response, "refused"))
    return (
        [] if items == ["No one."] else items,
        [] if refused == [["No one."]] else refused,
    )


@pytest.fixture
def visit(app, make_person, officer):
    """Three people referred to UNHCR, one already in progress, one never referred."""
    people = {name: make_person() for name in ["a", "b", "c", "moving", "never"]}
    for name in ["a", "b", "c"]:
        take_steps(app, people[name].id, "unhcr", ("referred", 10), actor_id=officer.id)
    bring_to(app, people["moving"].id, "unhcr", "in_progress", actor_id=officer.id, start=10)
    return people


def test_a_bulk_step_updates_who_it_may_and_says_why_the_others_were_refused(
    app, client, sign_in, visit
):
    sign_in("officer")
    ids = [visit[n].id for n in ["a", "b", "c", "moving", "never"]] + [999999]
    untouched = {n: track_row(app, visit[n].id, "unhcr") for n in ["moving", "never"]}

    response = bulk(client, ids, note="Visit of UNHCR on Monday")

    updated, refused = outcome(response)
    assert updated == [f"{visit[n].case_number} {visit[n].full_name}" for n in ["a", "b", "c"]]
    assert refused == [
        [
            f"{visit['moving'].case_number} {visit['moving'].full_name}",
            "UNHCR: a track cannot go from In progress to In progress. "
            "From In progress it can go to: Not verified, Verified.",
        ],
        [
            f"{visit['never'].case_number} {visit['never'].full_name}",
            "UNHCR: a track cannot go from Not referred to In progress. "
            "From Not referred it can go to: Referred.",
        ],
        ["#999999", "There is no such person."],
    ]
    assert "3 people updated." in messages(response)
    assert "3 people were refused; see why below." in messages(response)
    for name in ["a", "b", "c"]:
        assert track_row(app, visit[name].id, "unhcr")[:2] == ("in_progress", local_today())
    for name, row in untouched.items():
        assert track_row(app, visit[name].id, "unhcr") == row
    page = client.get(f"/cases/{visit['a'].id}")
    assert "Visit of UNHCR on Monday" in timeline(page, "UNHCR")[0]


def test_all_or_nothing_changes_no_one_when_anyone_is_refused(app, client, sign_in, visit):
    sign_in("officer")
    before = state(app)

    response = bulk(
        client, [visit[n].id for n in ["a", "b", "moving"]] + [424242], all_or_nothing="y"
    )

    assert state(app) == before
    updated, refused = outcome(response)
    assert updated == []
    assert [row[0] for row in refused] == [
        f"{visit['moving'].case_number} {visit['moving'].full_name}",
        "#424242",
    ]
    assert "Nothing was changed: 2 of the selected people were refused." in messages(response)


def test_all_or_nothing_applies_the_step_when_no_one_is_refused(app, client, sign_in, visit):
    sign_in("officer")

    response = bulk(client, [visit["a"].id, visit["b"].id], all_or_nothing="y")

    assert len(outcome(response)[0]) == 2
    assert track_row(app, visit["b"].id, "unhcr")[0] == "in_progress"


@pytest.mark.parametrize(
    ("to_status", "on", "reason"),
    [
        (
            "in_progress",
            local_today() + timedelta(days=1),
            "The date of the step is in the future.",
        ),
        (
            "in_progress",
            days_ago(11),
            f"The date is before the previous step ({days_ago(10).isoformat()}). "
            "Record steps in the order they happened.",
        ),
    ],
)
def test_a_bulk_step_checks_each_person_by_the_same_rules(
    app, client, sign_in, visit, to_status, on, reason
):
    sign_in("officer")
    before = state(app)

    response = bulk(client, [visit["a"].id, visit["b"].id], to_status=to_status, on=on)

    updated, refused = outcome(response)
    assert updated == [] and [why for _person, why in refused] == [reason, reason]
    assert state(app) == before


def test_a_bulk_verified_step_needs_each_persons_reference(
    app, client, sign_in, make_person, officer
):
    sign_in("officer")
    with_ref, without = make_person(), make_person()
    take_steps(
        app, with_ref.id, "unhcr", ("referred", 9, "UN-31"), ("in_progress", 8), actor_id=officer.id
    )
    take_steps(app, without.id, "unhcr", ("referred", 9), ("in_progress", 8), actor_id=officer.id)

    response = bulk(client, [with_ref.id, without.id], to_status="verified")

    updated, refused = outcome(response)
    assert updated == [f"{with_ref.case_number} {with_ref.full_name}"]
    assert refused[0][1] == "A verified status needs the agency's reference number."
    assert person_row(app, with_ref.id)["legal_category"] is LegalCategory.REFUGEE
    assert person_row(app, without.id)["legal_category"] is LegalCategory.ASYLUM_SEEKER


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"agency": "xyz"}, "xyz is not an agency. Choose IOM or UNHCR."),
        ({"to_status": "approved"}, "New status: Not a valid choice."),
        ({"to_status": "not_referred"}, "New status: Not a valid choice."),
        ({"person_ids": []}, "People: This field is required."),
        ({"person_ids": ["abc"]}, "People: "),
        ({"occurred_on": "yesterday"}, "Date of the step: "),
    ],
)
def test_a_bad_bulk_request_is_refused_with_a_message(app, client, sign_in, visit, data, expected):
    sign_in("officer")
    before = state(app)
    form = {
        "agency": "unhcr",
        "person_ids": [str(visit["a"].id)],
        "to_status": "in_progress",
        "occurred_on": local_today().isoformat(),
        **data,
    }

    response = client.post("/cases/verification/bulk", data=form)

    assert response.status_code == 302
    assert state(app) == before
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    assert any(m.startswith(expected) for m in messages(page)), messages(page)


def test_a_viewer_cannot_apply_a_bulk_step(app, client, sign_in, visit):
    sign_in("viewer")
    before = state(app)
    response = bulk(client, [visit["a"].id])
    assert response.status_code == 403
    assert state(app)["tracks"] == before["tracks"]
