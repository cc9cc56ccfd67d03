"""Crash safety: SIGKILL the server in the middle of a stream of writes on SQLite.

gunicorn (2 workers, the real settings: CSRF on) serves a SQLite file. Writers
record check-ins and report violations over HTTP and remember every one the
server acknowledged. Once a few dozen are in, the whole server - master and
workers - is killed with SIGKILL while requests are in flight. It is started
again on the same file, and then: ``PRAGMA integrity_check`` says ok, every
acknowledged write is there, the restarted server takes writes, and
``flask audit verify`` passes.
"""

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import select

from rudenim import create_app
from rudenim.cases.models import CustodyStatus, Person
from rudenim.clock import centre_zone
from rudenim.conduct.models import HouseRule
from rudenim.extensions import db as _db
from tests.conftest import MIGRATIONS, PASSWORD
from tests.conftest import test_settings as settings_with
from tests.load.loadtest import (
    SECRET_KEY,
    Browser,
    Failure,
    Stats,
    csrf_token,
    start_gunicorn,
    stop,
)
from tests.populated import populate

ROOT = Path(__file__).resolve().parent.parent
#: Who a roll call lists.
ROLL_CALL = (CustodyStatus.DETAINED, CustodyStatus.COMMUNITY_HOUSING)
#: Acknowledged writes to wait for before the kill, and the most any writer makes.
KILL_AFTER = 40
MAX_WRITES = 2_000


def build_database(path: Path, instance: Path) -> dict:
    """A migrated SQLite file with demo people and a user to write as."""
    from rudenim.audit.context import Actor, acting_as
    from rudenim.auth.services import create_user

    app = create_app(
        settings_with(
            SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}", RUDENIM_INSTANCE_PATH=str(instance)
        )
    )
    with app.app_context():
        upgrade(directory=MIGRATIONS)
        _db.engine.dispose()
    populate(app, people=30)
    with app.app_context():
        with acting_as(Actor(None, "test-setup")):
            create_user("crash-officer", "supervisor", password=PASSWORD)
            _db.session.commit()
        people = _db.session.execute(
            select(Person.id, Person.case_number, Person.placement_id).where(
                Person.is_in_care.is_(True),
                Person.custody_status.in_(ROLL_CALL),
                Person.placement_id.is_not(None),
            )
        ).all()
        rule_id = _db.session.scalar(select(HouseRule.id).where(HouseRule.is_active.is_(True)))
        _db.session.remove()
        _db.engine.dispose()
    return {
        "people": [(person_id, case_number) for person_id, case_number, _p in people],
        "placement_of": {person_id: placement for person_id, _c, placement in people},
        "rule_id": rule_id,
    }


def sign_in(port: int) -> tuple[Browser, str]:
    browser = Browser(port, Stats())
    page = browser.get("login form", "/auth/login")
    fields = [
        ("csrf_token", csrf_token(page.text)),
        ("username", "crash-officer"),
        ("password", PASSWORD),
    ]
    answer = browser.post("login", "/auth/login", fields)
    assert answer.status == 302, answer.text[:500]
    token = csrf_token(browser.follow("dashboard", answer).text)
    return browser, token


class Writer(threading.Thread):
    """Records check-ins (even numbers) or reports violations (odd) until stopped."""

    def __init__(self, number: int, session: tuple, world: dict, acknowledged: list, stopping):
        super().__init__(daemon=True)
        self.number, self.world = number, world
        self.browser, self.token = session  # signed in before the stream starts
        self.acknowledged, self.stopping = acknowledged, stopping
        self.error = None

    def run(self) -> None:
        try:
            for n in range(MAX_WRITES):
                if self.stopping.is_set() or not self.write(self.browser, self.token, n):
                    return
        except Failure:
            return  # the server went away mid-request: that write was not acknowledged
        finally:
            self.browser.close()

    def write(self, browser: Browser, token: str, n: int) -> bool:
        """One write; whether to go on."""
        marker = f"crash-{self.number}-{n}"
        people = self.world["people"]
        person_id, case_number = people[(self.number * 7 + n) % len(people)]
        if self.number % 2 == 0:
            answer = record_checkin(browser, token, self.world, person_id, marker)
            if answer.status == 302:
                self.acknowledged.append(("check_in", marker))
        else:
            when = datetime.now(centre_zone()) - timedelta(minutes=5)
            fields = [
                ("csrf_token", token),
                ("person", case_number),
                ("rule_id", str(self.world["rule_id"])),
                ("occurred_at", when.strftime("%Y-%m-%dT%H:%M")),
                ("location", "Blok A"),
                ("description", marker),
                ("severity", "minor"),
            ]
            answer = browser.post("report", "/conduct/new", fields)
            if answer.status == 302 and re.fullmatch(r"/conduct/\d+", answer.location):
                self.acknowledged.append(("violation", marker))
        if answer.status != 302:
            self.error = AssertionError(f"write {marker} answered {answer.status}")
            return False
        return True


def record_checkin(browser: Browser, token: str, world: dict, person_id: int, marker: str):
    fields = [
        ("csrf_token", token),
        ("checked_at", ""),
        ("entries-0-person_id", str(person_id)),
        ("entries-0-outcome", "present"),
        ("entries-0-note", marker),
    ]
    return browser.post(
        "check-in", f"/monitoring/roll-call/{world['placement_of'][person_id]}", fields
    )


def stored_markers(path: Path) -> set[tuple[str, str]]:
    with sqlite3.connect(path) as connection:
        found = {("check_in", row[0]) for row in connection.execute("SELECT note FROM check_in")}
        found |= {
            ("violation", row[0]) for row in connection.execute("SELECT description FROM violation")
        }
    connection.close()
    return found


def test_acknowledged_writes_survive_sigkill_mid_stream(tmp_path):
    path, instance, log = tmp_path / "crash.sqlite3", tmp_path / "instance", tmp_path / "server.log"
    world = build_database(path, instance)
    assert world["people"] and world["rule_id"]
    url = f"sqlite:///{path}"

    process, port = start_gunicorn(url, instance, 2, log)
    acknowledged, stopping = [], threading.Event()
    writers = [Writer(n, sign_in(port), world, acknowledged, stopping) for n in range(4)]
    try:
        for writer in writers:
            writer.start()
        deadline = time.monotonic() + 120
        while len(acknowledged) < KILL_AFTER and time.monotonic() < deadline:
            assert any(writer.is_alive() for writer in writers), [w.error for w in writers]
            time.sleep(0.05)
        assert len(acknowledged) >= KILL_AFTER, "the writes did not get going"
        os.killpg(process.pid, signal.SIGKILL)  # master and workers, mid-stream
        process.wait(timeout=30)
    finally:
        stopping.set()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    for writer in writers:
        writer.join(timeout=60)
        assert writer.error is None, writer.error
    in_flight_at_kill = len(acknowledged)

    # The same file, a new server: it opens, recovers the WAL and takes writes.
    process, port = start_gunicorn(url, instance, 2, log)
    try:
        browser, token = sign_in(port)
        assert browser.get("person page", f"/cases/{world['people'][0][0]}").status == 200
        marker = "crash-after-restart"
        answer = record_checkin(browser, token, world, world["people"][0][0], marker)
        browser.close()
        assert answer.status == 302
    finally:
        stop(process)

    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
    connection.close()
    stored = stored_markers(path)
    missing = [write for write in acknowledged if write not in stored]
    assert not missing, f"{len(missing)} of {in_flight_at_kill} acknowledged writes lost"
    assert ("check_in", "crash-after-restart") in stored

    env = dict(
        os.environ, DATABASE_URL=url, SECRET_KEY=SECRET_KEY, RUDENIM_INSTANCE_PATH=str(instance)
    )
    env.pop("RUDENIM_ENV", None)
    verify = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "flask", "--app", "wsgi", "audit", "verify"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert verify.stdout.startswith("OK")
