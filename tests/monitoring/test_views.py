"""Monitoring as staff use it: periods and the banner, roll calls, flags, and the
rule that nothing selects people by group."""

import ast
import inspect
import re
from datetime import timedelta

import click
import pytest
from sqlalchemy import select, update

from rudenim.clock import local_now
from rudenim.extensions import db
from rudenim.monitoring import forms, views
from rudenim.monitoring.models import CheckIn, MonitoringFlag, MonitoringPeriod
from tests.monitoring.conftest import (
    HANDLING,
    REASON,
    banner,
    day,
    element,
    messages,
    page,
    plain,
    shown,
    state,
)

#: Parameter or field names that would select people as a group.
GROUP_SELECTOR = re.compile(r"national|ethnic|religio|language|group|bulk|lang\b", re.I)


def period_form(**changes) -> dict:
    data = {
        "name": "Pilkada Kota Kupang 2024",
        "kind": "election",
        "starts_on": day(0).isoformat(),
        "ends_on": day(14).isoformat(),
        "checkin_interval_hours": "24",
        "notes": "Regional elections; watch for hate speech online.",
    }
    data.update(changes)
    return data


def flag_form(person, period, **changes) -> dict:
    data = {
        "person_id": str(person.id),
        "period_id": str(period.id),
        "category": "protection_concern",
        "violation_id": "0",
        "reason": REASON,
        "handling_instructions": HANDLING,
        "ends_on": period.ends_on.isoformat(),
    }
    data.update(changes)
    return data


def roll_call_form(entries, at=None) -> dict:
    """Form data of a roll call: entries are (person id, outcome, note)."""
    at = at or (local_now() - timedelta(minutes=10))
    data = {"checked_at": at.strftime("%Y-%m-%dT%H:%M")}
    for index, (person_id, outcome, note) in enumerate(entries):
        data[f"entries-{index}-person_id"] = str(person_id)
        data[f"entries-{index}-outcome"] = outcome
        data[f"entries-{index}-note"] = note
    return data


def dashboard_figure(client, element_id: str) -> int:
    body = page(client.get("/"))
    return int(re.search(rf'id="{element_id}">(\d+)<', body).group(1))


def row_of(body: str, case_number: str) -> str:
    """The roll-call table row (opening tag included) that names ``case_number``."""
    table = body[body.index('id="roll-call"') :]
    for row in re.findall(r"<tr[^>]*>.*?</tr>", table, re.S):
        if case_number in row:
            return row
    raise AssertionError(f"{case_number} is not on the roll call")


# --- periods and the banner -------------------------------------------------------------------


def test_a_supervisor_opens_a_period_and_every_page_shows_the_banner(app, browser):
    supervisor, supervisor_id = browser("supervisor")

    response = supervisor.post("/monitoring/periods", data=period_form(), follow_redirects=True)

    assert "The monitoring period Pilkada Kota Kupang 2024 has been opened." in messages(response)
    with app.app_context():
        (period,) = db.session.scalars(select(MonitoringPeriod)).all()
        assert (period.kind.value, period.starts_on, period.ends_on) == (
            "election",
            day(0),
            day(14),
        )
        assert period.checkin_interval_hours == 24
        assert period.notes == "Regional elections; watch for hate speech online."
        assert period.created_by_id == supervisor_id
    expected = f"Pilkada Kota Kupang 2024 — until {shown(day(14))}"
    for role in ("supervisor", "officer", "viewer", "admin"):
        client = supervisor if role == "supervisor" else browser(role)[0]
        for path in ("/", "/auth/account") + (() if role == "admin" else ("/cases/",)):
            text = banner(page(client.get(path)))
            assert text is not None, (role, path)
            assert expected in text, (role, path, text)
    body = page(supervisor.get("/monitoring/"))
    assert "Pilkada Kota Kupang 2024" in plain(element(body, "periods"))
    assert "Regional elections; watch for hate speech online." in body


def test_no_banner_before_a_period_starts_or_after_it_ends(app, browser, make_period):
    make_period(starts=1, ends=5, name="Starts tomorrow")
    make_period(starts=-8, ends=-1, name="Ended yesterday")
    client, _ = browser("officer")

    for path in ("/", "/cases/", "/auth/account", "/monitoring/"):
        assert banner(page(client.get(path))) is None, path
    rows = plain(element(page(client.get("/monitoring/")), "periods"))
    assert "Starts tomorrow" in rows and "upcoming" in rows
    assert "Ended yesterday" in rows and "ended" in rows


def test_overlapping_periods_the_shortest_interval_applies(app, browser, make_period):
    make_period(starts=-5, ends=20, interval=72, name="District vote")
    make_period(starts=-1, ends=3, interval=12, name="Polling week")
    client, _ = browser("officer")

    body = page(client.get("/monitoring/"))

    assert "during the active period every 12 hours" in plain(element(body, "periods"))
    text = banner(body)
    assert "District vote" in text and "Polling week" in text


@pytest.mark.parametrize("role", ["officer", "viewer", "admin"])
def test_only_a_supervisor_opens_or_closes_a_period(app, browser, make_period, role):
    period = make_period()
    client, _ = browser(role)
    before = state(app)

    assert client.post("/monitoring/periods", data=period_form()).status_code == 403
    closing = client.post(f"/monitoring/periods/{period.id}/close", data={"reason": "Done."})
    assert closing.status_code == 403

    after = state(app)
    assert {k: v for k, v in after.items() if k != "audit"} == {
        k: v for k, v in before.items() if k != "audit"
    }
    assert after["audit"] == before["audit"] + 2  # the two refusals, recorded


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ends_on": day(-1).isoformat()}, "The period ends before it starts."),
        ({"ends_on": day(200).isoformat()}, "A monitoring period lasts at most 180 days."),
        ({"checkin_interval_hours": "0"}, "Check-in interval while active (hours):"),
        ({"checkin_interval_hours": "721"}, "The check-in interval is between 1 and 720 hours."),
        ({"checkin_interval_hours": "-5"}, "Check-in interval while active (hours):"),
        ({"name": ""}, "Name: This field is required."),
    ],
)
def test_a_bad_period_is_refused_with_a_message(app, browser, changes, message):
    client, _ = browser("supervisor")
    before = state(app)

    response = client.post(
        "/monitoring/periods", data=period_form(**changes), follow_redirects=True
    )

    assert any(message in text for text in messages(response)), messages(response)
    assert state(app) == before
    assert banner(page(response)) is None


def test_a_zero_interval_is_named_out_of_range_not_missing(app, browser):
    client, _ = browser("supervisor")

    response = client.post(
        "/monitoring/periods", data=period_form(checkin_interval_hours="0"), follow_redirects=True
    )

    assert messages(response) == [
        "Check-in interval while active (hours): Number must be between 1 and 8760."
    ]


def test_closing_a_period_early_ends_it_and_its_flags(app, browser, make_person, make_flag):
    person = make_person()
    flag = make_flag(person)
    client, _ = browser("supervisor")
    assert banner(page(client.get("/"))) is not None

    refused = client.post(
        f"/monitoring/periods/{flag.period_id}/close", data={"reason": ""}, follow_redirects=True
    )
    assert "Reason for closing early: This field is required." in messages(refused)
    assert banner(page(refused)) is not None

    response = client.post(
        f"/monitoring/periods/{flag.period_id}/close",
        data={"reason": "The election was postponed by the commission."},
        follow_redirects=True,
    )

    assert "The period has been closed." in messages(response)
    body = page(response)
    assert banner(body) is None
    assert "closed early: The election was postponed by the commission." in plain(body)
    assert "None." in plain(element(body, "active-flags"))
    flag_page = page(client.get(f"/monitoring/flags/{flag.id}"))
    assert "Expired" in plain(re.search(r'id="flag-state">(.*?)<', flag_page).group(1))
    assert "tag-flag" not in page(client.get("/cases/"))


# --- roll calls ---------------------------------------------------------------------------------


def test_the_roll_call_shows_who_is_overdue_or_due_and_flag_instructions(
    app, browser, make_person, make_period, make_flag
):
    # A period as long as the base interval: only the flag shortens anyone's.
    period = make_period(interval=30 * 24)
    overdue = make_person()  # arrived 200 days ago, never seen
    due = make_person(arrived_on=day(-29))
    flagged = make_person(arrived_on=day(-3))
    make_flag(flagged, period=period)
    client, _ = browser("officer")

    body = page(client.get(f"/monitoring/roll-call/{overdue.placement_id}"))

    assert 'class="rc-overdue"' in row_of(body, overdue.case_number)
    assert "overdue" in plain(row_of(body, overdue.case_number))
    assert 'class="rc-due"' in row_of(body, due.case_number)
    flagged_row = row_of(body, flagged.case_number)
    # A flag's 24 hours, counted from the start of the status three days ago.
    assert 'class="rc-overdue"' in flagged_row
    assert HANDLING in plain(flagged_row)
    assert "Protection concern: the person is at risk" in plain(flagged_row)
    assert HANDLING not in plain(row_of(body, due.case_number))
    assert dashboard_figure(client, "checkins-overdue") == 2
    assert dashboard_figure(client, "checkins-due") == 1


def test_a_roll_call_records_everyone_in_one_submission(app, browser, make_person):
    people = [make_person() for _ in range(4)]
    client, officer_id = browser("officer")
    placement_id = people[0].placement_id
    at = local_now().replace(second=0, microsecond=0) - timedelta(hours=1)
    entries = [
        (people[0].id, "present", "Well."),
        (people[1].id, "absent", "Not at the site at 09:00."),
        (people[2].id, "unwell", "Fever; clinic called."),
        (people[3].id, "refused", "Would not come out of the room."),
    ]

    response = client.post(
        f"/monitoring/roll-call/{placement_id}",
        data=roll_call_form(entries, at),
        follow_redirects=True,
    )

    assert "4 check-ins recorded." in messages(response)
    body = page(response)
    for person in people:
        assert 'class="rc-ok"' in row_of(body, person.case_number)
    with app.app_context():
        stored = db.session.scalars(select(CheckIn).order_by(CheckIn.id)).all()
        assert [(c.person_id, c.outcome.value, c.note) for c in stored] == entries
        assert {(c.checked_at, c.recorded_by_id, c.placement_id) for c in stored} == {
            (at.astimezone(stored[0].checked_at.tzinfo), officer_id, placement_id)
        }
    assert dashboard_figure(client, "checkins-overdue") == 0
    assert dashboard_figure(client, "absences-open") == 1
    person_page = plain(element(page(client.get(f"/cases/{people[1].id}")), "monitoring"))
    assert "Absent" in person_page and "not followed up" in person_page
    assert "Not at the site at 09:00." in person_page
    present_page = plain(element(page(client.get(f"/cases/{people[0].id}")), "monitoring"))
    assert "Present" in present_page and "Well." in present_page


def test_an_absence_stays_on_the_dashboard_until_followed_up(app, browser, make_person, check_in):
    person = make_person()
    absence = check_in(person, "absent", note="Not at the site at 09:00.")
    client, _ = browser("officer")
    assert dashboard_figure(client, "absences-open") == 1
    assert person.case_number in plain(element(page(client.get("/")), "monitoring-summary"))

    refused = client.post(
        f"/monitoring/check-ins/{absence.id}/follow-up", data={"note": ""}, follow_redirects=True
    )
    assert "How the absence was followed up: This field is required." in messages(refused)
    assert dashboard_figure(client, "absences-open") == 1

    response = client.post(
        f"/monitoring/check-ins/{absence.id}/follow-up",
        data={"note": "Found at the clinic; back by noon."},
        follow_redirects=True,
    )

    assert "The follow-up has been recorded." in messages(response)
    assert dashboard_figure(client, "absences-open") == 0
    history = plain(element(page(client.get(f"/cases/{person.id}")), "monitoring"))
    assert "Follow-up: Found at the clinic; back by noon." in history
    assert "not followed up" not in history


@pytest.mark.parametrize("case", ["future", "year_one", "released", "unknown_outcome", "hospital"])
def test_a_bad_roll_call_is_refused_whole_and_nothing_is_stored(
    app, browser, make_person, move_person, case
):
    good = make_person()
    other = make_person()
    client, _ = browser("officer")
    entries = [(good.id, "present", "Well."), (other.id, "present", "Well.")]
    at = None
    if case == "future":
        at = local_now() + timedelta(hours=3)
        message = "The time of the roll call is in the future."
    elif case == "year_one":
        # Midnight of year 1 here is in year 0 in UTC (was an OverflowError, a 500).
        message = (
            f"{good.case_number} had not arrived then. {other.case_number} had not arrived then."
        )
    elif case in ("released", "hospital"):
        move_person(other, case)
        message = (
            f"{other.case_number} is not in community housing or detention; "
            "no check-in is recorded."
        )
    else:
        entries[1] = (other.id, "sleeping", "")
        message = f"Outcome for {other.case_number}: Not a valid choice."
    before = state(app)

    data = roll_call_form(entries, at)
    if case == "year_one":
        data["checked_at"] = "0001-01-01T00:00"
    response = client.post(
        f"/monitoring/roll-call/{good.placement_id}", data=data, follow_redirects=True
    )

    assert messages(response) == [message]
    assert state(app) == before
    assert 'class="rc-overdue"' in row_of(page(response), good.case_number)


def test_viewers_read_the_roll_call_but_record_nothing(app, browser, make_person):
    person = make_person()
    viewer, _ = browser("viewer")
    body = page(viewer.get(f"/monitoring/roll-call/{person.placement_id}"))
    assert person.case_number in body
    assert "Record the roll call" not in body
    before = state(app)

    response = viewer.post(
        f"/monitoring/roll-call/{person.placement_id}",
        data=roll_call_form([(person.id, "present", "")]),
    )

    assert response.status_code == 403
    assert {k: v for k, v in state(app).items() if k != "audit"} == {
        k: v for k, v in before.items() if k != "audit"
    }
    admin, _ = browser("admin")
    assert admin.get(f"/monitoring/roll-call/{person.placement_id}").status_code == 403


# --- flags ------------------------------------------------------------------------------------


def test_a_flag_from_proposal_to_lifting(app, browser, make_person, make_period):
    period = make_period(ends=10)
    person = make_person()
    neighbour = make_person()
    officer, officer_id = browser("officer")
    supervisor, supervisor_id = browser("supervisor")

    form_page = page(officer.get(f"/monitoring/flags/new?person_id={person.id}"))
    assert f"Propose a flag for {person.full_name}" in plain(form_page)
    assert "Pilkada 2024" in form_page
    response = officer.post(
        f"/monitoring/flags/new?person_id={person.id}",
        data=flag_form(person, period, ends_on=day(7).isoformat()),
        follow_redirects=True,
    )
    assert "The flag has been proposed; another supervisor decides it." in messages(response)
    with app.app_context():
        (flag,) = db.session.scalars(select(MonitoringFlag)).all()
        flag_id = flag.id
        assert (flag.person_id, flag.proposed_by_id, flag.status.value) == (
            person.id,
            officer_id,
            "proposed",
        )
    # Proposed: not yet in force anywhere.
    assert "tag-flag" not in page(officer.get("/cases/"))
    assert "Flags awaiting a decision" in page(supervisor.get("/monitoring/"))
    assert person.case_number in plain(
        element(page(supervisor.get("/monitoring/")), "proposed-flags")
    )

    response = supervisor.post(
        f"/monitoring/flags/{flag_id}/decide",
        data={"decision": "approve", "note": "Proportionate for a week."},
        follow_redirects=True,
    )
    assert "The decision on the flag has been recorded." in messages(response)
    assert "Approved" in plain(re.search(r'id="flag-state">(.*?)<', page(response)).group(1))
    people_list = page(officer.get("/cases/"))
    tags = re.findall(r'<span class="tag tag-flag">(.*?)</span>', people_list)
    assert tags == [f"Flag: Protection concern: the person is at risk until {day(7).isoformat()}"]
    row = re.search(rf"<tr>(?:(?!</tr>).)*{person.case_number}.*?</tr>", people_list, re.S)
    assert "tag-flag" in row.group(0)
    assert neighbour.case_number in people_list
    section = plain(element(page(officer.get(f"/cases/{person.id}")), "monitoring"))
    assert "in force" in section and HANDLING in section
    assert dashboard_figure(officer, "flags-active") == 1

    response = officer.post(
        f"/monitoring/flags/{flag_id}/told",
        data={"told_on": day(0).isoformat()},
        follow_redirects=True,
    )
    assert "Recorded: the person was told of the flag." in messages(response)
    assert f"Person told {shown(day(0))}" in plain(page(response))

    refused = supervisor.post(
        f"/monitoring/flags/{flag_id}/lift", data={"reason": ""}, follow_redirects=True
    )
    assert "Reason for lifting: This field is required." in messages(refused)
    response = supervisor.post(
        f"/monitoring/flags/{flag_id}/lift",
        data={"reason": "The threats stopped; the person feels safe again."},
        follow_redirects=True,
    )
    assert "The flag has been lifted." in messages(response)
    assert "The threats stopped; the person feels safe again." in plain(page(response))
    assert "tag-flag" not in page(officer.get("/cases/"))
    section = plain(element(page(officer.get(f"/cases/{person.id}")), "monitoring"))
    assert "Lifted" in section and "in force" not in section
    assert dashboard_figure(officer, "flags-active") == 0
    with app.app_context():
        flag = db.session.get(MonitoringFlag, flag_id)
        assert (flag.decided_by_id, flag.lifted_by_id) == (supervisor_id, supervisor_id)
        assert flag.person_told_on == day(0)


def test_a_flag_changes_nothing_else_about_the_person(
    app, browser, make_person, make_violation, make_flag
):
    person = make_person()
    make_violation(person, step="decided")
    client, _ = browser("officer")
    before_page = plain(element(page(client.get(f"/cases/{person.id}")), "custody"))
    before = state(app)

    make_flag(person)

    after = state(app)
    for key in ("people", "custody", "violations", "checkins"):
        assert after[key] == before[key], key
    assert plain(element(page(client.get(f"/cases/{person.id}")), "custody")) == before_page


def test_an_expired_flag_stays_in_the_persons_history(app, browser, make_person, make_flag):
    person = make_person()
    flag = make_flag(person)
    with app.app_context():
        db.session.execute(
            update(MonitoringPeriod)
            .where(MonitoringPeriod.id == flag.period_id)
            .values(starts_on=day(-40), ends_on=day(-20))
        )
        db.session.execute(
            update(MonitoringFlag)
            .where(MonitoringFlag.id == flag.id)
            .values(decided_on=day(-30), ends_on=day(-20))
        )
        db.session.commit()
    client, _ = browser("officer")

    section = plain(element(page(client.get(f"/cases/{person.id}")), "monitoring"))

    assert "Expired" in section and "in force" not in section
    assert HANDLING in section
    assert "tag-flag" not in page(client.get("/cases/"))
    assert banner(page(client.get("/"))) is None
    assert dashboard_figure(client, "flags-active") == 0
    # No period is active, so no new flag can be proposed.
    response = client.get(f"/monitoring/flags/new?person_id={person.id}")
    assert "There is no active monitoring period, so no flag can be proposed." in plain(
        page(response)
    )


@pytest.mark.parametrize(
    "case",
    [
        "no_active_period",
        "ends_after_period",
        "conduct_without_violation",
        "conduct_other_persons_violation",
        "conduct_dismissed_violation",
        "empty_reason",
        "one_word_reason",
        "no_handling",
    ],
)
def test_a_bad_flag_is_refused_with_a_message_and_nothing_changes(
    app, browser, make_person, make_period, make_violation, case
):
    period = make_period(ends=10)
    person = make_person()
    client, _ = browser("officer")
    changes = {}
    if case == "no_active_period":
        with app.app_context():
            db.session.execute(update(MonitoringPeriod).values(starts_on=day(-20), ends_on=day(-2)))
            db.session.commit()
        message = "There is no active monitoring period, so no flag can be proposed."
    elif case == "ends_after_period":
        changes["ends_on"] = day(11).isoformat()
        message = f"A flag ends no later than its period ({day(10).isoformat()})."
    elif case == "conduct_without_violation":
        changes["category"] = "conduct"
        message = "A conduct flag must cite an upheld violation of this same person."
    elif case == "conduct_other_persons_violation":
        other = make_violation(make_person(), step="decided")
        changes.update(category="conduct", violation_id=str(other.id))
        message = "Not a valid choice."
    elif case == "conduct_dismissed_violation":
        dismissed = make_violation(person, step="decided", outcome="dismissed")
        changes.update(category="conduct", violation_id=str(dismissed.id))
        message = "Not a valid choice."
    elif case == "empty_reason":
        changes["reason"] = ""
        message = "This field is required."
    elif case == "one_word_reason":
        changes["reason"] = "Troublemaker"
        message = "Write the reason in at least a full sentence (four words or more)."
    else:
        changes["handling_instructions"] = "   "
        message = "This field is required."
    before = state(app)

    response = client.post(
        f"/monitoring/flags/new?person_id={person.id}",
        data=flag_form(person, period, **changes),
    )

    assert response.status_code == 200
    shown_messages = messages(response) or [plain(page(response))]
    assert any(message in text for text in shown_messages), shown_messages
    assert state(app) == before
    if case not in ("no_active_period", "empty_reason", "one_word_reason"):
        assert REASON in page(response)  # the officer's input is kept on the form


def test_the_proposer_cannot_approve_their_own_flag(app, browser, make_person, make_period):
    period = make_period()
    person = make_person()
    supervisor, _ = browser("supervisor")
    supervisor.post(f"/monitoring/flags/new?person_id={person.id}", data=flag_form(person, period))
    with app.app_context():
        flag_id = db.session.scalar(select(MonitoringFlag.id))
    detail = page(supervisor.get(f"/monitoring/flags/{flag_id}"))
    assert "You proposed this flag. Another supervisor must decide it." in detail
    before = state(app)

    response = supervisor.post(
        f"/monitoring/flags/{flag_id}/decide",
        data={"decision": "approve", "note": "Looks right to me."},
        follow_redirects=True,
    )

    assert messages(response) == ["You proposed this flag. Another supervisor must decide it."]
    assert state(app) == before


def test_an_already_rejected_flag_cannot_be_approved(app, browser, make_person, make_flag):
    flag = make_flag(make_person(), decision="reject")
    supervisor, _ = browser("supervisor")
    before = state(app)

    response = supervisor.post(
        f"/monitoring/flags/{flag.id}/decide",
        data={"decision": "approve", "note": "On reflection, yes."},
        follow_redirects=True,
    )

    assert messages(response) == ["This flag is Rejected; only a proposed flag is decided."]
    assert state(app) == before
    assert "Rejected" in plain(re.search(r'id="flag-state">(.*?)<', page(response)).group(1))


def test_a_decision_without_a_note_is_refused(app, browser, make_person, make_flag):
    flag = make_flag(make_person(), decision=None)
    supervisor, _ = browser("supervisor")
    before = state(app)

    response = supervisor.post(
        f"/monitoring/flags/{flag.id}/decide",
        data={"decision": "approve", "note": ""},
        follow_redirects=True,
    )

    assert messages(response) == ["Note: This field is required."]
    assert state(app) == before


@pytest.mark.parametrize(
    ("role", "action"),
    [
        ("officer", "decide"),
        ("officer", "lift"),
        ("viewer", "decide"),
        ("viewer", "lift"),
        ("viewer", "told"),
        ("admin", "told"),
    ],
)
def test_who_may_decide_lift_and_record_telling(app, browser, make_person, make_flag, role, action):
    decision = None if action == "decide" else "approve"
    flag = make_flag(make_person(), decision=decision)
    client, _ = browser(role)
    data = {
        "decide": {"decision": "approve", "note": "Fine."},
        "lift": {"reason": "Not needed any more."},
        "told": {"told_on": day(0).isoformat()},
    }[action]
    before = state(app)

    assert client.post(f"/monitoring/flags/{flag.id}/{action}", data=data).status_code == 403

    assert state(app)["flags"] == before["flags"]


@pytest.mark.parametrize("role", ["viewer", "admin"])
def test_viewers_and_admins_propose_no_flag(app, browser, make_person, make_period, role):
    period = make_period()
    person = make_person()
    client, _ = browser(role)

    assert client.get(f"/monitoring/flags/new?person_id={person.id}").status_code == 403
    response = client.post(
        f"/monitoring/flags/new?person_id={person.id}", data=flag_form(person, period)
    )

    assert response.status_code == 403
    assert state(app)["flags"] == []


# --- no group targeting -------------------------------------------------------------------------


def _commands(group, path=()):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


def test_no_route_or_command_takes_a_group_selector(app):
    monitoring_rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("monitoring.")]
    assert {r.endpoint for r in monitoring_rules} >= {
        "monitoring.propose_flag",
        "monitoring.decide_flag",
        "monitoring.lift_flag",
        "monitoring.roll_call",
    }
    for rule in monitoring_rules:
        assert not GROUP_SELECTOR.search(rule.rule), rule.rule
        assert not any(GROUP_SELECTOR.search(argument) for argument in rule.arguments), rule

    commands = list(_commands(app.cli))
    assert any(path == ("demo", "load") for path, _ in commands)
    for path, command in commands:
        for param in command.params:
            names = [param.name or "", *getattr(param, "opts", [])]
            assert not any(GROUP_SELECTOR.search(name) for name in names), (path, names)


def _form_fields(form_class) -> set[str]:
    """Every field name of a form, sub-forms included."""
    names = set()
    for name, unbound in vars(form_class).items():
        if not hasattr(unbound, "field_class"):
            continue
        names.add(name)
        inner = unbound.args[0] if unbound.args else None
        if getattr(inner, "field_class", None) is not None:  # FieldList(FormField(...))
            inner = inner.args[0] if inner.args else None
        if isinstance(inner, type):
            names |= _form_fields(inner)
    return names


def test_the_flag_form_names_one_person_and_no_group():
    fields = _form_fields(forms.FlagForm)
    assert "person_id" in fields
    assert fields == {
        "person_id",
        "period_id",
        "category",
        "violation_id",
        "reason",
        "handling_instructions",
        "ends_on",
        "submit",
    }
    for form_class in (
        forms.FlagForm,
        forms.FlagDecisionForm,
        forms.LiftFlagForm,
        forms.FlagToldForm,
        forms.RollCallForm,
        forms.RollCallEntryForm,
        forms.PeriodForm,
    ):
        for name in _form_fields(form_class):
            assert not GROUP_SELECTOR.search(name), (form_class.__name__, name)


def test_the_flag_views_read_no_parameter_but_the_persons_id():
    """Source check: the only request value the monitoring views read by hand is person_id."""
    tree = ast.parse(inspect.getsource(views))
    read = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("get", "getlist", "__getitem__")
            and isinstance(node.func.value, ast.Attribute)
            and node.func.value.attr in ("args", "form", "values", "json")
        ):
            read.add(node.args[0].value)
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute):
            assert node.value.attr not in ("args", "form", "values"), ast.unparse(node)
    assert read == {"person_id"}


def test_a_flag_is_raised_for_one_person_whatever_else_is_sent(
    app, browser, make_person, make_period
):
    period = make_period()
    first = make_person(nationality="MM", claimed_ethnicity="Rohingya")
    second = make_person(nationality="MM", claimed_ethnicity="Rohingya")
    client, _ = browser("officer")
    before = state(app)

    # A group selector alone names no one.
    response = client.post(
        "/monitoring/flags/new",
        data={**flag_form(first, period), "person_id": "", "nationality": "MM"},
    )
    assert response.status_code == 404
    assert state(app) == before
    response = client.post(
        "/monitoring/flags/new?nationality=MM&ethnicity=Rohingya&bulk=1",
        data={**flag_form(first, period), "person_id": ""},
    )
    assert response.status_code == 404
    assert state(app) == before

    # Two people named at once: only the first is flagged.
    data = flag_form(first, period)
    data["person_id"] = [str(first.id), str(second.id)]
    response = client.post(
        "/monitoring/flags/new", data={**data, "nationality": "MM", "group": "Rohingya"}
    )
    assert response.status_code == 302
    with app.app_context():
        flagged = db.session.scalars(select(MonitoringFlag.person_id)).all()
    assert flagged == [first.id]


def test_the_banner_date_is_the_last_day_in_force(app, browser, make_period):
    make_period(starts=-2, ends=6, name="Pilkada")
    client, _ = browser("viewer")
    text = banner(page(client.get("/cases/")))
    assert f"until {shown(day(6))}" in text
    assert "check-ins every 24 hours" in text


def test_closing_an_ended_period_is_refused(app, browser, make_period):
    ended = make_period(starts=-9, ends=-2, name="Last week")
    client, _ = browser("supervisor")
    before = state(app)

    response = client.post(
        f"/monitoring/periods/{ended.id}/close",
        data={"reason": "Ending it again."},
        follow_redirects=True,
    )

    assert messages(response) == ["This period is not active."]
    assert state(app) == before


def test_unknown_records_are_not_found(app, browser):
    client, _ = browser("supervisor")

    assert client.post("/monitoring/periods/999/close", data={"reason": "x"}).status_code == 404
    assert client.get("/monitoring/flags/999").status_code == 404
    assert client.post("/monitoring/flags/999/decide", data={}).status_code == 404
    assert client.get("/monitoring/roll-call/999").status_code == 404
    assert client.post("/monitoring/check-ins/999/follow-up", data={}).status_code == 404
    assert client.get("/monitoring/flags/new?person_id=999").status_code == 404
    assert client.get("/monitoring/flags/new").status_code == 404


def test_an_absence_is_followed_up_once_and_the_page_comes_back(
    app, browser, make_person, check_in
):
    person = make_person()
    absence = check_in(person, "absent")
    client, _ = browser("officer")
    back = f"http://localhost/cases/{person.id}"

    first = client.post(
        f"/monitoring/check-ins/{absence.id}/follow-up",
        data={"note": "Back at the site by noon."},
        headers={"Referer": back},
    )
    assert first.status_code == 302 and first.headers["Location"] == back
    assert "The follow-up has been recorded." in messages(client.get(back))
    before = state(app)

    again = client.post(
        f"/monitoring/check-ins/{absence.id}/follow-up",
        data={"note": "Once more."},
        headers={"Referer": "https://elsewhere.example/phish"},
        follow_redirects=True,
    )

    assert again.request.path == "/monitoring/"
    assert messages(again) == ["This absence has already been followed up."]
    assert state(app) == before


def test_a_roll_call_time_that_is_not_a_time_is_refused(app, browser, make_person):
    person = make_person()
    client, _ = browser("officer")
    data = roll_call_form([(person.id, "present", "")])
    data["checked_at"] = "yesterday morning"
    before = state(app)

    response = client.post(
        f"/monitoring/roll-call/{person.placement_id}", data=data, follow_redirects=True
    )

    # Flashed above the page, and under the field itself.
    assert messages(response) == [
        "Time of the roll call (local): Not a valid datetime value.",
        "Not a valid datetime value.",
    ]
    assert state(app) == before


def test_an_empty_placement_has_nobody_to_call(app, browser, make_person, make_period):
    make_period()
    make_person()  # creates the reference placements
    client, _ = browser("officer")
    with app.app_context():
        from rudenim.cases.models import Placement

        empty = db.session.scalar(select(Placement.id).where(Placement.name == "Hotel Ina Boi"))

    body = page(client.get(f"/monitoring/roll-call/{empty}"))

    assert "No one is placed here." in plain(body)
    assert "Record the roll call" not in body


def test_no_flag_for_someone_who_has_left_care(app, browser, make_person, make_period, move_person):
    period = make_period()
    person = make_person()
    move_person(person, "released")
    client, _ = browser("officer")
    assert "Propose a flag" not in page(client.get(f"/cases/{person.id}"))
    before = state(app)

    response = client.post(
        f"/monitoring/flags/new?person_id={person.id}", data=flag_form(person, period)
    )

    assert messages(response) == ["This person is no longer in the centre's care."]
    assert state(app) == before


def test_signed_out_pages_show_no_banner(app, client, make_period):
    make_period()

    body = page(client.get("/auth/login"))

    assert banner(body) is None
