"""The rules of due process for house-rule violations, called directly."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import StatementError

from rudenim.audit.context import Actor, acting_as
from rudenim.audit.models import AuditEvent
from rudenim.cases.models import CustodyEvent, CustodyStatus, Placement
from rudenim.cases.services import CustodyData, record_custody_change
from rudenim.clock import local_now, local_today, to_local, utcnow
from rudenim.conduct import forms, services
from rudenim.conduct.models import (
    HouseRule,
    RuleSanction,
    RulesExplanation,
    Sanction,
    Violation,
    ViolationAmendment,
    ViolationStatus,
)
from rudenim.errors import DomainError, IllegalTransition, PermissionDenied
from tests.conduct.conftest import CONDUCT_TABLES, FORBIDDEN


@pytest.fixture(autouse=True)
def english(app):
    """Services speak the interface's default language (Indonesian) when no one
    is signed in; these tests read their messages in English."""
    app.config["BABEL_DEFAULT_LOCALE"] = "en"


def counts(db) -> dict[str, int]:
    return {
        model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
        for model in CONDUCT_TABLES
    }


def columns(obj) -> dict:
    return {attr.key: getattr(obj, attr.key) for attr in inspect(obj).mapper.column_attrs}


@pytest.fixture
def unchanged(db):
    """Snapshot an object and the row counts; ``check()`` asserts nothing moved."""

    def _take(obj):
        before, rows = columns(obj), counts(db)

        def check():
            assert columns(obj) == before
            assert counts(db) == rows
            assert not db.session.dirty

        return check

    return _take


def local_input(moment: datetime) -> datetime:
    """A moment as the naive local time a user types."""
    return to_local(moment).replace(tzinfo=None)


def report_data(**changes) -> services.ReportData:
    values = {
        "occurred_at": local_input(utcnow() - timedelta(hours=2)),
        "location": "Wisma Lavender, kitchen",
        "description": "Shouted at the cook and threw a plate.",
        "witnesses": "The cook",
        "severity": "moderate",
    }
    values.update(changes)
    return services.ReportData(**values)


def decision(**changes) -> services.DecisionData:
    values = {
        "outcome": "upheld",
        "reasons": "The statement and the guard's report agree on what happened.",
        "alternatives_considered": "A mediated talk with the site coordinator.",
        "sanction": "verbal_warning",
        "appeal_rights_told_on": local_today(),
    }
    values.update(changes)
    return services.DecisionData(**values)


# --- the catalogue -------------------------------------------------------------------------------


def test_the_starting_catalogue_loads_once(db, catalogue):
    first = services.load_catalogue()
    assert first == {"house rules": 6}
    assert services.load_catalogue() == {"house rules": 0}
    rules = {rule.code: rule for rule in db.session.scalars(select(HouseRule))}
    assert sorted(rules) == ["TT-01", "TT-02", "TT-03", "TT-04", "TT-05", "TT-06"]
    assert rules["TT-02"].title_en == "Curfew breach"
    assert rules["TT-03"].is_criminal and not rules["TT-01"].is_criminal
    assert rules["TT-02"].allowed(Sanction.PRIVILEGE_RESTRICTION).max_days == 7
    assert rules["TT-01"].allowed(Sanction.TRANSFER_TO_DETENTION).max_days == 30
    assert rules["TT-01"].allowed(Sanction.POLICE_REFERRAL) is None
    for rule in rules.values():
        for row in rule.sanctions:
            assert (row.max_days is not None) == row.sanction.has_duration
            if row.sanction is Sanction.POLICE_REFERRAL:
                assert rule.is_criminal


def test_the_reference_loader_keeps_what_the_admin_changed(db, catalogue):
    ids = catalogue()
    rule = db.session.get(HouseRule, ids.rules["TT-02"])
    services.save_rule(
        rule,
        code="TT-02",
        title_id="Melanggar jam malam",
        title_en="Breaking the curfew",
        sanctions={"verbal_warning": None},
    )
    db.session.commit()
    assert catalogue().rules == ids.rules
    db.session.expire_all()
    assert rule.title_en == "Breaking the curfew"
    assert [row.sanction for row in rule.sanctions] == [Sanction.VERBAL_WARNING]


def test_only_the_five_sanctions_exist():
    assert {sanction.value for sanction in Sanction} == {
        "verbal_warning",
        "written_warning",
        "privilege_restriction",
        "transfer_to_detention",
        "police_referral",
    }


def test_no_forbidden_punishment_is_named_in_the_schema_or_any_choice(app, db):
    names = set()
    for table in db.metadata.tables.values():
        names.add(table.name)
        for column in table.columns:
            names.add(column.name)
            names.update(getattr(column.type, "enums", None) or [])
    database = inspect(db.engine)
    for table in database.get_table_names():
        names.add(table)
        names.update(column["name"] for column in database.get_columns(table))
    with app.test_request_context():
        choices = {value for value, _label in forms.sanction_choices()}
        rule_form_fields = {field.name for field in forms.RuleForm(meta={"csrf": False})}
    assert choices == {sanction.value for sanction in Sanction}
    everything = {name.lower() for name in names | choices | rule_form_fields}
    for word in (*FORBIDDEN, "punish", "corporal", "food", "restraint", "family_contact"):
        assert not any(word in name for name in everything), word


@pytest.mark.parametrize("name", FORBIDDEN)
def test_a_rule_cannot_allow_a_forbidden_punishment(db, name):
    before = counts(db)
    with pytest.raises(DomainError) as caught:
        services.save_rule(
            None,
            code="TT-99",
            title_id="Uji",
            title_en="Test",
            sanctions={"verbal_warning": None, name: 3},
        )
    assert str(caught.value) == f"{name} is not a sanction this system knows."
    assert counts(db) == before


@pytest.mark.parametrize("name", ["corporal_punishment", "family_contact_ban"])
def test_the_database_refuses_a_forbidden_punishment_written_past_the_rules(db, catalogue, name):
    rule_id = catalogue().rules["TT-01"]
    db.session.add(RuleSanction(rule_id=rule_id, sanction=name, max_days=None))
    with pytest.raises(StatementError):
        db.session.flush()
    db.session.rollback()
    stored = db.session.scalars(select(RuleSanction.sanction)).all()
    assert name not in {str(value) for value in stored}


def test_police_referral_only_on_a_criminal_rule(db):
    with pytest.raises(DomainError) as caught:
        services.save_rule(
            None,
            code="TT-20",
            title_id="Berisik",
            title_en="Noise",
            is_criminal=False,
            sanctions={"verbal_warning": None, "police_referral": None},
        )
    assert (
        str(caught.value) == "Referral to the police is only for rules that are criminal matters."
    )
    assert db.session.scalar(select(func.count()).select_from(HouseRule)) == 0
    rule = services.save_rule(
        None,
        code="tt-20",
        title_id="Mencuri",
        title_en="Theft",
        is_criminal=True,
        sanctions={"written_warning": None, "police_referral": None},
    )
    assert rule.code == "TT-20"
    assert {row.sanction for row in rule.sanctions} == {
        Sanction.WRITTEN_WARNING,
        Sanction.POLICE_REFERRAL,
    }


@pytest.mark.parametrize("sanction", ["privilege_restriction", "transfer_to_detention"])
@pytest.mark.parametrize("days", [None, 0, 366])
def test_a_sanction_with_a_duration_needs_its_longest_duration(db, sanction, days):
    label = services.sanction_label(sanction)
    with pytest.raises(DomainError) as caught:
        services.save_rule(
            None, code="TT-21", title_id="Uji", title_en="Test", sanctions={sanction: days}
        )
    assert str(caught.value) == f"{label} needs a longest duration between 1 and 365 days."
    assert db.session.scalar(select(func.count()).select_from(RuleSanction)) == 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"code": " "}, "Give the rule a code of up to 16 characters."),
        ({"code": "X" * 17}, "Give the rule a code of up to 16 characters."),
        ({"title_en": ""}, "Give the rule a title in Indonesian and in English."),
        ({"sanctions": {}}, "Allow at least one sanction."),
        ({"code": "tt-01"}, "A rule with the code TT-01 exists."),
    ],
)
def test_a_rule_needs_code_titles_and_a_sanction(db, catalogue, changes, message):
    catalogue()
    before = counts(db)
    values = {
        "code": "TT-30",
        "title_id": "Uji",
        "title_en": "Test",
        "sanctions": {"verbal_warning": None},
    }
    values.update(changes)
    with pytest.raises(DomainError) as caught:
        services.save_rule(None, **values)
    assert str(caught.value) == message
    assert counts(db) == before


def test_changing_a_rule_changes_its_sanctions(db, catalogue):
    rule = db.session.get(HouseRule, catalogue().rules["TT-01"])
    services.save_rule(
        rule,
        code="TT-01",
        title_id=rule.title_id,
        title_en=rule.title_en,
        is_active=False,
        sanctions={"written_warning": None, "privilege_restriction": 10},
    )
    db.session.commit()
    db.session.expire_all()
    assert not rule.is_active
    assert {(row.sanction, row.max_days) for row in rule.sanctions} == {
        (Sanction.WRITTEN_WARNING, None),
        (Sanction.PRIVILEGE_RESTRICTION, 10),
    }
    assert rule not in services.active_rules()


# --- explaining the rules ------------------------------------------------------------------------


def test_the_rules_explanation_is_recorded_and_audited(db, make_person, make_staff):
    person, officer = make_person(), make_staff("officer")
    with acting_as(Actor(officer.id, officer.username)):
        explanation = services.record_rules_explanation(
            person, local_today(), " Dari ", "Rahim Azizi", actor=officer
        )
    db.session.commit()
    assert services.explanations_of(person) == [explanation]
    assert (explanation.language, explanation.interpreter) == ("Dari", "Rahim Azizi")
    assert explanation.explained_by_id == officer.id
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.object_type == "RulesExplanation")
    ).one()
    assert (event.action, event.subject_type, event.subject_id) == (
        "create",
        "Person",
        str(person.id),
    )
    assert event.actor_id == officer.id


@pytest.mark.parametrize(
    ("when", "language", "message"),
    [
        (None, "Dari", "The date is missing or in the future."),
        (1, "Dari", "The date is missing or in the future."),
        (-201, "Dari", "The date is before the person's arrival."),
        (0, "  ", "Name the language the rules were explained in."),
    ],
)
def test_a_rules_explanation_needs_a_real_date_and_a_language(
    db, make_person, make_staff, when, language, message
):
    person, officer = make_person(), make_staff("officer")
    before = counts(db)
    day = None if when is None else local_today() + timedelta(days=when)
    with pytest.raises(DomainError) as caught:
        services.record_rules_explanation(person, day, language, "", actor=officer)
    assert str(caught.value) == message
    assert counts(db) == before


# --- reporting -----------------------------------------------------------------------------------


def test_a_report_enters_the_log_as_reported(db, catalogue, make_person, make_staff):
    rules, person, officer = catalogue().rules, make_person(), make_staff("officer")
    typed = local_input(utcnow() - timedelta(hours=5)).replace(second=0, microsecond=0)
    violation = services.report_violation(
        person, report_data(rule_id=rules["TT-06"], occurred_at=typed), actor=officer
    )
    db.session.commit()
    db.session.expire_all()
    assert violation.status is ViolationStatus.REPORTED
    assert violation.person_id == person.id and violation.rule.code == "TT-06"
    assert violation.reported_by_id == officer.id
    assert to_local(violation.occurred_at).replace(tzinfo=None) == typed
    assert violation.occurred_at.utcoffset() == timedelta(0)
    assert violation.severity.value == "moderate"
    assert violation.decided_at is None and violation.sanction is None


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("future", "The time is in the future."),
        ("no time", "Enter when it happened."),
        ("unknown rule", "Choose a house rule from the catalogue."),
        ("no rule", "Choose a house rule from the catalogue."),
        ("inactive rule", "Choose a house rule from the catalogue."),
        ("empty description", "Describe what happened."),
        ("empty location", "Say where it happened."),
        ("before arrival", "The time is before the person's arrival."),
        ("bad severity", "Choose a severity."),
    ],
)
def test_a_bad_report_is_refused_and_nothing_is_saved(
    db, catalogue, make_person, make_staff, case, message
):
    rules, person, officer = catalogue().rules, make_person(), make_staff("officer")
    inactive = db.session.get(HouseRule, rules["TT-05"])
    inactive.is_active = False
    db.session.commit()
    changes = {
        "future": {"occurred_at": local_input(utcnow() + timedelta(minutes=10))},
        "no time": {"occurred_at": None},
        "unknown rule": {"rule_id": 9999},
        "no rule": {"rule_id": None},
        "inactive rule": {"rule_id": inactive.id},
        "empty description": {"description": "   "},
        "empty location": {"location": ""},
        "before arrival": {
            "occurred_at": datetime.combine(
                person.arrived_on - timedelta(days=1), datetime.min.time()
            )
        },
        "bad severity": {"severity": "catastrophic"},
    }[case]
    before = counts(db)
    with pytest.raises(DomainError) as caught:
        services.report_violation(
            person, report_data(**{"rule_id": rules["TT-01"], **changes}), actor=officer
        )
    assert str(caught.value) == message
    assert counts(db) == before


def test_a_report_on_the_arrival_day_is_accepted(db, catalogue, make_person, make_staff):
    rules, officer = catalogue().rules, make_staff("officer")
    person = make_person(arrived_on=local_today() - timedelta(days=1))
    arrival_morning = datetime.combine(person.arrived_on, datetime.min.time()).replace(hour=8)
    violation = services.report_violation(
        person, report_data(rule_id=rules["TT-02"], occurred_at=arrival_morning), actor=officer
    )
    assert violation.status is ViolationStatus.REPORTED


# --- the review steps ----------------------------------------------------------------------------


def test_notifying_the_charge_records_who_when_language_and_interpreter(
    db, make_violation, make_staff
):
    violation, officer = make_violation(), make_staff("officer")
    services.notify_charge(
        violation, local_today(), "Pashto", "", no_interpreter_needed=True, actor=officer
    )
    db.session.commit()
    assert violation.status is ViolationStatus.UNDER_REVIEW
    assert violation.charge_notified_on == local_today()
    assert (violation.charge_language, violation.charge_interpreter) == ("Pashto", "")
    assert violation.charge_notified_by_id == officer.id
    assert abs(violation.charge_notified_at - utcnow()) < timedelta(minutes=1)


@pytest.mark.parametrize(
    ("interpreter", "none_needed"),
    [("", False), ("Rahim Azizi", True), ("   ", False)],
)
def test_the_interpreter_or_the_none_needed_box_exactly_one(
    db, make_violation, make_staff, unchanged, interpreter, none_needed
):
    violation, officer = make_violation(), make_staff("officer")
    check = unchanged(violation)
    with pytest.raises(DomainError) as caught:
        services.notify_charge(
            violation,
            local_today(),
            "Dari",
            interpreter,
            no_interpreter_needed=none_needed,
            actor=officer,
        )
    assert str(caught.value) == (
        "Give the interpreter's name, or tick that none was needed (not both)."
    )
    check()
    assert violation.status is ViolationStatus.REPORTED


@pytest.mark.parametrize(
    ("days", "language", "message"),
    [
        (None, "Dari", "The date is missing or in the future."),
        (1, "Dari", "The date is missing or in the future."),
        (-3, "Dari", "The date is before the incident."),
        (0, " ", "Name the language the charge was explained in."),
    ],
)
def test_a_notification_needs_a_real_date_and_a_language(
    db, make_violation, make_staff, unchanged, days, language, message
):
    violation, officer = make_violation(), make_staff("officer")
    check = unchanged(violation)
    day = None if days is None else local_today() + timedelta(days=days)
    with pytest.raises(DomainError) as caught:
        services.notify_charge(
            violation, day, language, "", no_interpreter_needed=True, actor=officer
        )
    assert str(caught.value) == message
    check()


def test_the_charge_is_made_known_once(db, make_violation, make_staff, unchanged):
    violation, officer = make_violation(step="notified"), make_staff("officer")
    check = unchanged(violation)
    with pytest.raises(IllegalTransition) as caught:
        services.notify_charge(
            violation, local_today(), "Dari", "", no_interpreter_needed=True, actor=officer
        )
    assert str(caught.value) == f"The charge was already made known on {local_today()}."
    check()


def test_no_statement_before_the_charge_is_made_known(db, make_violation, make_staff, unchanged):
    violation, officer = make_violation(), make_staff("officer")
    check = unchanged(violation)
    with pytest.raises(IllegalTransition) as caught:
        services.record_statement(violation, "I was at the clinic.", declined=False, actor=officer)
    assert str(caught.value) == "Tell the person of the charge first; then record their statement."
    check()


@pytest.mark.parametrize(("statement", "declined"), [("", False), ("I was at the clinic.", True)])
def test_a_statement_or_a_refusal_exactly_one(
    db, make_violation, make_staff, unchanged, statement, declined
):
    violation, officer = make_violation(step="notified"), make_staff("officer")
    check = unchanged(violation)
    with pytest.raises(DomainError) as caught:
        services.record_statement(violation, statement, declined=declined, actor=officer)
    assert str(caught.value) == (
        "Write down the statement, or tick that the person declined (not both)."
    )
    check()


def test_a_statement_is_recorded_once_with_who_and_when(db, make_violation, make_staff, unchanged):
    violation, officer = make_violation(step="notified"), make_staff("officer")
    services.record_statement(violation, " I was at the clinic. ", declined=False, actor=officer)
    assert violation.statement == "I was at the clinic."
    assert not violation.statement_declined
    assert violation.statement_recorded_by_id == officer.id
    assert violation.statement_recorded_at is not None
    assert violation.status is ViolationStatus.UNDER_REVIEW
    check = unchanged(violation)
    with pytest.raises(IllegalTransition) as caught:
        services.record_statement(violation, "", declined=True, actor=officer)
    assert str(caught.value) == "The person's statement has already been recorded."
    check()


def test_a_declined_statement_is_recorded(db, make_violation, make_staff):
    violation, officer = make_violation(step="notified"), make_staff("officer")
    services.record_statement(violation, "", declined=True, actor=officer)
    assert violation.statement is None and violation.statement_declined
    assert services.missing_steps(violation) == []


def test_the_evidence_is_recorded_once(db, make_violation, make_staff, unchanged):
    violation, officer = make_violation(), make_staff("supervisor")
    check = unchanged(violation)
    with pytest.raises(DomainError) as caught:
        services.record_evidence(violation, "  ", actor=officer)
    assert str(caught.value) == "Describe the evidence considered."
    check()
    services.record_evidence(violation, "CCTV at the gate, 21:02.", actor=officer)
    assert violation.evidence == "CCTV at the gate, 21:02."
    assert violation.evidence_recorded_by_id == officer.id
    assert violation.evidence_recorded_at is not None
    assert violation.status is ViolationStatus.UNDER_REVIEW
    with pytest.raises(IllegalTransition, match="already been recorded"):
        services.record_evidence(violation, "More footage.", actor=officer)


# --- deciding ------------------------------------------------------------------------------------


def test_the_reporter_does_not_decide_their_own_report(db, make_violation, make_staff, unchanged):
    supervisor = make_staff("supervisor")
    violation = make_violation(step="statement", reporter=supervisor)
    check = unchanged(violation)
    assert not services.can_decide(violation, supervisor)
    with pytest.raises(PermissionDenied) as caught:
        services.decide_violation(violation, decision(), actor=supervisor)
    assert str(caught.value) == "You reported this violation. Another supervisor must decide it."
    check()


@pytest.mark.parametrize(
    ("step", "missing"),
    [
        (
            "reported",
            "the charge has not been made known to the person; "
            "the person's statement (or refusal) has not been recorded",
        ),
        ("notified", "the person's statement (or refusal) has not been recorded"),
    ],
)
def test_deciding_out_of_order_names_the_missing_steps(
    db, make_violation, make_staff, unchanged, step, missing
):
    violation, supervisor = make_violation(step=step), make_staff("supervisor")
    check = unchanged(violation)
    with pytest.raises(IllegalTransition) as caught:
        services.decide_violation(violation, decision(), actor=supervisor)
    assert str(caught.value) == f"It cannot be decided yet: {missing}."
    check()


def test_an_upheld_decision_records_reasons_sanction_and_appeal_rights(
    db, make_violation, make_staff
):
    violation, supervisor = make_violation(step="statement", rule="TT-02"), make_staff("supervisor")
    today = local_today()
    services.decide_violation(
        violation,
        decision(
            sanction="privilege_restriction",
            privilege="Evening outings",
            ends_on=today + timedelta(days=7),
        ),
        actor=supervisor,
    )
    db.session.commit()
    db.session.expire_all()
    assert violation.status is ViolationStatus.UPHELD
    assert violation.decided_by_id == supervisor.id and violation.decided_on == today
    assert violation.reasons.startswith("The statement and the guard's report")
    assert violation.alternatives_considered == "A mediated talk with the site coordinator."
    assert violation.sanction is Sanction.PRIVILEGE_RESTRICTION
    assert violation.sanction_privilege == "Evening outings"
    assert (violation.sanction_starts_on, violation.sanction_ends_on) == (
        today,
        today + timedelta(days=7),
    )
    assert violation.appeal_rights_told_on == today
    assert violation.transfer_event_id is None
    assert services.appeal_deadline(violation) == today + timedelta(days=14)


def test_a_dismissal_records_no_sanction(db, make_violation, make_staff):
    violation, supervisor = make_violation(step="statement"), make_staff("supervisor")
    services.decide_violation(
        violation,
        decision(outcome="dismissed", alternatives_considered="", ends_on=local_today()),
        actor=supervisor,
    )
    assert violation.status is ViolationStatus.DISMISSED
    assert violation.sanction is None
    assert violation.sanction_starts_on is None and violation.sanction_ends_on is None
    assert violation.reasons
    assert services.active_sanctions([violation.person_id]) == {}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"outcome": "guilty"}, "Choose upheld or dismissed."),
        ({"reasons": "Because."}, "Write the reasons for the decision."),
        (
            {"alternatives_considered": " "},
            "Write down the alternatives considered before a sanction.",
        ),
        ({"sanction": None}, "Choose one sanction from the rule's list."),
        ({"sanction": "reduced_food"}, "Choose one sanction from the rule's list."),
        ({"sanction": "corporal_punishment"}, "Choose one sanction from the rule's list."),
        (
            {"sanction": "transfer_to_detention", "ends_on": 5},
            "Rule TT-02 does not allow Transfer from community housing to the centre.",
        ),
        (
            {"sanction": "police_referral"},
            "Rule TT-02 does not allow Referral to the police.",
        ),
        (
            {"sanction": "privilege_restriction", "privilege": "Outings"},
            "Give the end (or review) date of the sanction.",
        ),
        (
            {"sanction": "privilege_restriction", "privilege": "Outings", "ends_on": 0},
            "The end date must be after today.",
        ),
        (
            {"sanction": "privilege_restriction", "privilege": "Outings", "ends_on": 8},
            "Rule TT-02 allows Restriction of a privilege for at most 7 days (until {day7}).",
        ),
        (
            {"sanction": "privilege_restriction", "ends_on": 3},
            "Name the privilege that is restricted.",
        ),
        (
            {"appeal_rights_told_on": None},
            "Record the date the person was told of the right to appeal.",
        ),
        ({"appeal_rights_told_on": 1}, "That date is in the future."),
        ({"appeal_rights_told_on": -2}, "That date is before the incident."),
    ],
)
def test_a_bad_decision_is_refused_and_changes_nothing(
    db, make_violation, make_staff, unchanged, changes, message
):
    violation, supervisor = make_violation(step="statement", rule="TT-02"), make_staff("supervisor")
    today = local_today()
    for key in ("ends_on", "appeal_rights_told_on"):
        if isinstance(changes.get(key), int):
            changes = {**changes, key: today + timedelta(days=changes[key])}
    check = unchanged(violation)
    with pytest.raises(DomainError) as caught:
        services.decide_violation(violation, decision(**changes), actor=supervisor)
    assert str(caught.value) == message.format(day7=today + timedelta(days=7))
    check()
    assert violation.status is ViolationStatus.UNDER_REVIEW


def test_a_restriction_may_run_exactly_its_longest_duration(db, make_violation, make_staff):
    violation, supervisor = make_violation(step="statement", rule="TT-02"), make_staff("supervisor")
    services.decide_violation(
        violation,
        decision(
            sanction="privilege_restriction",
            privilege="Outings",
            ends_on=local_today() + timedelta(days=7),
        ),
        actor=supervisor,
    )
    assert violation.sanction_ends_on == local_today() + timedelta(days=7)


def test_a_transfer_records_the_custody_change_on_the_timeline(
    db, catalogue, make_person, make_violation, make_staff
):
    places = catalogue()
    person = make_person(status="community_housing", placement=places.housing)
    violation = make_violation(person, step="statement", rule="TT-01")
    supervisor = make_staff("supervisor")
    review_on = local_today() + timedelta(days=30)
    services.decide_violation(
        violation,
        decision(sanction="transfer_to_detention", ends_on=review_on, placement_id=places.centre),
        actor=supervisor,
    )
    db.session.commit()
    db.session.expire_all()
    event = violation.transfer_event
    assert event is not None and event.id == violation.transfer_event_id
    assert event.person_id == person.id
    assert (event.status, event.placement_id) == (CustodyStatus.DETAINED, places.centre)
    assert event.effective_on == local_today()
    assert f"violation #{violation.id}" in event.reason and "TT-01" in event.reason
    assert event.recorded_by_id == supervisor.id
    assert (person.custody_status, person.placement_id) == (CustodyStatus.DETAINED, places.centre)
    assert [e.status for e in person.custody_events] == [
        CustodyStatus.DETAINED,
        CustodyStatus.COMMUNITY_HOUSING,
    ]


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        (
            {"vulnerabilities": ["minor"], "date_of_birth": None, "age_years": 16},
            "community_housing",
            "Detention is not used as a sanction for a child or a pregnant woman.",
        ),
        (
            {"vulnerabilities": ["unaccompanied_minor"], "date_of_birth": None, "age_years": 15},
            "community_housing",
            "Detention is not used as a sanction for a child or a pregnant woman.",
        ),
        (
            {"vulnerabilities": ["pregnant"], "sex": "female"},
            "community_housing",
            "Detention is not used as a sanction for a child or a pregnant woman.",
        ),
        ({}, "detained", "A transfer to the centre applies only to someone in community housing."),
        ({}, "hospital", "A transfer to the centre applies only to someone in community housing."),
    ],
)
def test_a_transfer_is_refused_for_the_vulnerable_and_for_those_not_in_housing(
    db, catalogue, make_person, make_violation, make_staff, unchanged, fields, status, message
):
    places = catalogue()
    person = make_person(status=status, **fields)
    violation = make_violation(person, step="statement", rule="TT-01")
    supervisor = make_staff("supervisor")
    check, person_before = unchanged(violation), columns(person)
    with pytest.raises(DomainError) as caught:
        services.decide_violation(
            violation,
            decision(
                sanction="transfer_to_detention",
                ends_on=local_today() + timedelta(days=10),
                placement_id=places.centre,
            ),
            actor=supervisor,
        )
    assert str(caught.value) == message
    check()
    assert columns(person) == person_before


@pytest.mark.parametrize("placement", [None, "housing"])
def test_a_transfer_names_a_block_of_the_centre(
    db, catalogue, make_violation, make_staff, unchanged, placement
):
    places = catalogue()
    violation, supervisor = make_violation(step="statement"), make_staff("supervisor")
    check = unchanged(violation)
    with pytest.raises(DomainError) as caught:
        services.decide_violation(
            violation,
            decision(
                sanction="transfer_to_detention",
                ends_on=local_today() + timedelta(days=10),
                placement_id=places.other_housing if placement else None,
            ),
            actor=supervisor,
        )
    assert str(caught.value) == "Choose the block or room in the centre for the transfer."
    check()


def test_a_decided_violation_is_read_only(db, make_violation, make_staff, unchanged):
    violation = make_violation(step="decided", sanction="written_warning")
    officer, supervisor = make_staff("officer"), make_staff("supervisor")
    check = unchanged(violation)
    read_only = "This violation has been decided; it can only be amended, with a reason."
    attempts = [
        lambda: services.notify_charge(
            violation, local_today(), "Dari", "", no_interpreter_needed=True, actor=officer
        ),
        lambda: services.record_statement(violation, "More to say.", declined=False, actor=officer),
        lambda: services.record_evidence(violation, "New footage.", actor=officer),
        lambda: services.decide_violation(
            violation, decision(outcome="dismissed"), actor=supervisor
        ),
    ]
    for attempt in attempts:
        with pytest.raises(IllegalTransition) as caught:
            attempt()
        assert str(caught.value) == read_only
    check()


# --- appeals -------------------------------------------------------------------------------------


def test_an_appeal_within_the_time_allowed_is_recorded(db, make_violation, make_staff):
    violation = make_violation(step="decided")
    supervisor = make_staff("supervisor")
    services.record_appeal(
        violation, local_today(), "I had permission from the guard.", actor=supervisor
    )
    assert violation.status is ViolationStatus.APPEALED
    assert violation.appealed_on == local_today()
    assert violation.appeal_grounds == "I had permission from the guard."
    assert violation.appeal_recorded_by_id == supervisor.id


@pytest.mark.parametrize(("appeal_days", "late_by"), [(14, 15), (3, 4)])
def test_an_appeal_after_the_deadline_is_refused(
    app, db, make_violation, make_staff, unchanged, appeal_days, late_by
):
    app.config["APPEAL_DAYS"] = appeal_days
    violation, supervisor = make_violation(step="decided"), make_staff("supervisor")
    decided = violation.decided_on
    last_day = decided + timedelta(days=appeal_days)
    check = unchanged(violation)
    late = decided + timedelta(days=late_by)
    with pytest.raises(DomainError) as caught:
        services.record_appeal(violation, late, "Late grounds.", actor=supervisor, today=late)
    assert str(caught.value) == (
        f"The appeal came after the deadline ({last_day}, {appeal_days} days after the decision)."
    )
    check()
    services.record_appeal(
        violation, last_day, "On the last day.", actor=supervisor, today=last_day
    )
    assert violation.status is ViolationStatus.APPEALED


@pytest.mark.parametrize(
    ("appealed", "grounds", "message"),
    [
        (None, "Grounds.", "The date is missing or in the future."),
        (1, "Grounds.", "The date is missing or in the future."),
        (-1, "Grounds.", "The appeal date is before the decision."),
        (0, " ", "Write down the grounds of the appeal."),
    ],
)
def test_a_bad_appeal_is_refused(
    db, make_violation, make_staff, unchanged, appealed, grounds, message
):
    violation, supervisor = make_violation(step="decided"), make_staff("supervisor")
    check = unchanged(violation)
    day = None if appealed is None else local_today() + timedelta(days=appealed)
    with pytest.raises(DomainError) as caught:
        services.record_appeal(violation, day, grounds, actor=supervisor)
    assert str(caught.value) == message
    check()


def test_only_an_upheld_decision_is_appealed_once(db, make_violation, make_staff, unchanged):
    supervisor = make_staff("supervisor")
    dismissed = make_violation(step="decided", outcome="dismissed")
    pending = make_violation(step="statement")
    for violation in (dismissed, pending):
        check = unchanged(violation)
        with pytest.raises(IllegalTransition) as caught:
            services.record_appeal(violation, local_today(), "Grounds.", actor=supervisor)
        assert str(caught.value) == "Only an upheld decision can be appealed, once."
        check()
    upheld = make_violation(step="decided")
    services.record_appeal(upheld, local_today(), "Grounds.", actor=supervisor)
    with pytest.raises(IllegalTransition, match="appealed, once"):
        services.record_appeal(upheld, local_today(), "Again.", actor=supervisor)


def test_the_decider_does_not_decide_the_appeal(db, make_violation, make_staff, unchanged):
    decider = make_staff("supervisor")
    violation = make_violation(step="decided", decider=decider)
    services.record_appeal(violation, local_today(), "I had permission.", actor=decider)
    check = unchanged(violation)
    with pytest.raises(PermissionDenied) as caught:
        services.decide_appeal(
            violation, "appeal_overturned", "The guard confirms permission.", actor=decider
        )
    assert str(caught.value) == (
        "You decided this violation. Another supervisor must decide the appeal."
    )
    check()
    assert violation.status is ViolationStatus.APPEALED


@pytest.mark.parametrize("outcome", ["appeal_upheld", "appeal_overturned"])
def test_another_supervisor_decides_the_appeal_with_reasons(
    db, make_violation, make_staff, outcome
):
    # A time-bound sanction: only those run (a warning is over when given).
    violation = make_violation(
        step="decided",
        sanction="privilege_restriction",
        privilege="Evening outings",
        ends_on=local_today() + timedelta(days=5),
    )
    other = make_staff("supervisor")
    services.record_appeal(violation, local_today(), "I had permission.", actor=other)
    warning = services.decide_appeal(
        violation, outcome, "The guard's log shows the permission slip.", actor=other
    )
    assert warning is None
    assert violation.status is ViolationStatus(outcome)
    assert violation.appeal_decided_by_id == other.id
    assert violation.appeal_decided_at is not None
    assert violation.appeal_reasons == "The guard's log shows the permission slip."
    assert violation.restore_event_id is None
    running = services.active_sanctions([violation.person_id])
    assert (violation.person_id in running) is (outcome == "appeal_upheld")


@pytest.mark.parametrize(
    ("outcome", "reasons", "message"),
    [
        ("overturned", "The guard confirms permission.", "Choose whether the decision is upheld"),
        ("appeal_overturned", "No.", "Write the reasons for the appeal decision."),
    ],
)
def test_a_bad_appeal_decision_is_refused(
    db, make_violation, make_staff, unchanged, outcome, reasons, message
):
    violation, other = make_violation(step="decided"), make_staff("supervisor")
    services.record_appeal(violation, local_today(), "Grounds.", actor=other)
    check = unchanged(violation)
    with pytest.raises(DomainError) as caught:
        services.decide_appeal(violation, outcome, reasons, actor=other)
    assert str(caught.value).startswith(message)
    check()


def test_an_appeal_is_decided_only_when_pending(db, make_violation, make_staff, unchanged):
    violation, other = make_violation(step="decided"), make_staff("supervisor")
    check = unchanged(violation)
    with pytest.raises(IllegalTransition) as caught:
        services.decide_appeal(violation, "appeal_upheld", "Long enough reasons.", actor=other)
    assert str(caught.value) == "There is no pending appeal."
    check()


def test_an_overturned_transfer_restores_custody_through_a_new_event(
    db, catalogue, make_person, make_violation, make_staff
):
    places = catalogue()
    person = make_person(status="community_housing", placement=places.other_housing)
    violation = make_violation(
        person,
        step="decided",
        sanction="transfer_to_detention",
        ends_on=local_today() + timedelta(days=30),
    )
    transfer_id = violation.transfer_event_id
    other = make_staff("supervisor")
    services.record_appeal(violation, local_today(), "I was not there.", actor=other)
    warning = services.decide_appeal(
        violation, "appeal_overturned", "The CCTV shows someone else.", actor=other
    )
    db.session.commit()
    db.session.expire_all()
    assert warning is None
    assert violation.status is ViolationStatus.APPEAL_OVERTURNED
    restore = violation.restore_event
    assert restore is not None and restore.id != transfer_id
    assert (restore.status, restore.placement_id) == (
        CustodyStatus.COMMUNITY_HOUSING,
        places.other_housing,
    )
    assert f"violation #{violation.id}" in restore.reason
    assert restore.recorded_by_id == other.id
    assert (person.custody_status, person.placement_id) == (
        CustodyStatus.COMMUNITY_HOUSING,
        places.other_housing,
    )
    history = db.session.scalars(
        select(CustodyEvent).where(CustodyEvent.person_id == person.id).order_by(CustodyEvent.id)
    ).all()
    assert [(e.id, e.status) for e in history] == [
        (history[0].id, CustodyStatus.COMMUNITY_HOUSING),
        (transfer_id, CustodyStatus.DETAINED),
        (restore.id, CustodyStatus.COMMUNITY_HOUSING),
    ]


def test_an_overturned_transfer_leaves_custody_that_moved_on(db, make_violation, make_staff):
    violation = make_violation(
        step="decided", sanction="transfer_to_detention", ends_on=local_today() + timedelta(days=9)
    )
    other = make_staff("supervisor")
    record_custody_change(
        violation.person,
        CustodyData("hospital", None, local_today(), "Taken ill."),
        actor=other,
    )
    services.record_appeal(violation, local_today(), "Grounds.", actor=other)
    warning = services.decide_appeal(
        violation, "appeal_overturned", "Long enough reasons.", actor=other
    )
    assert warning is None
    assert violation.status is ViolationStatus.APPEAL_OVERTURNED
    assert violation.restore_event_id is None
    assert violation.person.custody_status is CustodyStatus.HOSPITAL


def test_an_overturned_transfer_warns_when_the_old_site_has_closed(
    db, catalogue, make_person, make_violation, make_staff
):
    places = catalogue()
    person = make_person(status="community_housing", placement=places.other_housing)
    violation = make_violation(
        person,
        step="decided",
        sanction="transfer_to_detention",
        ends_on=local_today() + timedelta(days=9),
    )
    db.session.get(Placement, places.other_housing).is_active = False
    other = make_staff("supervisor")
    services.record_appeal(violation, local_today(), "Grounds.", actor=other)
    warning = services.decide_appeal(
        violation, "appeal_overturned", "Long enough reasons.", actor=other
    )
    assert warning == (
        "The decision is overturned, but the earlier custody could not be restored "
        "automatically (That placement does not exist.). Record the move on the person's page."
    )
    assert violation.status is ViolationStatus.APPEAL_OVERTURNED
    assert violation.restore_event_id is None
    assert person.custody_status is CustodyStatus.DETAINED


# --- amendments ----------------------------------------------------------------------------------


def test_an_amendment_keeps_the_old_value_and_the_reason(db, make_violation, make_staff):
    violation, supervisor = make_violation(step="decided"), make_staff("supervisor")
    old = violation.location
    with acting_as(Actor(supervisor.id, supervisor.username)):
        amendment = services.amend_violation(
            violation, "location", "Wisma Lavender, back gate", "The guard misnamed the gate.",
            actor=supervisor,
        )  # fmt: skip
    db.session.commit()
    db.session.expire_all()
    assert violation.location == "Wisma Lavender, back gate"
    assert (amendment.field, amendment.old_value, amendment.new_value) == (
        "location",
        old,
        "Wisma Lavender, back gate",
    )
    assert amendment.reason == "The guard misnamed the gate."
    assert amendment.amended_by_id == supervisor.id
    assert violation.amendments == [amendment]
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.object_type == "ViolationAmendment")
    ).one()
    assert (event.subject_type, event.subject_id) == ("Person", str(violation.person_id))


def test_a_sanction_end_date_is_shortened_never_lengthened(
    db, make_violation, make_staff, unchanged
):
    today = local_today()
    violation = make_violation(
        step="decided",
        rule="TT-02",
        sanction="privilege_restriction",
        privilege="Outings",
        ends_on=today + timedelta(days=5),
    )
    supervisor = make_staff("supervisor")
    check = unchanged(violation)
    with pytest.raises(DomainError) as caught:
        services.amend_violation(
            violation,
            "sanction_ends_on",
            (today + timedelta(days=6)).isoformat(),
            "Lengthen it.",
            actor=supervisor,
        )
    assert str(caught.value) == "A sanction can be shortened by amendment, never lengthened."
    for value, message in [
        ((today - timedelta(days=1)).isoformat(), "The end date is before the sanction started."),
        ("next week", "Give the date as YYYY-MM-DD."),
        ((today + timedelta(days=5)).isoformat(), "The new value is the same as the old one."),
    ]:
        with pytest.raises(DomainError) as caught:
            services.amend_violation(
                violation, "sanction_ends_on", value, "A reason.", actor=supervisor
            )
        assert str(caught.value) == message
    check()
    amendment = services.amend_violation(
        violation,
        "sanction_ends_on",
        (today + timedelta(days=2)).isoformat(),
        "Good conduct since.",
        actor=supervisor,
    )
    assert violation.sanction_ends_on == today + timedelta(days=2)
    assert amendment.old_value == (today + timedelta(days=5)).isoformat()


@pytest.mark.parametrize(
    ("field", "value", "reason", "message"),
    [
        ("location", "Elsewhere", "  ", "Give the reason for the amendment."),
        ("status", "dismissed", "Wrong.", "That field cannot be amended."),
        ("sanction", "police_referral", "Wrong.", "That field cannot be amended."),
        ("decided_by_id", "1", "Wrong.", "That field cannot be amended."),
        ("description", "  ", "Wrong.", "This field cannot be empty."),
        ("sanction_ends_on", "2030-01-01", "Wrong.", "This violation has no sanction"),
    ],
)
def test_a_bad_amendment_is_refused(
    db, make_violation, make_staff, unchanged, field, value, reason, message
):
    violation, supervisor = make_violation(step="decided"), make_staff("supervisor")
    check = unchanged(violation)
    with pytest.raises(DomainError) as caught:
        services.amend_violation(violation, field, value, reason, actor=supervisor)
    assert str(caught.value).startswith(message)
    check()


def test_an_undecided_violation_is_not_amended(db, make_violation, make_staff, unchanged):
    violation, supervisor = make_violation(step="statement"), make_staff("supervisor")
    check = unchanged(violation)
    with pytest.raises(IllegalTransition) as caught:
        services.amend_violation(violation, "location", "Gate 2", "Typo.", actor=supervisor)
    assert str(caught.value) == (
        "This violation is not decided yet; correct it through the review steps."
    )
    check()


# --- the log -------------------------------------------------------------------------------------


def test_officers_see_what_they_reported_supervisors_and_viewers_see_all(
    db, make_violation, make_staff
):
    alice, bob = make_staff("officer"), make_staff("officer")
    mine, theirs = make_violation(reporter=alice), make_violation(reporter=bob)
    everyone = services.LogFilter(statuses=[])
    assert db.session.scalars(services.log_query(everyone, alice)).all() == [mine]
    assert services.review_queue(bob) == [theirs]
    assert services.status_counts(alice)[ViolationStatus.REPORTED] == 1
    for role in ("supervisor", "viewer"):
        user = make_staff(role)
        assert set(db.session.scalars(services.log_query(everyone, user))) == {mine, theirs}
        assert services.status_counts(user)[ViolationStatus.REPORTED] == 2


def test_the_log_filters(db, catalogue, make_person, make_violation, make_staff):
    places = catalogue()
    supervisor = make_staff("supervisor")
    housed = make_person(status="community_housing", full_name="Halima Dirie")
    detained = make_person(status="detained", full_name="Omid Rostami")
    now = local_now().replace(tzinfo=None, second=0, microsecond=0)
    old = make_violation(
        housed, rule="TT-02", severity="minor", occurred_at=now - timedelta(days=10)
    )
    fight = make_violation(
        detained, rule="TT-03", severity="serious", occurred_at=now - timedelta(hours=1)
    )
    decided = make_violation(housed, step="decided", occurred_at=now - timedelta(days=2))

    def ids(**criteria):
        query = services.log_query(services.LogFilter(**{"statuses": [], **criteria}), supervisor)
        return [violation.id for violation in db.session.scalars(query)]

    assert ids() == [fight.id, decided.id, old.id]
    assert ids(statuses=["upheld"]) == [decided.id]
    assert ids(statuses=["reported", "upheld"]) == [fight.id, decided.id, old.id]
    assert ids(date_from=(now - timedelta(days=3)).date()) == [fight.id, decided.id]
    assert ids(date_to=(now - timedelta(days=3)).date()) == [old.id]
    assert ids(rule_id=places.rules["TT-03"]) == [fight.id]
    assert ids(severity="serious") == [fight.id]
    assert ids(placement_id=places.housing) == [decided.id, old.id]
    assert ids(placement_id=places.centre) == [fight.id]
    assert ids(person="halima") == [decided.id, old.id]
    assert ids(person=detained.case_number.lower()) == [fight.id]


def test_a_long_queue_shows_the_first_reported_of_both_open_statuses(
    db, make_violation, make_staff
):
    supervisor = make_staff("supervisor")
    now = utcnow()
    waiting = []
    for days in range(6):  # alternately awaiting review and under review
        violation = make_violation(step="notified") if days % 2 else make_violation()
        violation.reported_at = now - timedelta(days=10 - days)
        waiting.append(violation)
    decided = make_violation(step="decided")
    decided.reported_at = now - timedelta(days=30)
    db.session.commit()
    assert {v.status for v in waiting} == {
        ViolationStatus.REPORTED,
        ViolationStatus.UNDER_REVIEW,
    }
    assert services.review_queue(supervisor, limit=3) == waiting[:3]
    assert services.review_queue(supervisor, limit=50) == waiting


def test_the_date_filter_uses_the_centres_local_days(db, make_violation, make_staff):
    supervisor = make_staff("supervisor")
    # 07:00 in Makassar is 23:00 UTC the day before.
    day = local_today() - timedelta(days=3)
    early = make_violation(occurred_at=datetime.combine(day, datetime.min.time()).replace(hour=7))
    assert early.occurred_at.date() == day - timedelta(days=1)

    def ids(**criteria):
        query = services.log_query(services.LogFilter(statuses=[], **criteria), supervisor)
        return [violation.id for violation in db.session.scalars(query)]

    assert ids(date_from=day, date_to=day) == [early.id]
    assert ids(date_to=day - timedelta(days=1)) == []


def test_the_queue_is_oldest_first_and_marks_overdue_reviews(app, db, make_violation, make_staff):
    supervisor = make_staff("supervisor")
    newer = make_violation(step="notified")
    older = make_violation()
    older.reported_at = utcnow() - timedelta(days=8)
    done = make_violation(step="decided")
    done.reported_at = utcnow() - timedelta(days=30)
    db.session.commit()
    assert services.review_queue(supervisor) == [older, newer]
    assert services.is_review_overdue(older)
    assert not services.is_review_overdue(newer)
    assert not services.is_review_overdue(done)
    app.config["REVIEW_DUE_DAYS"] = 10
    assert not services.is_review_overdue(older)


def test_counts_per_status(db, make_violation, make_staff):
    make_violation()
    make_violation(step="notified")
    make_violation(step="statement")
    make_violation(step="decided")
    make_violation(step="decided", outcome="dismissed")
    counts_now = services.status_counts(make_staff("viewer"))
    assert counts_now == {
        ViolationStatus.REPORTED: 1,
        ViolationStatus.UNDER_REVIEW: 2,
        ViolationStatus.UPHELD: 1,
        ViolationStatus.DISMISSED: 1,
        ViolationStatus.APPEALED: 0,
        ViolationStatus.APPEAL_UPHELD: 0,
        ViolationStatus.APPEAL_OVERTURNED: 0,
    }


def test_a_running_sanction_is_active_until_its_end(db, make_person, make_violation):
    today = local_today()
    person, other = make_person(), make_person()
    running = make_violation(
        person,
        step="decided",
        rule="TT-02",
        sanction="privilege_restriction",
        privilege="Outings",
        ends_on=today + timedelta(days=3),
    )
    make_violation(other, step="decided", outcome="dismissed")
    assert services.active_sanctions([person.id, other.id]) == {person.id: running}
    assert running.sanction_is_active(today)
    assert not running.sanction_is_active(today + timedelta(days=4))
    assert services.active_sanctions([person.id], today=today + timedelta(days=4)) == {}
    assert services.violations_of(person, running.reported_by) == [running]


# --- the audit trail -----------------------------------------------------------------------------


def test_every_step_is_audited_about_the_person_and_nothing_is_deleted(
    db, make_violation, make_staff
):
    violation = make_violation(step="decided", sanction="transfer_to_detention",
                               ends_on=local_today() + timedelta(days=5))  # fmt: skip
    other = make_staff("supervisor")
    services.record_appeal(violation, local_today(), "Grounds.", actor=other)
    services.decide_appeal(violation, "appeal_overturned", "Long enough reasons.", actor=other)
    services.amend_violation(violation, "witnesses", "Two guards", "Second guard.", actor=other)
    services.record_rules_explanation(violation.person, local_today(), "Dari", "", actor=other)
    db.session.commit()
    events = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.object_type.in_(
                ["Violation", "ViolationAmendment", "RulesExplanation", "CustodyEvent"]
            )
        )
    ).all()
    about = {(e.object_type, e.action) for e in events}
    assert {
        ("Violation", "create"),
        ("Violation", "update"),
        ("ViolationAmendment", "create"),
        ("RulesExplanation", "create"),
        ("CustodyEvent", "create"),
    } <= about
    assert all(e.subject_type == "Person" for e in events)
    assert all(e.subject_id == str(violation.person_id) for e in events)
    assert not [e for e in events if e.action == "delete"]
    statuses = [
        e.changes
        for e in events
        if e.object_type == "Violation" and '"status"' in (e.changes or "")
    ]
    assert len(statuses) >= 4  # under review, upheld, appealed, overturned
    assert db.session.scalar(select(func.count()).select_from(Violation)) == 1
    assert db.session.scalar(select(func.count()).select_from(RulesExplanation)) == 1
    assert db.session.scalar(select(func.count()).select_from(ViolationAmendment)) == 1
