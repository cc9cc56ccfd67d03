"""The violation pages as staff use them: catalogue, report, review, decision,
appeal, amendment, the log and its export, and the person pages."""

import csv
import html
import io
import json
import re
from datetime import timedelta

import pytest
from babel.dates import format_date
from sqlalchemy import func, select, update

from rudenim.cases.models import CustodyEvent, CustodyStatus, Person, Placement
from rudenim.clock import local_now, local_today, utcnow
from rudenim.conduct.models import HouseRule, RuleSanction, RulesExplanation, Violation
from rudenim.extensions import db
from tests.conduct.conftest import (
    FORBIDDEN,
    audit_events,
    messages,
    person_row,
    row_counts,
    violation_row,
)
from tests.conftest import around_one_write, sqlite_statements

REASONS = "The guard's log and the person's own account agree."
ALTERNATIVES = "A talk with the site coordinator; a written warning."
RULE_FIELDS = {
    "code": "TT-10",
    "title_id": "Membuat kebisingan",
    "title_en": "Making noise at night",
    "description_id": "Membuat kebisingan setelah pukul 22.00.",
    "description_en": "Making noise after 22:00.",
    "is_active": "y",
}


def today(app):
    with app.app_context():
        return local_today()


def shown(day) -> str:
    """A date as the English interface shows it."""
    return format_date(day, "medium", locale="en")


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def section(response, anchor: str) -> str:
    """The HTML of one ``<section id=…>`` of a page."""
    body = page(response)
    start = body.index(f'id="{anchor}"')
    return body[start : body.index("</section>", start)]


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def report_form(case_number, rule_id, when, /, **changes) -> dict:
    data = {
        "person": case_number,
        "rule_id": str(rule_id),
        "occurred_at": when.strftime("%Y-%m-%dT%H:%M"),
        "location": "Wisma Lavender, gate",
        "description": "Came back at 23:40, after the curfew.",
        "witnesses": "Guard on duty",
        "severity": "minor",
    }
    data.update(changes)
    return data


def decision_form(app, **changes) -> dict:
    data = {
        "outcome": "upheld",
        "reasons": REASONS,
        "alternatives_considered": ALTERNATIVES,
        "sanction": "verbal_warning",
        "privilege": "",
        "ends_on": "",
        "placement_id": "0",
        "appeal_rights_told_on": today(app).isoformat(),
    }
    data.update(changes)
    return data


@pytest.fixture
def admin(browser):
    client, _user_id = browser("admin")
    return client


@pytest.fixture
def supervisor(browser):
    """A supervisor's browser and id."""
    return browser("supervisor")


@pytest.fixture
def officer(browser):
    """An officer's browser and id."""
    return browser("officer")


def post_and_follow(client, url, data):
    response = client.post(url, data=data)
    assert response.status_code == 302, response.status_code
    return client.get(response.headers["Location"])


# --- 1. the catalogue ----------------------------------------------------------------------------


def test_reference_load_fills_a_fresh_database_once(app, runner):
    assert count(app, HouseRule) == 0
    result = runner.invoke(args=["reference", "load"])
    assert result.exit_code == 0, result.output
    assert "house rules: 6 added" in result.output
    assert count(app, HouseRule) == 6
    sanctions = count(app, RuleSanction)
    again = runner.invoke(args=["reference", "load"])
    assert again.exit_code == 0, again.output
    assert "house rules: 0 added" in again.output
    assert (count(app, HouseRule), count(app, RuleSanction)) == (6, sanctions)


def test_the_admin_reads_the_catalogue(app, catalogue, admin):
    ids = catalogue()
    body = page(admin.get("/conduct/rules/"))
    assert "Leaving the housing site without permission" in body
    assert "Threatening staff or residents" in body
    assert f'href="/conduct/rules/{ids.rules["TT-03"]}"' in body
    row = body[body.index(">TT-02<") : body.index(">TT-03<")]
    assert "Restriction of a privilege (≤ 7 days)" in row
    assert "Referral to the police" not in row
    assert "criminal matter" in body[body.index(">TT-03<") : body.index(">TT-04<")]


def test_the_admin_adds_a_rule(app, catalogue, admin):
    catalogue()
    assert page(admin.get("/conduct/rules/new"))
    data = {
        **RULE_FIELDS,
        "verbal_warning": "y",
        "privilege_restriction_days": "5",
        "transfer_to_detention_days": "20",
    }
    response = admin.post("/conduct/rules/new", data=data)
    assert response.status_code == 302
    assert response.headers["Location"] == "/conduct/rules/"
    listing = admin.get("/conduct/rules/")
    assert "The house rule has been saved." in messages(listing)
    assert "Making noise at night" in page(listing)
    with app.app_context():
        rule = db.session.scalars(select(HouseRule).where(HouseRule.code == "TT-10")).one()
        assert {(row.sanction.value, row.max_days) for row in rule.sanctions} == {
            ("verbal_warning", None),
            ("privilege_restriction", 5),
            ("transfer_to_detention", 20),
        }
        assert not rule.is_criminal


def test_the_admin_changes_a_rule(app, catalogue, admin):
    rule_id = catalogue().rules["TT-02"]
    form = page(admin.get(f"/conduct/rules/{rule_id}"))
    assert 'value="Curfew breach"' in form
    days = form[form.index('id="privilege_restriction_days"') :].split(">")[0]
    assert 'value="7"' in days
    data = {
        "code": "TT-02",
        "title_id": "Melanggar jam malam",
        "title_en": "Breaking the curfew",
        "is_active": "y",
        "written_warning": "y",
        "privilege_restriction_days": "3",
    }
    response = admin.post(f"/conduct/rules/{rule_id}", data=data)
    assert response.status_code == 302
    with app.app_context():
        rule = db.session.get(HouseRule, rule_id)
        assert rule.title_en == "Breaking the curfew"
        assert {(row.sanction.value, row.max_days) for row in rule.sanctions} == {
            ("written_warning", None),
            ("privilege_restriction", 3),
        }


def test_a_forbidden_punishment_cannot_be_entered_through_the_form(app, catalogue, admin):
    catalogue()
    form = page(admin.get("/conduct/rules/new"))
    for name in FORBIDDEN:
        assert name not in form
    smuggled = {name: "y" for name in FORBIDDEN}
    smuggled["sanctions"] = list(FORBIDDEN)
    smuggled["sanction"] = "corporal_punishment"
    before = row_counts(app)
    refused = admin.post("/conduct/rules/new", data={**RULE_FIELDS, **smuggled})
    assert "Allow at least one sanction." in messages(refused)
    assert row_counts(app) == before
    response = admin.post(
        "/conduct/rules/new", data={**RULE_FIELDS, **smuggled, "written_warning": "y"}
    )
    assert response.status_code == 302
    with app.app_context():
        stored = {str(value) for value in db.session.scalars(select(RuleSanction.sanction))}
        rule = db.session.scalars(select(HouseRule).where(HouseRule.code == "TT-10")).one()
        assert [row.sanction.value for row in rule.sanctions] == ["written_warning"]
    assert stored <= {
        "verbal_warning",
        "written_warning",
        "privilege_restriction",
        "transfer_to_detention",
        "police_referral",
    }


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"police_referral": "y"},
            "Referral to the police is only for rules that are criminal matters.",
        ),
        ({"privilege_restriction_days": "0"}, "Number must be between 1 and 365."),
        ({"transfer_to_detention_days": "400"}, "Number must be between 1 and 365."),
        ({"transfer_to_detention_days": "a month"}, "Not a valid integer value."),
        ({"code": "TT-01", "verbal_warning": "y"}, "A rule with the code TT-01 exists."),
    ],
)
def test_a_bad_rule_is_refused_and_nothing_is_saved(app, catalogue, admin, fields, message):
    catalogue()
    before = row_counts(app)
    response = admin.post("/conduct/rules/new", data={**RULE_FIELDS, **fields})
    assert response.status_code == 200
    assert message in messages(response)
    assert row_counts(app) == before


@pytest.mark.parametrize("role", ["officer", "supervisor", "viewer"])
def test_only_the_admin_manages_the_catalogue(app, catalogue, browser, role):
    rule_id = catalogue().rules["TT-01"]
    client, _user = browser(role)
    before = row_counts(app)
    assert client.get("/conduct/rules/").status_code == 403
    assert client.get(f"/conduct/rules/{rule_id}").status_code == 403
    response = client.post("/conduct/rules/new", data={**RULE_FIELDS, "verbal_warning": "y"})
    assert response.status_code == 403
    assert row_counts(app) == before


def test_the_person_page_records_the_rules_explanation(app, make_person, officer):
    client, officer_id = officer
    person = make_person()
    before = page(client.get(f"/cases/{person.id}"))
    assert "Not recorded yet." in before
    day = today(app) - timedelta(days=3)
    response = post_and_follow(
        client,
        f"/conduct/people/{person.id}/rules-explained",
        {"explained_on": day.isoformat(), "language": "Dari", "interpreter": "Rahim Azizi"},
    )
    assert "Recorded: the house rules were explained." in messages(response)
    conduct = section(response, "conduct")
    assert f"{shown(day)} — Dari (interpreter: Rahim Azizi)" in conduct
    assert "Not recorded yet." not in conduct
    [event] = audit_events(app, "create", object_type="RulesExplanation")
    assert (event.subject_type, event.subject_id, event.actor_id) == (
        "Person",
        str(person.id),
        officer_id,
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"explained_on": "future", "language": "Dari"}, "The date is missing or in the future."),
        ({"explained_on": "today", "language": ""}, "Language: This field is required."),
    ],
)
def test_a_bad_rules_explanation_is_refused(app, make_person, officer, fields, message):
    client, _officer_id = officer
    person = make_person()
    day = today(app) + timedelta(days=1) if fields["explained_on"] == "future" else today(app)
    response = post_and_follow(
        client,
        f"/conduct/people/{person.id}/rules-explained",
        {**fields, "explained_on": day.isoformat(), "interpreter": ""},
    )
    assert message in messages(response)
    assert count(app, RulesExplanation) == 0


# --- 2. reporting --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["officer", "supervisor"])
def test_staff_report_a_violation_from_the_person_page(app, catalogue, make_person, browser, role):
    rules = catalogue().rules
    client, user_id = browser(role)
    person = make_person()
    person_page = page(client.get(f"/cases/{person.id}"))
    link = f'href="/conduct/new?person_id={person.id}"'
    assert link in person_page
    form = page(client.get(f"/conduct/new?person_id={person.id}"))
    assert f'value="{person.case_number}"' in form
    assert "TT-02 · Curfew breach" in form
    when = local_now().replace(tzinfo=None) - timedelta(hours=2)
    response = client.post(
        "/conduct/new", data=report_form(person.case_number, rules["TT-02"], when)
    )
    assert response.status_code == 302
    detail = client.get(response.headers["Location"])
    assert "The violation has been reported for review." in messages(detail)
    assert '<span class="tag" id="violation-status">Reported</span>' in page(detail)
    assert "Came back at 23:40, after the curfew." in page(detail)
    with app.app_context():
        violation = db.session.scalars(select(Violation)).one()
        assert violation.status.value == "reported"
        assert (violation.person_id, violation.reported_by_id) == (person.id, user_id)
        assert violation.rule.code == "TT-02"
        assert response.headers["Location"] == f"/conduct/{violation.id}"


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("future", "The time is in the future."),
        ("before arrival", "The time is before the person's arrival."),
        # Midnight of year 1 here is in year 0 in UTC (was an OverflowError, a 500).
        ("year one", "The time is before the person's arrival."),
        ("unknown rule", "Not a valid choice."),
        ("inactive rule", "Not a valid choice."),
        ("no rule", "This field is required."),
        ("empty description", "This field is required."),
        ("blank description", "This field is required."),
        ("unknown person", "There is no person with that case number."),
    ],
)
def test_a_bad_report_is_refused_with_the_reason_and_nothing_saved(
    app, catalogue, make_person, officer, case, message
):
    rules = catalogue().rules
    with app.app_context():
        db.session.execute(
            update(HouseRule).where(HouseRule.code == "TT-05").values(is_active=False)
        )
        db.session.commit()
    client, _officer_id = officer
    person = make_person()
    when = local_now().replace(tzinfo=None) - timedelta(hours=2)
    changes = {
        "future": {
            "occurred_at": (when + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"),
        },
        "before arrival": {
            "occurred_at": (when - timedelta(days=201)).strftime("%Y-%m-%dT%H:%M"),
        },
        "year one": {"occurred_at": "0001-01-01T00:00"},
        "unknown rule": {"rule_id": "9999"},
        "inactive rule": {"rule_id": str(rules["TT-05"])},
        "no rule": {"rule_id": "0"},
        "empty description": {"description": ""},
        "blank description": {"description": "   "},
        "unknown person": {"person": "KPG-1999-0001"},
    }[case]
    before = row_counts(app)
    response = client.post(
        "/conduct/new", data=report_form(person.case_number, rules["TT-01"], when, **changes)
    )
    assert response.status_code == 200
    assert message in messages(response)
    body = page(response)
    assert 'value="Wisma Lavender, gate"' in body  # the input is kept
    assert row_counts(app) == before


@pytest.mark.parametrize("role", ["viewer", "admin"])
def test_viewers_and_admins_do_not_report(app, catalogue, make_person, browser, role):
    rules = catalogue().rules
    person = make_person()
    client, user_id = browser(role)
    before = row_counts(app)
    assert client.get("/conduct/new").status_code == 403
    when = local_now().replace(tzinfo=None) - timedelta(hours=2)
    response = client.post(
        "/conduct/new", data=report_form(person.case_number, rules["TT-01"], when)
    )
    assert response.status_code == 403
    assert row_counts(app) == before
    refusals = audit_events(app, "permission_denied")
    assert [json.loads(e.details)["permission"] for e in refusals] == ["violation.report"] * 2
    assert {e.actor_id for e in refusals} == {user_id}


# --- 3. the review steps -------------------------------------------------------------------------


def test_a_violation_page_holds_the_write_lock_only_to_record_its_view(
    app, make_violation, officer
):
    # SQLite's one write lock: taken for the view's audit event, not while the
    # page loads the violation and renders.
    client, officer_id = officer
    violation = make_violation(reporter=officer_id)
    _before, locked, after = around_one_write(
        sqlite_statements(app, client, f"/conduct/{violation.id}")
    )
    assert [s.split()[0] for s in locked] == [
        "SELECT",  # the chain head
        "INSERT",  # the view
        "UPDATE",  # the new head
    ]
    assert all(s.startswith("SELECT") for s in after)


def test_the_review_steps_record_who_and_when(app, make_violation, officer):
    client, officer_id = officer
    violation = make_violation(reporter=officer_id)
    detail = page(client.get(f"/conduct/{violation.id}"))
    assert "Not yet. The charge is made known first." in detail
    assert f'action="/conduct/{violation.id}/statement"' not in detail

    notified = post_and_follow(
        client,
        f"/conduct/{violation.id}/notify",
        {"notified_on": today(app).isoformat(), "language": "Pashto", "no_interpreter_needed": "y"},
    )
    assert "Recorded: the charge was made known." in messages(notified)
    review = section(notified, "review")
    assert f"On {shown(today(app))} in Pashto" in review
    assert "no interpreter needed" in review
    assert '<span class="tag" id="violation-status">Under review</span>' in page(notified)

    stated = post_and_follow(
        client,
        f"/conduct/{violation.id}/statement",
        {"statement": "I was at the clinic with my son.", "declined": ""},
    )
    assert "The statement has been recorded." in messages(stated)
    assert "I was at the clinic with my son." in section(stated, "review")

    evidenced = post_and_follow(
        client, f"/conduct/{violation.id}/evidence", {"evidence": "Gate log, 21:02 out."}
    )
    assert "The evidence has been recorded." in messages(evidenced)
    assert "Gate log, 21:02 out." in section(evidenced, "review")

    row = violation_row(app, violation.id)
    assert row["status"].value == "under_review"
    assert (row["charge_language"], row["charge_interpreter"]) == ("Pashto", "")
    for step in ("charge_notified", "statement_recorded", "evidence_recorded"):
        assert row[f"{step}_by_id"] == officer_id
        assert utcnow() - row[f"{step}_at"] < timedelta(minutes=5)
    with app.app_context():
        username = db.session.get(Violation, violation.id).reported_by.username
    assert section(evidenced, "review").count(username) == 3


def test_a_notification_with_an_interpreter_shows_the_name(app, make_violation, officer):
    client, officer_id = officer
    violation = make_violation(reporter=officer_id)
    response = post_and_follow(
        client,
        f"/conduct/{violation.id}/notify",
        {"notified_on": today(app).isoformat(), "language": "Rohingya", "interpreter": "Nur Alam"},
    )
    assert "interpreter: Nur Alam" in section(response, "review")
    assert violation_row(app, violation.id)["charge_interpreter"] == "Nur Alam"


@pytest.mark.parametrize(
    ("step", "url", "data", "message"),
    [
        (
            "reported",
            "notify",
            {"language": "Dari", "interpreter": "Nur Alam", "no_interpreter_needed": "y"},
            "Give the interpreter's name, or tick that none was needed (not both).",
        ),
        (
            "reported",
            "notify",
            {"language": "Dari"},
            "Give the interpreter's name, or tick that none was needed (not both).",
        ),
        (
            "reported",
            "notify",
            {"language": "", "no_interpreter_needed": "y"},
            "Language used: This field is required.",
        ),
        (
            "reported",
            "statement",
            {"statement": "I was at the clinic."},
            "Tell the person of the charge first; then record their statement.",
        ),
        (
            "notified",
            "statement",
            {"statement": "I was at the clinic.", "declined": "y"},
            "Write down the statement, or tick that the person declined (not both).",
        ),
        (
            "notified",
            "statement",
            {"statement": ""},
            "Write down the statement, or tick that the person declined (not both).",
        ),
        ("reported", "evidence", {"evidence": ""}, "Evidence considered: This field is required."),
    ],
)
def test_a_bad_review_step_is_refused_and_nothing_changes(
    app, make_violation, officer, step, url, data, message
):
    client, officer_id = officer
    violation = make_violation(step=step, reporter=officer_id)
    before, rows = violation_row(app, violation.id), row_counts(app)
    if url == "notify":
        data = {"notified_on": today(app).isoformat(), **data}
    response = post_and_follow(client, f"/conduct/{violation.id}/{url}", data)
    assert message in messages(response)
    assert violation_row(app, violation.id) == before
    assert row_counts(app) == rows


def test_a_viewer_takes_no_review_step(app, make_violation, browser):
    violation = make_violation()
    client, _viewer = browser("viewer")
    detail = page(client.get(f"/conduct/{violation.id}"))
    assert f'action="/conduct/{violation.id}/notify"' not in detail
    before = violation_row(app, violation.id)
    response = client.post(
        f"/conduct/{violation.id}/notify",
        data={"notified_on": today(app).isoformat(), "language": "Dari", "interpreter": "X"},
    )
    assert response.status_code == 403
    assert violation_row(app, violation.id) == before


# --- 4. deciding ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["officer", "viewer"])
def test_only_a_supervisor_opens_the_decision(app, make_violation, browser, role):
    client, user_id = browser(role)
    violation = make_violation(step="statement", reporter=user_id if role == "officer" else None)
    before = violation_row(app, violation.id)
    assert client.get(f"/conduct/{violation.id}/decide").status_code == 403
    response = client.post(f"/conduct/{violation.id}/decide", data=decision_form(app))
    assert response.status_code == 403
    assert violation_row(app, violation.id) == before
    refusals = audit_events(app, "permission_denied")
    assert len(refusals) == 2
    for event in refusals:
        details = json.loads(event.details)
        assert details["permission"] == "violation.decide"
        assert details["path"] == f"/conduct/{violation.id}/decide"
        assert event.actor_id == user_id
    assert "Awaiting a supervisor's decision." in section(
        client.get(f"/conduct/{violation.id}"), "decision"
    )


def test_the_reporter_cannot_decide_their_own_report(app, make_violation, supervisor):
    client, supervisor_id = supervisor
    violation = make_violation(step="statement", reporter=supervisor_id)
    text = "You reported this violation. Another supervisor must decide it."
    assert text in section(client.get(f"/conduct/{violation.id}"), "decision")
    before, rows = violation_row(app, violation.id), row_counts(app)
    opened = client.get(f"/conduct/{violation.id}/decide")
    assert opened.status_code == 302
    assert text in messages(client.get(opened.headers["Location"]))
    response = client.post(f"/conduct/{violation.id}/decide", data=decision_form(app))
    assert response.status_code == 302
    assert text in messages(client.get(response.headers["Location"]))
    assert violation_row(app, violation.id) == before
    assert row_counts(app) == rows


@pytest.mark.parametrize(
    ("step", "missing"),
    [
        (
            "reported",
            [
                "the charge has not been made known to the person",
                "the person's statement (or refusal) has not been recorded",
            ],
        ),
        ("notified", ["the person's statement (or refusal) has not been recorded"]),
    ],
)
def test_deciding_before_the_review_names_the_missing_steps(
    app, make_violation, supervisor, step, missing
):
    client, _supervisor_id = supervisor
    violation = make_violation(step=step)
    form = page(client.get(f"/conduct/{violation.id}/decide"))
    assert "It cannot be decided yet:" in form
    assert '<strong>Statement:</strong> <span class="prewrap">—</span>' in form
    for words in missing:
        assert f"<li>{words}</li>" in form.replace("&#39;", "'")
    before, rows = violation_row(app, violation.id), row_counts(app)
    response = client.post(f"/conduct/{violation.id}/decide", data=decision_form(app))
    assert response.status_code == 200
    assert f"It cannot be decided yet: {'; '.join(missing)}." in messages(response)
    assert violation_row(app, violation.id) == before
    assert row_counts(app) == rows


def test_an_upheld_restriction_is_decided_with_reasons(app, make_violation, supervisor):
    client, supervisor_id = supervisor
    violation = make_violation(step="statement", rule="TT-02")
    form = page(client.get(f"/conduct/{violation.id}/decide"))
    assert '<option value="privilege_restriction">Restriction of a privilege (≤ 7 d)' in form
    assert 'value="transfer_to_detention"' not in form
    ends = today(app) + timedelta(days=7)
    response = client.post(
        f"/conduct/{violation.id}/decide",
        data=decision_form(
            app,
            sanction="privilege_restriction",
            privilege="Evening outings",
            ends_on=ends.isoformat(),
        ),
    )
    assert response.status_code == 302
    detail = client.get(response.headers["Location"])
    assert "The decision has been recorded." in messages(detail)
    decision = section(detail, "decision")
    assert "Restriction of a privilege: Evening outings" in decision
    assert f"({shown(today(app))} – {shown(ends)})" in decision
    assert REASONS.replace("'", "&#39;") in decision
    assert ALTERNATIVES in decision
    assert f"appeal possible until {shown(today(app) + timedelta(days=14))}" in decision
    row = violation_row(app, violation.id)
    assert row["status"].value == "upheld"
    assert (row["decided_by_id"], row["decided_on"]) == (supervisor_id, today(app))
    assert (row["sanction_starts_on"], row["sanction_ends_on"]) == (today(app), ends)
    assert row["appeal_rights_told_on"] == today(app)


def test_a_dismissal_records_no_sanction(app, make_violation, supervisor):
    client, _supervisor_id = supervisor
    violation = make_violation(step="statement")
    response = client.post(
        f"/conduct/{violation.id}/decide",
        data=decision_form(app, outcome="dismissed", alternatives_considered=""),
    )
    assert response.status_code == 302
    detail = client.get(response.headers["Location"])
    assert '<span class="tag" id="violation-status">Dismissed</span>' in page(detail)
    assert "Sanction" not in section(detail, "decision")
    row = violation_row(app, violation.id)
    assert row["sanction"] is None and row["sanction_ends_on"] is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"reasons": ""}, "This field is required."),
        ({"reasons": "Because."}, "Write the reasons for the decision."),
        (
            {"alternatives_considered": ""},
            "Write down the alternatives considered before a sanction.",
        ),
        ({"sanction": ""}, "Choose one sanction from the rule's list."),
        ({"sanction": "transfer_to_detention", "ends_on": 5}, "Not a valid choice."),
        ({"sanction": "police_referral"}, "Not a valid choice."),
        ({"sanction": "corporal_punishment"}, "Not a valid choice."),
        ({"sanction": "reduced_food"}, "Not a valid choice."),
        (
            {"sanction": "privilege_restriction", "privilege": "Outings", "ends_on": 8},
            "Rule TT-02 allows Restriction of a privilege for at most 7 days (until {day7}).",
        ),
        (
            {"sanction": "privilege_restriction", "privilege": "Outings"},
            "Give the end (or review) date of the sanction.",
        ),
        (
            {"appeal_rights_told_on": ""},
            "Record the date the person was told of the right to appeal.",
        ),
    ],
)
def test_a_bad_decision_is_refused_and_nothing_changes(
    app, make_violation, supervisor, changes, message
):
    client, _supervisor_id = supervisor
    violation = make_violation(step="statement", rule="TT-02")
    day = today(app)
    if "ends_on" in changes:
        changes = {**changes, "ends_on": (day + timedelta(days=changes["ends_on"])).isoformat()}
    before, rows = violation_row(app, violation.id), row_counts(app)
    response = client.post(f"/conduct/{violation.id}/decide", data=decision_form(app, **changes))
    assert response.status_code == 200
    assert message.format(day7=day + timedelta(days=7)) in messages(response)
    if "reasons" not in changes:  # what the supervisor wrote is kept on the form
        assert REASONS in html.unescape(page(response))
    assert violation_row(app, violation.id) == before
    assert row_counts(app) == rows


def test_a_transfer_changes_custody_and_links_the_event(
    app, catalogue, make_person, make_violation, supervisor
):
    client, _supervisor_id = supervisor
    places = catalogue()
    person = make_person(status="community_housing")
    violation = make_violation(person, step="statement", rule="TT-01")
    form = page(client.get(f"/conduct/{violation.id}/decide"))
    assert f'<option value="{places.centre}">Blok A</option>' in form
    assert "Wisma Lavender</option>" not in form
    review_on = today(app) + timedelta(days=30)
    response = client.post(
        f"/conduct/{violation.id}/decide",
        data=decision_form(
            app,
            sanction="transfer_to_detention",
            ends_on=review_on.isoformat(),
            placement_id=str(places.centre),
        ),
    )
    assert response.status_code == 302
    detail = client.get(response.headers["Location"])
    decision = section(detail, "decision")
    assert f"Transferred to the centre on {shown(today(app))}" in decision
    assert f'href="/cases/{person.id}#custody"' in decision
    row = violation_row(app, violation.id)
    with app.app_context():
        event = db.session.get(CustodyEvent, row["transfer_event_id"])
        assert (event.person_id, event.status, event.placement_id) == (
            person.id,
            CustodyStatus.DETAINED,
            places.centre,
        )
    now = person_row(app, person.id)
    assert (now["custody_status"], now["placement_id"]) == (CustodyStatus.DETAINED, places.centre)
    timeline = section(client.get(f"/cases/{person.id}"), "custody")
    assert f"sanction for violation #{violation.id} (TT-01)" in timeline
    assert f"review by {review_on.isoformat()}" in timeline


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        (
            {"vulnerabilities": ["minor"], "date_of_birth": None, "age_years": 16},
            "community_housing",
            "Detention is not used as a sanction for a child or a pregnant woman.",
        ),
        (
            {"vulnerabilities": ["pregnant"], "sex": "female"},
            "community_housing",
            "Detention is not used as a sanction for a child or a pregnant woman.",
        ),
        ({}, "detained", "A transfer to the centre applies only to someone in community housing."),
    ],
)
def test_a_transfer_is_refused_for_the_vulnerable_or_those_not_in_housing(
    app, catalogue, make_person, make_violation, supervisor, fields, status, message
):
    client, _supervisor_id = supervisor
    places = catalogue()
    person = make_person(status=status, **fields)
    violation = make_violation(person, step="statement", rule="TT-01")
    before, rows = violation_row(app, violation.id), row_counts(app)
    person_before = person_row(app, person.id)
    response = client.post(
        f"/conduct/{violation.id}/decide",
        data=decision_form(
            app,
            sanction="transfer_to_detention",
            ends_on=(today(app) + timedelta(days=10)).isoformat(),
            placement_id=str(places.centre),
        ),
    )
    assert response.status_code == 200
    assert message in messages(response)
    assert violation_row(app, violation.id) == before
    assert person_row(app, person.id) == person_before
    assert row_counts(app) == rows


def test_a_decided_violation_is_read_only(app, make_violation, supervisor, officer):
    client, _supervisor_id = supervisor
    officer_client, officer_id = officer
    violation = make_violation(step="statement", reporter=officer_id)
    response = client.post(f"/conduct/{violation.id}/decide", data=decision_form(app))
    assert response.status_code == 302
    detail = page(client.get(f"/conduct/{violation.id}"))
    for step in ("notify", "statement", "evidence", "decide"):
        assert f'action="/conduct/{violation.id}/{step}"' not in detail
    before, rows = violation_row(app, violation.id), row_counts(app)
    read_only = "This violation has been decided; it can only be amended, with a reason."
    again = client.get(f"/conduct/{violation.id}/decide")
    assert again.status_code == 302
    assert read_only in messages(client.get(again.headers["Location"]))
    second = post_and_follow(
        client,
        f"/conduct/{violation.id}/decide",
        decision_form(app, outcome="dismissed", alternatives_considered=""),
    )
    assert read_only in messages(second)
    for url, data in [
        ("evidence", {"evidence": "New footage."}),
        ("notify", {"notified_on": today(app).isoformat(), "language": "Dari", "interpreter": "X"}),
    ]:
        response = post_and_follow(officer_client, f"/conduct/{violation.id}/{url}", data)
        assert read_only in messages(response)
    assert violation_row(app, violation.id) == before
    assert row_counts(app) == rows


# --- 5. appeals ----------------------------------------------------------------------------------


def test_an_appeal_after_the_deadline_is_refused(app, make_violation, supervisor):
    client, _supervisor_id = supervisor
    violation = make_violation(step="decided")
    decided = today(app) - timedelta(days=15)
    with app.app_context():
        db.session.execute(
            update(Violation)
            .where(Violation.id == violation.id)
            .values(decided_on=decided, sanction_starts_on=decided, sanction_ends_on=decided)
        )
        db.session.commit()
    before = violation_row(app, violation.id)
    response = post_and_follow(
        client,
        f"/conduct/{violation.id}/appeal",
        {"appealed_on": today(app).isoformat(), "grounds": "I was not told in my language."},
    )
    deadline = decided + timedelta(days=14)
    assert (
        f"The appeal came after the deadline ({deadline}, 14 days after the decision)."
        in messages(response)
    )
    assert violation_row(app, violation.id) == before


def test_an_overturned_transfer_restores_custody(
    app, catalogue, make_person, make_violation, supervisor, browser
):
    client, decider_id = supervisor
    places = catalogue()
    person = make_person(status="community_housing", placement=places.other_housing)
    violation = make_violation(
        person,
        step="decided",
        decider=decider_id,
        sanction="transfer_to_detention",
        ends_on=today(app) + timedelta(days=20),
    )
    transfer_id = violation.transfer_event_id
    recorded = post_and_follow(
        client,
        f"/conduct/{violation.id}/appeal",
        {"appealed_on": today(app).isoformat(), "grounds": "Someone else left the site."},
    )
    assert "The appeal has been recorded." in messages(recorded)
    appeal = section(recorded, "appeal")
    assert "You decided this violation. Another supervisor must decide the appeal." in appeal
    assert f'action="/conduct/{violation.id}/appeal/decide"' not in appeal

    before, rows = violation_row(app, violation.id), row_counts(app)
    refused = post_and_follow(
        client,
        f"/conduct/{violation.id}/appeal/decide",
        {"outcome": "appeal_overturned", "reasons": "I was wrong about the CCTV."},
    )
    assert "You decided this violation. Another supervisor must decide the appeal." in messages(
        refused
    )
    assert violation_row(app, violation.id) == before
    assert row_counts(app) == rows

    other, other_id = browser("supervisor")
    decided = post_and_follow(
        other,
        f"/conduct/{violation.id}/appeal/decide",
        {"outcome": "appeal_overturned", "reasons": "The CCTV shows someone else at the gate."},
    )
    assert "The appeal decision has been recorded." in messages(decided)
    assert "Appeal: decision overturned" in page(decided)
    assert "The earlier custody status was restored." in section(decided, "appeal")
    row = violation_row(app, violation.id)
    assert row["status"].value == "appeal_overturned"
    assert row["appeal_decided_by_id"] == other_id
    assert row["transfer_event_id"] == transfer_id
    now = person_row(app, person.id)
    assert (now["custody_status"], now["placement_id"]) == (
        CustodyStatus.COMMUNITY_HOUSING,
        places.other_housing,
    )
    with app.app_context():
        events = db.session.scalars(
            select(CustodyEvent)
            .where(CustodyEvent.person_id == person.id)
            .order_by(CustodyEvent.id)
        ).all()
        assert [(e.status, e.placement_id) for e in events] == [
            (CustodyStatus.COMMUNITY_HOUSING, places.other_housing),
            (CustodyStatus.DETAINED, places.centre),
            (CustodyStatus.COMMUNITY_HOUSING, places.other_housing),
        ]
        assert events[1].id == transfer_id and events[2].id == row["restore_event_id"]
    timeline = section(other.get(f"/cases/{person.id}"), "custody")
    # The transfer stays in the history (its reason in the decider's language).
    assert f"#{violation.id} (TT-01)" in timeline
    assert f"Transfer overturned on appeal (violation #{violation.id})" in timeline


def test_an_overturned_transfer_that_cannot_be_undone_warns_the_supervisor(
    app, catalogue, make_person, make_violation, supervisor
):
    client, _supervisor_id = supervisor
    places = catalogue()
    person = make_person(status="community_housing", placement=places.other_housing)
    violation = make_violation(
        person,
        step="decided",
        sanction="transfer_to_detention",
        ends_on=today(app) + timedelta(days=9),
    )
    with app.app_context():
        db.session.execute(
            update(Placement).where(Placement.id == places.other_housing).values(is_active=False)
        )
        db.session.commit()
    post_and_follow(
        client,
        f"/conduct/{violation.id}/appeal",
        {"appealed_on": today(app).isoformat(), "grounds": "Someone else."},
    )
    response = post_and_follow(
        client,
        f"/conduct/{violation.id}/appeal/decide",
        {"outcome": "appeal_overturned", "reasons": "The CCTV shows someone else."},
    )
    shown_messages = messages(response)
    assert "The appeal decision has been recorded." in shown_messages
    assert any(
        m.startswith("The decision is overturned, but the earlier custody could not be restored")
        for m in shown_messages
    )
    assert person_row(app, person.id)["custody_status"] is CustodyStatus.DETAINED
    assert violation_row(app, violation.id)["status"].value == "appeal_overturned"


def test_an_upheld_appeal_keeps_the_sanction(app, make_violation, supervisor):
    client, _supervisor_id = supervisor
    violation = make_violation(step="decided")
    post_and_follow(
        client,
        f"/conduct/{violation.id}/appeal",
        {"appealed_on": today(app).isoformat(), "grounds": "Too harsh."},
    )
    response = post_and_follow(
        client,
        f"/conduct/{violation.id}/appeal/decide",
        {"outcome": "appeal_upheld", "reasons": "A verbal warning is the mildest sanction."},
    )
    assert "Appeal: decision upheld" in section(response, "appeal")
    row = violation_row(app, violation.id)
    assert row["status"].value == "appeal_upheld"
    assert row["sanction"].value == "verbal_warning"


# --- 6. amendments -------------------------------------------------------------------------------


def test_an_amendment_is_shown_in_the_violation_history(app, make_violation, supervisor):
    client, supervisor_id = supervisor
    violation = make_violation(step="decided")
    response = post_and_follow(
        client,
        f"/conduct/{violation.id}/amend",
        {"field": "location", "value": "Wisma Lavender, back gate", "reason": "Misnamed gate."},
    )
    assert "The amendment has been recorded." in messages(response)
    history = section(response, "amendments")
    assert "<code>location</code>" in history
    assert "Wisma Lavender, gate" in history
    assert "Wisma Lavender, back gate" in history
    assert "Misnamed gate." in history
    assert violation_row(app, violation.id)["location"] == "Wisma Lavender, back gate"
    [event] = audit_events(app, "create", object_type="ViolationAmendment")
    assert (event.subject_type, event.subject_id, event.actor_id) == (
        "Person",
        str(violation.person_id),
        supervisor_id,
    )


def test_a_sanction_end_is_shortened_not_lengthened(app, make_violation, supervisor):
    client, _supervisor_id = supervisor
    ends = today(app) + timedelta(days=6)
    violation = make_violation(
        step="decided",
        rule="TT-02",
        sanction="privilege_restriction",
        privilege="Outings",
        ends_on=ends,
    )
    before, rows = violation_row(app, violation.id), row_counts(app)
    longer = post_and_follow(
        client,
        f"/conduct/{violation.id}/amend",
        {
            "field": "sanction_ends_on",
            "value": (ends + timedelta(days=1)).isoformat(),
            "reason": "More time.",
        },
    )
    assert "A sanction can be shortened by amendment, never lengthened." in messages(longer)
    assert violation_row(app, violation.id) == before
    assert row_counts(app) == rows
    shorter = (ends - timedelta(days=4)).isoformat()
    response = post_and_follow(
        client,
        f"/conduct/{violation.id}/amend",
        {"field": "sanction_ends_on", "value": shorter, "reason": "Good conduct."},
    )
    assert "The amendment has been recorded." in messages(response)
    history = section(response, "amendments")
    assert ends.isoformat() in history and shorter in history
    assert violation_row(app, violation.id)["sanction_ends_on"].isoformat() == shorter


@pytest.mark.parametrize(
    ("step", "data", "message"),
    [
        (
            "statement",
            {"field": "location", "value": "Gate 2", "reason": "Typo."},
            "This violation is not decided yet; correct it through the review steps.",
        ),
        (
            "decided",
            {"field": "location", "value": "Gate 2", "reason": ""},
            "Reason for the amendment: This field is required.",
        ),
        (
            "decided",
            {"field": "status", "value": "dismissed", "reason": "Wrong."},
            "Field: Not a valid choice.",
        ),
    ],
)
def test_a_bad_amendment_is_refused(app, make_violation, supervisor, step, data, message):
    client, _supervisor_id = supervisor
    violation = make_violation(step=step)
    before, rows = violation_row(app, violation.id), row_counts(app)
    response = post_and_follow(client, f"/conduct/{violation.id}/amend", data)
    assert message in messages(response)
    assert violation_row(app, violation.id) == before
    assert row_counts(app) == rows


def test_an_officer_cannot_amend(app, make_violation, officer):
    client, officer_id = officer
    violation = make_violation(step="decided", reporter=officer_id)
    assert "Amend (with a reason)" not in page(client.get(f"/conduct/{violation.id}"))
    before, rows = violation_row(app, violation.id), row_counts(app)
    response = client.post(
        f"/conduct/{violation.id}/amend",
        data={"field": "location", "value": "Gate 2", "reason": "Typo."},
    )
    assert response.status_code == 403
    assert violation_row(app, violation.id) == before
    assert row_counts(app) == rows
    [refusal] = audit_events(app, "permission_denied")
    assert json.loads(refusal.details)["permission"] == "violation.amend"


# --- 7. the log ----------------------------------------------------------------------------------


def log_ids(response) -> list[int]:
    table = section_html(page(response), '<table id="log">')
    return [int(n) for n in re.findall(r'<a href="/conduct/(\d+)">', table)]


def queue_rows(response) -> list[str]:
    table = section(response, "queue")
    return re.findall(r"<tr[^>]*>\s*<td><a.*?</tr>", table, re.S)


def section_html(body: str, start_marker: str) -> str:
    start = body.index(start_marker)
    return body[start : body.index("</table>", start)]


def test_the_person_page_shows_an_officer_only_the_violations_they_reported(
    app, make_person, make_violation, browser
):
    # Each role's statement is built once per process: asked in turn, officer,
    # supervisor, another officer, each page still shows what its reader may see.
    person = make_person()
    first, first_id = browser("officer")
    second, second_id = browser("officer")
    supervisor, _supervisor_id = browser("supervisor")
    firsts = make_violation(person, reporter=first_id)
    seconds = make_violation(person, reporter=second_id)

    def shown(client) -> list[int]:
        table = section_html(section(client.get(f"/cases/{person.id}"), "conduct"), "<table>")
        return sorted(int(n) for n in re.findall(r'<a href="/conduct/(\d+)">', table))

    assert shown(first) == [firsts.id]
    assert shown(supervisor) == sorted([firsts.id, seconds.id])
    assert shown(second) == [seconds.id]
    assert shown(first) == [firsts.id]


def test_officers_see_only_what_they_reported(app, make_violation, browser):
    client, officer_id = browser("officer")
    mine = make_violation(reporter=officer_id)
    theirs = make_violation()
    response = client.get("/conduct/")
    assert "You see the violations you reported." in page(response)
    assert log_ids(response) == [mine.id]
    assert client.get(f"/conduct/{mine.id}").status_code == 200
    assert client.get(f"/conduct/{theirs.id}").status_code == 403
    [refusal] = audit_events(app, "permission_denied")
    details = json.loads(refusal.details)
    assert (details["permission"], details["violation_id"]) == ("violation.view_all", theirs.id)
    assert refusal.actor_id == officer_id
    before = violation_row(app, theirs.id)
    response = client.post(
        f"/conduct/{theirs.id}/notify",
        data={"notified_on": today(app).isoformat(), "language": "Dari", "interpreter": "X"},
    )
    assert response.status_code == 403
    assert violation_row(app, theirs.id) == before


@pytest.mark.parametrize("role", ["supervisor", "viewer"])
def test_supervisors_and_viewers_see_every_violation(app, make_violation, browser, role):
    first, second = make_violation(), make_violation(step="decided")
    client, _user = browser(role)
    response = client.get("/conduct/")
    assert sorted(log_ids(response)) == sorted([first.id, second.id])
    assert "You see the violations you reported." not in page(response)
    assert client.get(f"/conduct/{first.id}").status_code == 200
    has_export = 'action="/conduct/export.csv"' in page(response)
    assert has_export is (role == "supervisor")


def test_the_log_filters(app, catalogue, make_person, make_violation, supervisor):
    client, _supervisor_id = supervisor
    places = catalogue()
    housed = make_person(status="community_housing", full_name="Halima Dirie")
    detained = make_person(status="detained", full_name="Omid Rostami")
    now = local_now().replace(tzinfo=None, second=0, microsecond=0)
    old = make_violation(housed, rule="TT-02", occurred_at=now - timedelta(days=10))
    fight = make_violation(
        detained, rule="TT-03", severity="serious", occurred_at=now - timedelta(hours=1)
    )
    upheld = make_violation(housed, step="decided", occurred_at=now - timedelta(days=2))
    cutoff = (now - timedelta(days=3)).date().isoformat()
    expectations = [
        ("", [fight.id, upheld.id, old.id]),
        ("?status=upheld", [upheld.id]),
        ("?status=reported&status=upheld", [fight.id, upheld.id, old.id]),
        (f"?date_from={cutoff}", [fight.id, upheld.id]),
        (f"?date_to={cutoff}", [old.id]),
        (f"?rule_id={places.rules['TT-03']}", [fight.id]),
        ("?severity=serious", [fight.id]),
        (f"?placement_id={places.housing}", [upheld.id, old.id]),
        ("?person=halima", [upheld.id, old.id]),
        (f"?person={detained.case_number}", [fight.id]),
    ]
    empty_form = "?date_from=&date_to=&rule_id=0&severity=&placement_id=0&person="
    expectations.append((empty_form, [fight.id, upheld.id, old.id]))
    expectations.append((f"{empty_form}&status=reported", [fight.id, old.id]))
    for query, expected in expectations:
        response = client.get(f"/conduct/{query}")
        assert log_ids(response) == expected, query
        assert messages(response) == [], query
    # Dates at the calendar's edges bound nothing (year 1 east of UTC was a 500).
    edges = client.get("/conduct/?date_from=0001-01-01&date_to=9999-12-31")
    assert edges.status_code == 200
    assert log_ids(edges) == [fight.id, upheld.id, old.id]
    assert messages(edges) == []
    bad = client.get(f"/conduct/?date_from={today(app)}&date_to={today(app) - timedelta(days=1)}")
    assert "Some filters were not valid and were not applied." in messages(bad)
    assert "The end date is before the start date." in messages(bad)


def test_the_queue_is_oldest_first_with_overdue_marked(app, make_violation, supervisor):
    client, _supervisor_id = supervisor
    recent = make_violation(step="notified")
    stale = make_violation()
    make_violation(step="decided")
    with app.app_context():
        db.session.execute(
            update(Violation)
            .where(Violation.id == stale.id)
            .values(reported_at=utcnow() - timedelta(days=8))
        )
        db.session.commit()
    response = client.get("/conduct/")
    rows = queue_rows(response)
    assert len(rows) == 2
    assert f'<a href="/conduct/{stale.id}">' in rows[0]
    assert 'class="overdue"' in rows[0] and "overdue (over 7 days)" in rows[0]
    assert f'<a href="/conduct/{recent.id}">' in rows[1]
    assert "overdue" not in rows[1]
    assert "review overdue" in page(client.get(f"/conduct/{stale.id}"))
    assert "review overdue" not in page(client.get(f"/conduct/{recent.id}"))


def test_the_log_counts_each_status(app, make_violation, supervisor):
    client, _supervisor_id = supervisor
    make_violation()
    make_violation(step="notified")
    make_violation(step="statement")
    make_violation(step="decided", outcome="dismissed")
    body = section(client.get("/conduct/"), "status-counts").split("</ul>")[0]
    counted = dict(
        (label, int(number))
        for number, label in re.findall(r'<span class="count">(\d+)</span> ([^<]+)</a>', body)
    )
    assert counted == {
        "Reported": 1,
        "Under review": 2,
        "Upheld": 0,
        "Dismissed": 1,
        "Appealed": 0,
        "Appeal: decision upheld": 0,
        "Appeal: decision overturned": 0,
    }


EXPORT_HEADER = [
    "#",
    "When",
    "Case number",
    "Name",
    "Rule",
    "Severity",
    "Status",
    "Where",
    "Reported by",
    "Decided on",
    "Sanction",
    "Sanction ends",
]


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="violations-')
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))


def test_the_export_is_formula_safe_and_carries_only_the_log_columns(
    app, make_person, make_violation, supervisor
):
    client, supervisor_id = supervisor
    person = make_person()
    locations = ["=HYPERLINK(1)", "+62 gate", "-1 floor", "@SUM(A1)"]
    made = [
        make_violation(person, location=location, description=f"=cmd|' /C calc'!A{n}")
        for n, location in enumerate(locations)
    ]
    decided = make_violation(person, step="decided", location="Kitchen")
    with app.app_context():
        db.session.execute(
            update(Violation)
            .where(Violation.id == decided.id)
            .values(evidence="Secret CCTV notes", statement="My private account")
        )
        db.session.commit()
    response = client.post("/conduct/export.csv", data={}, buffered=False)
    assert response.is_streamed
    rows = read_csv(response)
    assert rows[0] == EXPORT_HEADER
    assert len(rows) == 6
    by_id = {int(row[0]): row for row in rows[1:]}
    for violation, location in zip(made, locations, strict=True):
        assert by_id[violation.id][7] == "'" + location
        assert by_id[violation.id][2] == person.case_number
        assert by_id[violation.id][6] == "Reported"
    decided_row = by_id[decided.id]
    assert decided_row[6] == "Upheld" and decided_row[10] == "Verbal warning"
    assert decided_row[9] == today(app).isoformat()
    text = response.get_data().decode("utf-8-sig")
    for private in ("calc", "Secret CCTV", "My private account", REASONS, ALTERNATIVES):
        assert private not in text
    [event] = audit_events(app, "export")
    assert event.actor_id == supervisor_id and event.object_type == "ViolationLog"
    assert json.loads(event.details)["rows"] == 5


def test_the_export_follows_the_filters(app, make_violation, supervisor):
    client, _supervisor_id = supervisor
    make_violation()
    upheld = make_violation(step="decided")
    rows = read_csv(client.post("/conduct/export.csv", data={"status": "upheld"}))
    assert [int(row[0]) for row in rows[1:]] == [upheld.id]
    [event] = audit_events(app, "export")
    details = json.loads(event.details)
    assert details["rows"] == 1 and details["filters"] == {"statuses": ["upheld"]}


def test_an_export_with_bad_filters_is_refused(app, make_violation, supervisor):
    client, _supervisor_id = supervisor
    make_violation()
    response = client.post("/conduct/export.csv", data={"date_from": "yesterday"})
    assert response.status_code == 302
    assert "From: Not a valid date value." in messages(client.get(response.headers["Location"]))
    assert audit_events(app, "export") == []


@pytest.mark.parametrize("role", ["officer", "viewer"])
def test_only_supervisors_export(app, make_violation, browser, role):
    client, user_id = browser(role)
    make_violation(reporter=user_id if role == "officer" else None)
    response = client.post("/conduct/export.csv", data={})
    assert response.status_code == 403
    assert audit_events(app, "export") == []
    [refusal] = audit_events(app, "permission_denied")
    assert json.loads(refusal.details)["permission"] == "export.violations"


# --- 8. the person page and the people list ------------------------------------------------------


def test_the_person_page_lists_violations_and_the_list_shows_an_active_sanction(
    app, make_person, make_violation, browser
):
    person, other = make_person(), make_person()
    ends = today(app) + timedelta(days=5)
    running = make_violation(
        person,
        step="decided",
        rule="TT-02",
        sanction="privilege_restriction",
        privilege="Outings",
        ends_on=ends,
    )
    pending = make_violation(person, rule="TT-06")
    make_violation(other, step="decided", outcome="dismissed")
    client, _viewer = browser("viewer")
    conduct = section(client.get(f"/cases/{person.id}"), "conduct")
    assert f'<a href="/conduct/{running.id}">' in conduct
    assert f'<a href="/conduct/{pending.id}">' in conduct
    running_row = conduct[conduct.index(f"/conduct/{running.id}") :].split("</tr>")[0]
    assert "Upheld" in running_row
    assert f"Restriction of a privilege ({shown(today(app))} – {shown(ends)})" in running_row
    assert "tag-sanction" in running_row
    pending_row = conduct[conduct.index(f"/conduct/{pending.id}") :].split("</tr>")[0]
    assert "Reported" in pending_row and "tag-sanction" not in pending_row
    people = page(client.get("/cases/"))
    tag = f'<span class="tag tag-sanction">Restriction of a privilege until {ends.isoformat()}'
    assert people.count("tag-sanction") == 1
    person_row_html = people[people.index(f'<a href="/cases/{person.id}">') :].split("</tr>")[0]
    assert tag in person_row_html


def test_an_ended_sanction_is_not_shown_on_the_people_list(
    app, make_person, make_violation, browser
):
    person = make_person()
    violation = make_violation(
        person,
        step="decided",
        rule="TT-02",
        sanction="privilege_restriction",
        privilege="Outings",
        ends_on=today(app) + timedelta(days=2),
    )
    with app.app_context():
        past = local_today() - timedelta(days=1)
        db.session.execute(
            update(Violation)
            .where(Violation.id == violation.id)
            .values(sanction_starts_on=past - timedelta(days=3), sanction_ends_on=past)
        )
        db.session.commit()
    client, _viewer = browser("viewer")
    assert "tag-sanction" not in page(client.get("/cases/"))


# --- 9. audit and nothing deleted ----------------------------------------------------------------


def test_an_unknown_violation_is_not_found(app, supervisor):
    client, _supervisor_id = supervisor
    assert client.get("/conduct/4242").status_code == 404
    assert client.get("/conduct/4242/decide").status_code == 404
    assert client.post("/conduct/4242/notify", data={}).status_code == 404


def test_violation_pages_are_audited_and_kept_private(app, make_violation, supervisor):
    client, supervisor_id = supervisor
    violation = make_violation()
    response = client.get(f"/conduct/{violation.id}")
    assert response.headers["Cache-Control"] == "no-store"
    [view] = audit_events(app, "view", object_type="Violation")
    assert (view.subject_type, view.subject_id, view.actor_id) == (
        "Person",
        str(violation.person_id),
        supervisor_id,
    )
    created = audit_events(app, "create", object_type="Violation")
    assert [(e.subject_type, e.subject_id) for e in created] == [
        ("Person", str(violation.person_id))
    ]


def test_no_route_deletes_anything(app, make_violation, supervisor):
    client, _supervisor_id = supervisor
    violation = make_violation(step="decided")
    conduct_rules = [
        rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("conduct.")
    ]
    assert conduct_rules
    for rule in conduct_rules:
        assert "DELETE" not in rule.methods
        assert "delete" not in rule.endpoint and "remove" not in rule.endpoint
    assert client.delete(f"/conduct/{violation.id}").status_code == 405
    assert count(app, Violation) == 1
    assert count(app, Person) == 1
