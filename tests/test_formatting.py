"""Dates and times on pages: the same text as Flask-Babel's, in both languages."""

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from flask import session
from flask_babel import format_date, format_datetime, refresh

from rudenim.formatting import localdate, localdatetime

FORMATS = ("full", "long", "medium", "short", "EEEE d MMMM y")


@pytest.mark.parametrize("language", ["id", "en"])
def test_times_and_dates_read_as_babel_writes_them(app, language):
    pick = random.Random(language)
    with app.test_request_context():
        session["locale"] = language
        refresh()
        for _n in range(300):
            moment = datetime(2000, 1, 1) + timedelta(seconds=pick.randrange(40 * 365 * 86400))
            if pick.random() < 0.3:
                moment = moment.replace(tzinfo=UTC)
            for format in (*FORMATS, "dd MMM yyyy HH:mm"):
                assert localdatetime(moment, format) == format_datetime(moment, format)
            for format in FORMATS:
                assert localdate(moment.date(), format) == format_date(moment.date(), format)
            assert localdate(moment) == format_datetime(moment, "dd MMM yyyy")


def test_a_stored_time_is_shown_in_the_centres_zone_and_language(app):
    app.config["TIMEZONE"] = "Asia/Makassar"  # Kupang: UTC+8
    with app.test_request_context():
        session["locale"] = "id"
        refresh()
        assert localdatetime(datetime(2024, 11, 26, 23, 30)) == "27 Nov 2024 07.30.00"
        assert localdate(date(2024, 5, 6), "full") == "Senin, 06 Mei 2024"
        assert localdate(None) == localdatetime(None) == ""
        session["locale"] = "en"
        refresh()
        assert localdatetime(datetime(2024, 11, 26, 23, 30)) == "Nov 27, 2024, 7:30:00\u202fAM"
