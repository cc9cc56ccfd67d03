"""The dashboard: the centre at a glance, charts drawn on the server, the disparity check.

People come from the registry's ``make_person`` (detained, Afghan, arrived 100
days ago, unless told otherwise; see tests/reports/conftest.py); violations,
periods and flags from the conduct and monitoring factories, registered here.
"""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

import tests.conduct.conftest as conduct
import tests.monitoring.conftest as monitoring
from rudenim.audit.context import Actor, acting_as
from rudenim.cases.models import Placement
from rudenim.clock import utcnow
from rudenim.conduct.models import Violation
from rudenim.demo import ensure_demo_accounts, load_demo
from rudenim.extensions import db
from tests.monitoring.conftest import banner, page, plain
from tests.reports.conftest import bring_to

# The conduct and monitoring factories, as fixtures of this module.
catalogue = conduct.catalogue
make_violation = conduct.make_violation
staff = monitoring.staff
make_period = monitoring.make_period
make_flag = monitoring.make_flag
check_in = monitoring.check_in

ROLES = ("officer", "supervisor", "viewer", "admin")
CASE_SECTIONS = (
    "in-care",
    "verification-funnels",
    "monitoring-summary",
    "reviews-due",
    "violations-chart",
    "disparity",
)
CHARTS = (
    "chart-status",
    "chart-nationality",
    "chart-ethnicity",
    "chart-funnel-unhcr",
    "chart-funnel-iom",
    "chart-violations",
)


@pytest.fixture
def open_as(app, sign_in):
    """A new browser signed in with ``role``, reading English."""

    def _open(role):
        browser = app.test_client()
        sign_in(role, browser=browser)
        return browser

    return _open


def chart(body: str, chart_id: str) -> str:
    match = re.search(rf'<figure class="chart" id="{chart_id}">(.*?)</figure>', body, re.S)
    assert match, chart_id
    return match.group(1)


def chart_numbers(body: str, chart_id: str) -> dict[str, int]:
    """A bar chart's numbers, from the table that goes with it."""
    table = re.search(r"<table>(.*?)</table>", chart(body, chart_id), re.S).group(1)
    rows = re.findall(r'<th scope="row">(.*?)</th><td class="num">(\d+)</td>', table)
    return {plain(label): int(value) for label, value in rows}


def figure(body: str, element_id: str) -> int:
    return int(re.search(rf'id="{element_id}">(\d+)<', body).group(1))


def section(body: str, section_id: str) -> str:
    match = re.search(rf'<section[^>]*id="{section_id}"[^>]*>(.*?)</section>', body, re.S)
    assert match, section_id
    return match.group(1)


def disparity_rows(body: str) -> dict[str, list[tuple[str, bool]]]:
    """Per nationality: each cell's text and whether it is highlighted."""
    tbody = re.search(r"<tbody>(.*?)</tbody>", section(body, "disparity"), re.S).group(1)
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", tbody, re.S):
        cells = re.findall(r'<td class="([^"]*)">(.*?)</td>|<td>(.*?)</td>', row, re.S)
        parsed = [
            (plain(text or bare), "disparity-high" in css.split()) for css, text, bare in cells
        ]
        rows[parsed[0][0]] = parsed[1:]
    return rows


def assert_self_contained(body: str) -> None:
    """Charts are inline SVG: no chart script, nothing fetched from elsewhere."""
    main = body[body.index('<main id="main">') :]
    assert "<script" not in main
    # The only script is the application's own, served locally.
    assert re.findall(r"<script[^>]*>", body) == ['<script src="/static/js/app.js" defer>']
    assert not re.search(r'(?:src|href|action)="(?:https?:)?//', body)
    assert "url(http" not in body and "@import" not in body


# --- who sees what ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_the_dashboard_renders_for_every_role_on_an_empty_database(app, open_as, role):
    body = page(open_as(role).get("/"))

    assert "<h1>Dashboard</h1>" in body
    assert_self_contained(body)
    if role == "admin":
        for section_id in CASE_SECTIONS:
            assert f'id="{section_id}"' not in body
        assert "chart-nationality" not in body and "<svg" not in body
        assert "Manage user accounts" in body
        return
    assert "No one is registered yet." in section(body, "in-care")
    for chart_id in CHARTS:
        assert "<svg" in chart(body, chart_id) and "<table>" in chart(body, chart_id)
    assert figure(body, "checkins-overdue") == 0
    assert figure(body, "absences-open") == 0
    assert figure(body, "flags-active") == 0
    assert "No monitoring period is active." in plain(section(body, "monitoring-summary"))
    assert "Detention reviews overdue: 0" in plain(body)


def test_the_dashboard_renders_the_demo_data_for_every_role(app, open_as):
    with app.app_context(), acting_as(Actor(None, "demo-load")):
        ensure_demo_accounts()
        db.session.flush()
        totals = load_demo(people=300, seed=1)
        db.session.commit()
    assert totals

    for role in ROLES:
        body = page(open_as(role).get("/"))
        assert_self_contained(body)
        assert banner(body) is not None  # the demo opens an election period
        if role == "admin":
            assert "chart-nationality" not in body and 'id="disparity"' not in body
            continue
        in_care = int(re.search(r'<span class="big">(\d+)</span>', body).group(1))
        assert 0 < in_care <= 300
        assert sum(chart_numbers(body, "chart-status").values()) == in_care
        assert sum(chart_numbers(body, "chart-nationality").values()) == in_care
        assert sum(chart_numbers(body, "chart-ethnicity").values()) == in_care
        for agency in ("unhcr", "iom"):
            assert sum(chart_numbers(body, f"chart-funnel-{agency}").values()) == in_care
        assert figure(body, "flags-active") > 0
        rows = disparity_rows(body)
        assert sum(int(cells[0][0]) for cells in rows.values()) == in_care
        assert "Pilkada" in plain(section(body, "monitoring-summary"))


# --- the figures ----------------------------------------------------------------------------


def test_each_chart_has_its_numbers_in_a_table(
    app, open_as, make_person, make_placement, make_staff, make_violation
):
    blok = make_placement(kind="centre", name="Blok Melati", capacity=2)
    for _ in range(3):
        make_person(status="detained", placement=blok.id)
    for _ in range(2):
        make_person(status="community_housing", nationality="MM", claimed_ethnicity="Rohingya")
    stalled = make_person(status="community_housing", nationality="SO")
    officer = make_staff("officer")
    bring_to(app, stalled.id, "unhcr", "in_progress", actor_id=officer.id, start=95)
    make_violation(stalled, step="decided")
    make_violation(stalled, step="decided", outcome="dismissed")
    make_violation(stalled, step="reported")

    body = page(open_as("viewer").get("/"))

    assert re.search(r'People in care: <span class="big">6</span>', body)
    assert chart_numbers(body, "chart-status") == {"Detained": 3, "Community housing": 3}
    assert chart_numbers(body, "chart-nationality") == {
        "Afghanistan": 3,
        "Myanmar": 2,
        "Somalia": 1,
    }
    assert chart_numbers(body, "chart-ethnicity") == {"Not stated": 4, "Rohingya": 2}
    with app.app_context():
        places = db.session.scalars(select(Placement).where(Placement.is_active.is_(True))).all()
        centre = [p for p in places if p.kind.value == "centre"]
        housing = [p for p in places if p.kind.value == "housing"]
    occupancy = plain(re.search(r'id="occupancy">(.*?)</table>', body, re.S).group(1))
    assert f"Centre {len(centre)} 3 {sum(p.capacity or 0 for p in centre)}" in occupancy
    assert f"Housing {len(housing)} 3 {sum(p.capacity or 0 for p in housing)}" in occupancy
    over = plain(re.search(r'id="over-capacity">(.*?)</table>', body, re.S).group(1))
    assert "Blok Melati 3 2 over capacity" in over
    assert chart_numbers(body, "chart-funnel-unhcr")["In progress"] == 1
    assert chart_numbers(body, "chart-funnel-unhcr")["Not referred"] == 5
    assert chart_numbers(body, "chart-funnel-iom")["Not referred"] == 6
    funnels = plain(section(body, "verification-funnels"))
    assert "1 stalled track" in funnels and "No stalled tracks." in funnels
    months = re.search(r"<table>(.*?)</table>", chart(body, "chart-violations"), re.S).group(1)
    header = [plain(h) for h in re.findall(r"<th[^>]*>(.*?)</th>", months.split("</thead>")[0])]
    this_month = re.findall(r"<tr>(.*?)</tr>", months.split("<tbody>")[1], re.S)[-1]
    counts = [int(v) for v in re.findall(r'<td class="num">(\d+)</td>', this_month)]
    by_status = dict(zip(header[1:], counts, strict=True))
    assert (by_status["Reported"], by_status["Upheld"], by_status["Dismissed"]) == (1, 1, 1)
    assert sum(by_status.values()) == 3
    # The three detained people arrived 100 days ago and were never reviewed.
    assert "Detention reviews overdue: 3" in plain(body)


def test_the_monitoring_figures(app, open_as, make_person, make_period, make_flag, check_in):
    period = make_period(interval=30 * 24, name="Pilkada Serentak")
    seen = make_person(status="community_housing")
    check_in(seen, at=utcnow() - timedelta(days=2))
    make_person(status="community_housing")  # never seen in 100 days: overdue
    make_person(status="community_housing", arrived_on=monitoring.day(-29))  # due tomorrow
    absent = make_person(status="community_housing")
    check_in(absent, "absent", note="Not at the site.")
    flagged = make_person(status="community_housing")
    make_flag(flagged, period=period)  # no check-in within a day: overdue

    body = page(open_as("officer").get("/"))

    summary = plain(section(body, "monitoring-summary"))
    assert f"Pilkada Serentak — until {monitoring.shown(period.ends_on)}" in summary
    assert figure(body, "checkins-overdue") == 2
    assert figure(body, "checkins-due") == 1
    assert figure(body, "absences-open") == 1
    assert figure(body, "flags-active") == 1
    assert absent.case_number in summary and flagged.case_number in summary


# --- the disparity check ------------------------------------------------------------------------


def test_the_disparity_table_highlights_shares_above_one_and_a_half_times(
    app, open_as, make_person, make_flag, make_violation
):
    people = {
        code: [make_person(nationality=code) for _ in range(n)]
        for code, n in (("AF", 4), ("MM", 4), ("SO", 2))
    }
    # Flags: Myanmar 2 of 4 (50% against 40% of people: 1.25×, not highlighted),
    # Somalia 2 of 4 (50% against 20%: 2.5×, highlighted).
    for person in people["MM"][:2] + people["SO"]:
        make_flag(person)
    # Upheld violations in 90 days: Myanmar 3 of 4 (75% against 40%: highlighted),
    # Afghanistan 1 of 4 (25%); a dismissed one and an old one do not count.
    for person in people["MM"][:3] + people["AF"][:1]:
        make_violation(person, step="decided")
    make_violation(people["SO"][0], step="decided", outcome="dismissed")
    old = make_violation(people["SO"][1], step="decided")
    with app.app_context():
        db.session.execute(
            update(Violation).where(Violation.id == old.id).values(decided_on=monitoring.day(-91))
        )
        db.session.commit()

    rows = disparity_rows(page(open_as("supervisor").get("/")))

    # people, share, flags, flag share, violations, violation share
    assert rows["Afghanistan"] == [
        ("4", False),
        ("40.0%", False),
        ("0", False),
        ("0.0%", False),
        ("1", False),
        ("25.0%", False),
    ]
    assert rows["Myanmar"] == [
        ("4", False),
        ("40.0%", False),
        ("2", False),
        ("50.0%", False),
        ("3", False),
        ("75.0% high", True),
    ]
    assert rows["Somalia"] == [
        ("2", False),
        ("20.0%", False),
        ("2", False),
        ("50.0% high", True),
        ("0", False),
        ("0.0%", False),
    ]


def test_a_share_at_the_population_share_is_not_highlighted(app, open_as, make_person, make_flag):
    afghans = [make_person(nationality="AF") for _ in range(2)]
    somalis = [make_person(nationality="SO") for _ in range(2)]
    make_flag(afghans[0])
    make_flag(somalis[0])

    rows = disparity_rows(page(open_as("viewer").get("/")))

    assert rows["Afghanistan"][3] == ("50.0%", False)
    assert rows["Somalia"][3] == ("50.0%", False)


# --- cost ---------------------------------------------------------------------------------------


def test_the_dashboard_costs_the_same_number_of_queries_at_any_size(
    app,
    open_as,
    make_person,
    make_placement,
    make_period,
    make_flag,
    check_in,
    make_violation,
    count_queries,
):
    period = make_period()
    officer = open_as("officer")
    small = make_placement(kind="centre", name="Blok Kecil", capacity=1)

    def add(n):
        for _ in range(n):
            housed = make_person(status="community_housing", nationality="MM")
            make_flag(housed, period=period)
            check_in(housed, "absent")
            make_violation(housed, step="decided")
            make_person(status="detained", placement=small.id)

    def measure():
        officer.get("/")  # warm caches (translations, templates)
        with count_queries() as statements:
            body = page(officer.get("/"))
        return len(statements), body

    add(2)
    before, body = measure()
    assert figure(body, "flags-active") == 2 and figure(body, "absences-open") == 2
    add(5)
    after, body = measure()
    assert figure(body, "flags-active") == 7 and figure(body, "absences-open") == 7
    assert "Detention reviews overdue: 7" in plain(body)

    assert after == before


# --- reuse of the figures -------------------------------------------------------------------


@pytest.fixture
def cached(app, monkeypatch):
    """The figures reused for 30 seconds, on a clock the test moves."""
    import rudenim.reports.dashboard as dashboard

    app.config["DASHBOARD_CACHE_SECONDS"] = 30
    now = [1000.0]
    monkeypatch.setattr(dashboard, "monotonic", lambda: now[0])

    def advance(seconds):
        now[0] += seconds

    return advance


def in_care(body: str) -> int:
    return int(re.search(r'<span class="big">(\d+)</span>', body).group(1))


def test_reused_figures_are_at_most_the_setting_old(app, open_as, make_person, cached):
    make_person()
    officer = open_as("officer")
    body = page(officer.get("/"))
    assert in_care(body) == 1
    assert "refreshed at most every 30 seconds" in plain(body)

    make_person()
    cached(29)
    assert in_care(page(officer.get("/"))) == 1  # the figures of 29 seconds ago
    cached(2)
    assert in_care(page(officer.get("/"))) == 2  # older than 30 seconds: counted again


def test_reused_figures_are_per_language(app, open_as, make_person, cached):
    make_person()
    english = open_as("officer")
    indonesian = open_as("supervisor")
    indonesian.post("/auth/language", data={"locale": "id", "next": "/"})

    assert "By custody status" in page(english.get("/"))
    body = page(indonesian.get("/"))
    assert "Menurut status penahanan" in body and "By custody status" not in body
    assert "Selamat datang" in body  # the page around the figures is the reader's own


def test_the_setting_never_exceeds_a_minute(monkeypatch):
    import importlib

    import config

    monkeypatch.setenv("DASHBOARD_CACHE_SECONDS", "600")
    try:
        assert importlib.reload(config).Config.DASHBOARD_CACHE_SECONDS == 60
    finally:
        monkeypatch.delenv("DASHBOARD_CACHE_SECONDS")
        importlib.reload(config)
