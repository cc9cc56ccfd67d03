"""Staff journeys through the running application, in Chromium.

The journeys run in the order of this file and build on each other, as a day in
the centre does: the officer's person and violation (journey 1) are decided in
journey 2 and flagged in journey 3, and the viewer looks at them in journey 4.
Pages are in Indonesian, the default, and elements are found by id and name;
the viewer's journey switches to English and reads English text.
"""

import csv
import re
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import openpyxl
import pyotp
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ACCOUNTS, TIMEOUT_MS, TIMEZONE

pytestmark = pytest.mark.e2e

expect.set_options(timeout=TIMEOUT_MS)

FIRST_NAME = "Mohammad Rahman"
#: A transliteration of the same name: the duplicate check must show the first person.
VARIANT_NAME = "Muhammad Rehman"


def centre_today() -> date:
    """Today in the centre's time zone, as the server counts days."""
    return datetime.now(ZoneInfo(TIMEZONE)).date()


def needs(story: dict, key: str) -> int | str:
    """A record an earlier journey made; a clear failure when that journey did not."""
    if key not in story:
        pytest.fail(f"no {key} from an earlier journey: run the whole file, in order")
    return story[key]


def send_sign_in(page: Page, username: str, password: str) -> None:
    """Fill in the sign-in form and send it."""
    page.goto("/auth/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#submit")


def sign_in(page: Page, username: str, password: str) -> None:
    """Sign in and wait to leave the sign-in page (for wherever the app sends the user)."""
    send_sign_in(page, username, password)
    page.wait_for_url(lambda url: "/auth/login" not in url)


def sign_in_as(page: Page, who: str) -> None:
    """Sign in as one of the accounts the server was started with."""
    sign_in(page, ACCOUNTS[who].username, ACCOUNTS[who].password)


def sign_out(page: Page) -> None:
    """Sign out with the header's button."""
    page.click("form[action='/auth/logout'] button")
    page.wait_for_url("**/auth/login")


def option_value(page: Page, select: str, label_start: str) -> str:
    """The value of the option of ``select`` whose label starts with ``label_start``."""
    value = page.eval_on_selector(
        select,
        "(el, start) => [...el.options].find((o) => o.text.trim().startsWith(start))?.value",
        label_start,
    )
    assert value, f"no option starting with {label_start!r} in {select}"
    return value


def register_person(page: Page, full_name: str, born: date, nationality: str) -> None:
    """Fill the registration form (detained in Blok A since 30 days ago) and send it."""
    page.fill("#full_name", full_name)
    page.select_option("#sex", "male")
    page.fill("#date_of_birth", born.isoformat())
    page.select_option("#nationality", nationality)
    page.fill("#languages", "Dari, Farsi")
    page.select_option("#legal_category", "asylum_seeker")
    page.fill("#arrived_on", (centre_today() - timedelta(days=30)).isoformat())
    page.select_option("#status", "detained")
    page.select_option("#placement_id", option_value(page, "#placement_id", "Blok A"))
    page.click("#submit")


def person_on_page(page: Page) -> tuple[int, str]:
    """(id, case number) of the person page the browser is on."""
    page.wait_for_url(re.compile(r"/cases/\d+$"))
    person_id = int(page.url.rsplit("/", 1)[1])
    return person_id, page.locator("main h1 small").inner_text().strip()


def test_officer_registers_a_person_and_records_custody_verification_and_a_violation(
    page: Page, story: dict
):
    today = centre_today()
    sign_in_as(page, "officer")

    page.goto("/cases/new")
    register_person(page, FIRST_NAME, date(1990, 5, 1), "AF")
    person_id, case_number = person_on_page(page)
    expect(page.locator(".flash-success")).to_contain_text(case_number)

    # The same nationality and a transliterated name: the duplicate check stops the officer.
    page.goto("/cases/new")
    register_person(page, VARIANT_NAME, date(1996, 2, 3), "AF")
    matches = page.locator("#possible-matches")
    expect(matches).to_contain_text(case_number)
    expect(matches).to_contain_text(FIRST_NAME)
    assert page.url.endswith("/cases/new")
    expect(page.locator("#full_name")).to_have_value(VARIANT_NAME)
    page.check("#confirm_different")
    page.click("#submit")
    other_id, other_case = person_on_page(page)
    assert other_id != person_id and other_case != case_number
    expect(page.locator("main h1")).to_contain_text(VARIANT_NAME)

    # A custody change: from Blok A to community housing.
    page.goto(f"/cases/{person_id}")
    custody = page.locator("#custody")
    custody.locator("summary").click()
    custody.locator("[name=status]").select_option("community_housing")
    custody.locator("[name=placement_id]").select_option(
        option_value(page, "#custody [name=placement_id]", "Wisma Lavender")
    )
    custody.locator("[name=effective_on]").fill(today.isoformat())
    custody.locator("[name=reason]").fill("Dipindahkan ke penampungan komunitas atas izin kepala.")
    custody.locator("[type=submit]").click()
    expect(page.locator(".flash-success")).to_be_visible()
    expect(custody.locator("tbody tr")).to_have_count(2)
    expect(page.locator("#detention")).to_contain_text("Wisma Lavender")

    # A verification step: referred to UNHCR, with the agency's reference.
    unhcr = page.locator("#verification .track").filter(has=page.locator("#submit-unhcr"))
    unhcr.locator("summary").click()
    page.select_option("#to_status-unhcr", "referred")
    page.fill("#occurred_on-unhcr", today.isoformat())
    page.fill("#reference-unhcr", "KPG-24-00117")
    page.click("#submit-unhcr")
    expect(page.locator(".flash-success")).to_be_visible()
    expect(unhcr.locator(".vstatus-referred")).to_be_visible()
    expect(unhcr).to_contain_text("KPG-24-00117")

    # A violation of the curfew, reported from the person's page.
    page.click(f"#conduct a[href='/conduct/new?person_id={person_id}']")
    expect(page.locator("#person")).to_have_value(case_number)
    page.select_option("#rule_id", option_value(page, "#rule_id", "TT-02"))
    page.fill("#occurred_at", f"{(today - timedelta(days=1)).isoformat()}T22:30")
    page.fill("#location", "Wisma Lavender")
    page.fill("#description", "Kembali ke wisma pukul 22.30, setelah jam malam pukul 21.00.")
    page.fill("#witnesses", "Petugas jaga malam")
    page.select_option("#severity", "minor")
    page.click("#submit")
    page.wait_for_url(re.compile(r"/conduct/\d+$"))
    expect(page.locator("#charge")).to_contain_text(case_number)
    expect(page.locator("#charge")).to_contain_text("TT-02")

    story.update(
        person_id=person_id,
        case_number=case_number,
        violation_id=int(page.url.rsplit("/", 1)[1]),
    )


def test_supervisor_hears_and_decides_the_violation(page: Page, story: dict):
    violation_id = needs(story, "violation_id")
    today = centre_today()
    sign_in_as(page, "supervisor")
    page.goto(f"/conduct/{violation_id}")

    notify = page.locator(f"form[action='/conduct/{violation_id}/notify']")
    notify.locator("[name=language]").fill("Dari")
    notify.locator("[name=interpreter]").fill("Ahmad Zia")
    notify.locator("[type=submit]").click()
    expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator("#review")).to_contain_text("Ahmad Zia")

    statement = page.locator(f"form[action='/conduct/{violation_id}/statement']")
    statement.locator("[name=statement]").fill("Saya terlambat karena bus dari kota tidak datang.")
    statement.locator("[type=submit]").click()
    expect(page.locator("#review")).to_contain_text("bus dari kota")

    page.click(f"#decision a[href='/conduct/{violation_id}/decide']")
    page.select_option("#outcome", "upheld")
    page.fill("#reasons", "Terlambat satu setengah jam; alasan bus tidak dapat diperiksa.")
    page.fill("#alternatives_considered", "Teguran lisan; tidak cukup karena ini kedua kalinya.")
    page.select_option("#sanction", "privilege_restriction")
    page.fill("#privilege", "Izin keluar pada sore hari")
    expect(page.locator("#appeal_rights_told_on")).to_have_value(today.isoformat())
    # TT-02 allows at most seven days: a longer restriction is refused, nothing is decided.
    page.fill("#ends_on", (today + timedelta(days=10)).isoformat())
    page.click("#submit")
    expect(page.locator("#ends_on ~ p.error")).to_be_visible()
    assert page.url.endswith(f"/conduct/{violation_id}/decide")

    page.fill("#ends_on", (today + timedelta(days=5)).isoformat())
    page.click("#submit")
    page.wait_for_url(re.compile(rf"/conduct/{violation_id}$"))
    expect(page.locator("#violation-status")).to_have_text("Terbukti")
    expect(page.locator("#decision")).to_contain_text("Izin keluar pada sore hari")
    expect(page.locator("#decision")).to_contain_text(ACCOUNTS["supervisor"].username)


def test_monitoring_flag_is_proposed_and_approved_and_the_board_is_exported(
    page: Page, story: dict, tmp_path
):
    person_id = needs(story, "person_id")
    case_number = needs(story, "case_number")
    today = centre_today()
    period_end = today + timedelta(days=14)

    sign_in_as(page, "supervisor")
    page.goto("/monitoring/")
    page.locator("#periods > details > summary").click()
    period = page.locator("form[action='/monitoring/periods']")
    period.locator("[name=name]").fill("Pilkada 2024")
    period.locator("[name=kind]").select_option("election")
    period.locator("[name=starts_on]").fill(today.isoformat())
    period.locator("[name=ends_on]").fill(period_end.isoformat())
    period.locator("[name=checkin_interval_hours]").fill("12")
    period.locator("[type=submit]").click()
    expect(page.locator(".flash-success")).to_contain_text("Pilkada 2024")
    expect(page.locator("#periods tbody")).to_contain_text("Pilkada 2024")
    sign_out(page)

    sign_in_as(page, "officer")
    page.goto(f"/monitoring/flags/new?person_id={person_id}")
    expect(page.locator("#ends_on")).to_have_value(period_end.isoformat())
    page.select_option("#category", "absconding_risk")
    page.fill("#reason", "Dia berkata akan pergi ke Jakarta sebelum pemilihan.")
    page.fill("#handling_instructions", "Tanyakan kabarnya; laporkan ke pengawas jaga.")
    page.click("#submit")
    page.wait_for_url(re.compile(r"/monitoring/flags/\d+$"))
    flag_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("#flag-state")).to_have_text("Diusulkan")
    story["flag_id"] = flag_id
    sign_out(page)

    sign_in_as(page, "supervisor2")
    page.goto(f"/monitoring/flags/{flag_id}")
    decide = page.locator(f"form[action='/monitoring/flags/{flag_id}/decide']")
    decide.locator("[name=decision]").select_option("approve")
    decide.locator("[name=note]").fill("Alasan jelas; pengawasan sampai akhir periode.")
    decide.locator("[type=submit]").click()
    expect(page.locator("#flag-state")).to_have_text("Disetujui")
    expect(page.locator("#lift")).to_be_visible()

    page.goto("/cases/verification?agency=unhcr")
    export = page.locator("#export-form")
    export.locator("[name=profile]").select_option("unhcr")
    with page.expect_download() as csv_download:
        export.locator("button[formaction='/reports/verification.csv']").click()
    csv_path = tmp_path / csv_download.value.suggested_filename
    csv_download.value.save_as(csv_path)
    assert csv_path.suffix == ".csv"
    with csv_path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:2] == ["Nomor kasus", "Nama"]
    row = next(row for row in rows[1:] if row[0] == case_number)
    assert row[1] == FIRST_NAME
    assert "KPG-24-00117" in row

    with page.expect_download() as xlsx_download:
        export.locator("button[formaction='/reports/verification.xlsx']").click()
    xlsx_path = tmp_path / xlsx_download.value.suggested_filename
    xlsx_download.value.save_as(xlsx_path)
    assert xlsx_path.suffix == ".xlsx"
    workbook = openpyxl.load_workbook(xlsx_path)
    assert workbook.sheetnames == ["Verifikasi", "Tentang daftar ini"]
    listed = [row[0] for row in workbook.worksheets[0].iter_rows(values_only=True)]
    assert listed[0] == "Nomor kasus"
    assert case_number in listed


def test_viewer_sees_the_dashboard_in_english_and_is_refused_every_change(page: Page, story: dict):
    person_id = needs(story, "person_id")
    violation_id = needs(story, "violation_id")
    flag_id = needs(story, "flag_id")
    sign_in_as(page, "viewer")

    page.select_option("#locale", "en")  # the select sends its form when changed
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("main h1")).to_have_text("Dashboard")
    expect(page.locator("main")).to_contain_text("Welcome, pemantau.")
    expect(page.locator("#in-care")).to_contain_text("People in care")
    expect(page.locator("a[href='/cases/new']")).to_have_count(0)

    # Every page the viewer may read shows no button that changes anything.
    no_changes = "main form[method=post] :is(button, input[type=submit])"
    for path in (
        f"/cases/{person_id}",
        f"/conduct/{violation_id}",
        f"/monitoring/flags/{flag_id}",
        "/monitoring/",
        "/cases/verification",
    ):
        page.goto(path)
        expect(page.locator(no_changes)).to_have_count(0)
    page.goto(f"/cases/{person_id}")
    expect(page.locator("main h1")).to_contain_text(FIRST_NAME)
    expect(page.locator("#identity h2")).to_have_text("Identity")
    expect(page.locator(f"a[href='/cases/{person_id}/edit']")).to_have_count(0)
    expect(page.locator("#conduct a[href^='/conduct/new']")).to_have_count(0)

    response = page.goto("/cases/new")
    assert response.status == 403
    expect(page.locator("main")).to_contain_text("You do not have permission to do this.")

    # Forged submissions, with a valid CSRF token, from the viewer's own page.
    page.goto(f"/cases/{person_id}")
    token = page.locator("input[name=csrf_token]").first.input_value()
    targets = [
        "/cases/new",
        f"/cases/{person_id}/edit",
        f"/cases/{person_id}/custody",
        f"/cases/{person_id}/verification/unhcr",
        "/conduct/new",
        f"/conduct/{violation_id}/notify",
        f"/conduct/{violation_id}/decide",
        "/monitoring/periods",
        f"/monitoring/flags/new?person_id={person_id}",
        f"/monitoring/flags/{flag_id}/decide",
        "/reports/verification.csv",
        "/auth/users/new",
    ]
    statuses = page.evaluate(
        """async ([token, targets]) => {
            const statuses = {};
            for (const target of targets) {
                const body = new FormData();
                body.append("csrf_token", token);
                const response = await fetch(target, {method: "POST", body, redirect: "manual"});
                statuses[target] = response.status;
            }
            return statuses;
        }""",
        [token, targets],
    )
    assert statuses == dict.fromkeys(targets, 403)


def test_admin_creates_a_user_and_resets_the_password(page: Page):
    sign_in_as(page, "admin")
    page.goto("/auth/users/")
    page.click("main a[href='/auth/users/new']")
    page.fill("#username", "petugasbaru")
    page.fill("#full_name", "Yohanes Tefa")
    page.select_option("#role", "officer")
    page.click("#submit")
    first_password = page.locator("#one-time-password code").inner_text().strip()
    assert len(first_password) >= 12

    page.click("main a[href^='/auth/users/']")
    expect(page.locator("main h1")).to_have_text("petugasbaru")
    page.click("form[action$='/reset-password'] button")
    reset_password = page.locator("#one-time-password code").inner_text().strip()
    assert reset_password != first_password
    sign_out(page)

    # The first one-time password no longer works; the reset one does, once, to choose another.
    send_sign_in(page, "petugasbaru", first_password)
    expect(page.locator(".flash-error")).to_be_visible()
    assert "/auth/login" in page.url

    sign_in(page, "petugasbaru", reset_password)
    assert page.url.endswith("/auth/password")
    page.goto("/cases/")
    assert page.url.endswith("/auth/password")
    page.fill("#current_password", reset_password)
    page.fill("#password", "sandi-baru-yohanes-2024")
    page.fill("#confirm", "sandi-baru-yohanes-2024")
    page.click("#submit")
    page.wait_for_url(re.compile(r"^http://[^/]+/$"))
    expect(page.locator(".flash-success")).to_be_visible()
    page.goto("/cases/")
    assert page.url.endswith("/cases/")


def test_user_enrols_in_two_factor_sign_in_and_signs_in_with_a_code(page: Page):
    account = ACCOUNTS["twofactor"]
    sign_in_as(page, "twofactor")
    page.goto("/auth/account")
    page.click("#twofactor-state")
    page.wait_for_url("**/auth/2fa/setup")
    expect(page.locator("#qr-code svg")).to_be_visible()
    totp = pyotp.TOTP(page.locator("#totp-secret").inner_text().strip())
    page.fill("#code", totp.now())
    page.click("#submit")
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    sign_out(page)

    # The password alone opens nothing.
    sign_in_as(page, "twofactor")
    assert page.url.endswith("/auth/2fa")
    page.goto("/auth/account")
    assert "/auth/login" in page.url
    page.goto("/auth/2fa")
    # The enrolment used the code of this time step; each code is accepted once,
    # so sign in with the next step's code (the server accepts one step ahead).
    page.fill("#code", totp.at(time.time() + 30))
    page.click("#submit")
    page.wait_for_url(lambda url: "/auth/2fa" not in url)
    page.goto("/auth/account")
    expect(page.locator("main")).to_contain_text(account.username)
    expect(page.locator("span#twofactor-state")).to_be_visible()
