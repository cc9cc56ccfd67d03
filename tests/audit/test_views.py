"""The audit log viewer: who may read it, its filters and its pages."""

import json
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from config import TestConfig
from rudenim.audit import capture, services
from rudenim.audit.context import Actor
from rudenim.audit.models import AuditEvent
from rudenim.extensions import db as _db
from tests.conftest import built_app

ROW = re.compile(r"<tr>\s*<td>(\d+)</td>")


def listed(response) -> list[int]:
    """The event ids the page lists, in page order."""
    assert response.status_code == 200, response.status_code
    return [int(number) for number in ROW.findall(response.get_data(as_text=True))]


@pytest.fixture
def english(client):
    """The interface in English (the default is Indonesian)."""
    response = client.post("/auth/language", data={"locale": "en"})
    assert response.status_code == 302


@pytest.fixture
def add_event(app, monkeypatch):
    """Append an explicit event at a chosen time; returns its id."""

    def _add(action, actor, *, at, object_type=None, object_id=None, subject=None, details=None):
        with monkeypatch.context() as patch, app.app_context():
            patch.setattr(capture, "utcnow", lambda: at)  # the event's time
            row = services.record_event(
                action,
                object_type=object_type,
                object_id=object_id,
                subject=subject,
                details=details,
                actor=actor,
            )
            _db.session.commit()
        return row["id"]

    return _add


BUDI = Actor(101, "Budi", "10.0.0.1")
SARI = Actor(102, "sari", "10.0.0.2")


@pytest.fixture
def trail(add_event):
    """Events by two users around the local midnights of 9-12 March 2024 (WITA = UTC+8)."""
    return {
        # 23:59 on 9 March, local time
        "budi_export": add_event(
            "export", BUDI, at=datetime(2024, 3, 9, 15, 59, tzinfo=UTC), object_type="List"
        ),
        # 00:00 on 10 March, local time
        "budi_view_12": add_event(
            "view_person",
            BUDI,
            at=datetime(2024, 3, 9, 16, 0, tzinfo=UTC),
            object_type="Person",
            object_id=12,
        ),
        # 18:00 on 10 March
        "sari_view_13": add_event(
            "view_person",
            SARI,
            at=datetime(2024, 3, 10, 10, 0, tzinfo=UTC),
            object_type="Person",
            object_id=13,
        ),
        # 12:00 on 11 March: an alias of person 12
        "sari_alias_of_12": add_event(
            "update",
            SARI,
            at=datetime(2024, 3, 11, 4, 0, tzinfo=UTC),
            object_type="Alias",
            object_id=5,
            subject=("Person", 12),
        ),
        # 00:30 on 12 March
        "sari_export": add_event(
            "export", SARI, at=datetime(2024, 3, 11, 16, 30, tzinfo=UTC), object_type="List"
        ),
    }


@pytest.fixture
def supervisor(english, login_as):
    return login_as("supervisor")


def ids(trail, *names) -> list[int]:
    """The trail's ids of these events, newest first as the page lists them."""
    return sorted((trail[name] for name in names), reverse=True)


@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_supervisors_and_admins_read_the_audit_log(client, english, login_as, role):
    login_as(role)

    response = client.get("/audit/")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Audit log" in page
    assert "login" in page


@pytest.mark.parametrize("role", ["officer", "viewer"])
def test_officers_and_viewers_are_refused_and_the_refusal_is_audited(
    app, client, english, login_as, role
):
    user_id = login_as(role)

    response = client.get("/audit/?action=login")

    assert response.status_code == 403
    assert "You do not have permission to do this." in response.get_data(as_text=True)
    with app.app_context():
        refusal = _db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "permission_denied")
        ).one()
        assert services.verify_chain().ok
    assert refusal.actor_id == user_id
    assert refusal.ip == "127.0.0.1"
    details = json.loads(refusal.details)
    assert details["permission"] == "audit.view"
    assert details["endpoint"] == "audit.index"
    assert details["path"] == "/audit/"


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get("/audit/")

    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


def test_the_log_lists_newest_first(client, supervisor, trail):
    shown = listed(client.get("/audit/"))

    assert shown == sorted(shown, reverse=True)
    assert set(trail.values()) <= set(shown)


def test_filter_by_user_ignores_case(client, supervisor, trail):
    response = client.get("/audit/?actor=budi")

    assert listed(response) == ids(trail, "budi_export", "budi_view_12")
    assert "2 events" in response.get_data(as_text=True)


def test_filter_by_action(client, supervisor, trail):
    response = client.get("/audit/?action=view_person")

    assert listed(response) == ids(trail, "budi_view_12", "sari_view_13")


def test_filter_by_user_and_action(client, supervisor, trail):
    response = client.get("/audit/?actor=sari&action=export")

    assert listed(response) == ids(trail, "sari_export")
    assert "1 event" in response.get_data(as_text=True)


def test_filter_by_object_includes_the_rows_that_belong_to_it(client, supervisor, trail):
    response = client.get("/audit/?object_type=Person&object_id=12")

    assert listed(response) == ids(trail, "budi_view_12", "sari_alias_of_12")


def test_filter_by_object_type_alone(client, supervisor, trail):
    response = client.get("/audit/?object_type=List")

    assert listed(response) == ids(trail, "budi_export", "sari_export")


def test_filter_by_local_dates(client, supervisor, trail):
    # Both ends are the centre's calendar days, not UTC ones.
    response = client.get("/audit/?date_from=2024-03-10&date_to=2024-03-11")

    assert listed(response) == ids(trail, "budi_view_12", "sari_view_13", "sari_alias_of_12")


def test_filter_from_a_date_on(client, supervisor, trail):
    response = client.get("/audit/?date_from=2024-03-12&actor=sari")

    assert listed(response) == ids(trail, "sari_export")


def test_filter_up_to_a_date(client, supervisor, trail):
    response = client.get("/audit/?date_to=2024-03-09")

    assert listed(response) == ids(trail, "budi_export")


def test_dates_at_the_calendars_edges_filter_nothing_out(client, supervisor, trail):
    # Found by the fuzz test: year 1 east of UTC begins in year 0, a 500.
    everything = listed(client.get("/audit/"))

    response = client.get("/audit/?date_from=0001-01-01&date_to=9999-12-31")

    assert response.status_code == 200
    assert listed(response) == everything
    assert "was not valid" not in response.get_data(as_text=True)


def test_a_filter_that_matches_nothing_says_so(client, supervisor, trail):
    response = client.get("/audit/?actor=nobody")

    assert listed(response) == []
    assert "No events match." in response.get_data(as_text=True)


def test_a_malformed_date_shows_a_message(client, supervisor, trail):
    response = client.get("/audit/?date_from=2024-13-45")

    assert response.status_code == 200
    assert "Not a valid date value." in response.get_data(as_text=True)


def test_an_end_date_before_the_start_date_shows_a_message(client, supervisor, trail):
    response = client.get("/audit/?date_from=2024-03-11&date_to=2024-03-10")

    assert response.status_code == 200
    assert "The end date is before the start date." in response.get_data(as_text=True)


def test_a_malformed_page_number_shows_the_first_page(client, supervisor, trail):
    response = client.get("/audit/?page=abc&action=export")

    assert listed(response) == ids(trail, "budi_export", "sari_export")


def test_event_text_is_escaped(client, supervisor, add_event):
    add_event(
        "export",
        BUDI,
        at=datetime(2024, 3, 9, 12, 0, tzinfo=UTC),
        details={"note": "<script>alert(1)</script>"},
    )

    page = client.get("/audit/?action=export").get_data(as_text=True)

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_times_are_shown_in_the_centre_time_zone(client, supervisor, trail):
    page = client.get("/audit/?action=export&actor=budi").get_data(as_text=True)

    # 15:59 UTC is 23:59 WITA.
    assert "Mar 9, 2024, 11:59:00" in page


class TestPagination:
    PAGE_SIZE = 3
    EXPORTS = 7

    @pytest.fixture
    def app(self, database, tmp_path):
        """The app with a page of three events."""
        assert TestConfig.AUDIT_PAGE_SIZE != self.PAGE_SIZE
        with built_app(database, tmp_path, AUDIT_PAGE_SIZE=self.PAGE_SIZE) as application:
            yield application

    @pytest.fixture
    def exports(self, add_event):
        return [
            add_event("export", BUDI, at=datetime(2024, 3, 1, hour, tzinfo=UTC))
            for hour in range(self.EXPORTS)
        ]

    def test_pages_split_the_filtered_events(self, client, supervisor, exports):
        newest_first = sorted(exports, reverse=True)

        first = client.get("/audit/?action=export")
        second = client.get("/audit/?action=export&page=2")
        third = client.get("/audit/?action=export&page=3")

        assert listed(first) == newest_first[0:3]
        assert listed(second) == newest_first[3:6]
        assert listed(third) == newest_first[6:]
        assert "Page 1 of 3" in first.get_data(as_text=True)
        assert "7 events" in first.get_data(as_text=True)

    def test_page_links_keep_the_filters(self, client, supervisor, exports):
        page = client.get("/audit/?action=export&page=2").get_data(as_text=True)

        links = re.findall(r'<nav class="pager".*?</nav>', page, re.S)[0]
        hrefs = re.findall(r'href="([^"]+)"', links)
        assert len(hrefs) == 2
        for href, number in zip(hrefs, ("1", "3"), strict=True):
            assert f"page={number}" in href
            assert "action=export" in href

    def test_a_page_past_the_end_is_empty(self, client, supervisor, exports):
        response = client.get("/audit/?action=export&page=9")

        assert listed(response) == []
        assert "No events match." in response.get_data(as_text=True)
