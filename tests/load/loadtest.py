"""Concurrent staff on PostgreSQL: gunicorn with 4 workers, N simulated users for S seconds.

    python tests/load/loadtest.py --users 50 --seconds 60 \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/rudenim_load

Builds the database afresh (migrations, reference and demo data, one account per
simulated user), starts gunicorn on 127.0.0.1 and lets every user - a thread with
its own cookie session, taking CSRF tokens from the forms it is served - search
the people list, open person pages, record roll calls and verification steps,
report violations, export CSV and edit the SAME person's identity as others do.

Every write the server acknowledged is remembered (by a marker written into a
free-text field, or the id it redirected to) and then looked up in the database.
The run fails (exit status 1) on any 5xx or failed request, any acknowledged
write that is missing, any edit of the shared person that was neither applied
nor answered as stale, any lost update on that person, or a broken audit chain.
Only 127.0.0.1 is contacted; every loop is bounded in count and in time.
"""

import argparse
import html
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html.parser import HTMLParser
from http.client import HTTPConnection, HTTPException
from pathlib import Path
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

PASSWORD = "load test password, long enough"  # noqa: S105  (a throwaway database)
SECRET_KEY = "load-test-secret-key"  # noqa: S105
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/rudenim_load"
#: Hard ceiling on requests per simulated user, whatever the duration.
MAX_ACTIONS_PER_USER = 20_000

#: action → weight. Each user's FIRST action goes round this list (user i starts with
#: the i-th), so even a short run does each at least once; supervisors are users 0, 3, 6 …
ACTIONS = {
    "export": 6,
    "checkin": 12,
    "verification": 12,
    "edit": 12,
    "violation": 10,
    "duel": 4,
    "search": 18,
    "person": 22,
    "dashboard": 4,
}


# --- HTML forms, read the way a browser reads them -------------------------------------


class FormParser(HTMLParser):
    """Every <form> of a page with the fields a browser would submit as they stand."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._form = None
        self._select = None
        self._option = None
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = {
                "action": a.get("action") or "",
                "id": a.get("id"),
                "fields": [],
                "options": {},
                "submit": None,
            }
            self.forms.append(self._form)
            return
        form = self._form
        if form is None:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind == "submit":
                form["submit"] = form["submit"] or (name, a.get("value") or "")
            elif kind in ("checkbox", "radio"):
                form["options"].setdefault(name, []).append(a.get("value") or "on")
                if "checked" in a:
                    form["fields"].append((name, a.get("value") or "on"))
            elif kind not in ("button", "image", "reset", "file"):
                form["fields"].append((name, a.get("value") or ""))
        elif tag == "select" and name:
            self._select = {
                "name": name,
                "multiple": "multiple" in a,
                "selected": [],
                "first": None,
            }
        elif tag == "option" and self._select is not None:
            value = a.get("value") or ""
            form["options"].setdefault(self._select["name"], []).append(value)
            if self._select["first"] is None:
                self._select["first"] = value
            if "selected" in a:
                self._select["selected"].append(value)
        elif tag == "textarea" and name:
            self._textarea = {"name": name, "text": []}

    def handle_endtag(self, tag):
        form = self._form
        if tag == "select" and self._select is not None and form is not None:
            select, self._select = self._select, None
            values = select["selected"]
            if not values and not select["multiple"] and select["first"] is not None:
                values = [select["first"]]
            form["fields"].extend((select["name"], value) for value in values)
        elif tag == "textarea" and self._textarea is not None and form is not None:
            area, self._textarea = self._textarea, None
            text = "".join(area["text"])
            text = text[2:] if text.startswith("\r\n") else text.removeprefix("\n")
            form["fields"].append((area["name"], text))
        elif tag == "form":
            self._form = None

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea["text"].append(data)


def forms_of(page: str) -> list[dict]:
    parser = FormParser()
    parser.feed(page)
    parser.close()
    return parser.forms


FORM_ELEMENT = re.compile(r"<form\b.*?</form>", re.S)


def form_with(page: str, field_name: str, action_part: str = "") -> dict | None:
    """The first form that has ``field_name`` (and whose action contains ``action_part``)."""
    # Only the <form> elements that can match are parsed: the client shares the CPUs.
    chunks = [
        chunk.group(0)
        for chunk in FORM_ELEMENT.finditer(page)
        if f'name="{field_name}"' in chunk.group(0) and action_part in chunk.group(0)
    ]
    for form in forms_of("".join(chunks)):
        names = {name for name, _value in form["fields"]} | set(form["options"])
        if field_name in names and action_part in form["action"]:
            return form
    return None


def replaced(fields: list[tuple[str, str]], **values) -> list[tuple[str, str]]:
    """``fields`` with the named fields set to ``values`` (added when missing)."""
    out = [(name, value) for name, value in fields if name not in values]
    out.extend(values.items())
    return out


CSRF = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|'
    r'type="hidden" name="csrf_token" value="([^"]+)"'
)
FLASH = re.compile(r'<p class="flash flash-(\w+)">')


def csrf_token(page: str) -> str:
    match = CSRF.search(page)
    if match is None:
        raise Failure("no CSRF token on the page")
    return html.unescape(match.group(1) or match.group(2))


def flashes(page: str) -> list[str]:
    return FLASH.findall(page)


# --- one simulated user --------------------------------------------------------------------


class Failure(Exception):
    """A request failed in a way the run counts as an error."""


@dataclass
class Response:
    status: int
    headers: dict
    text: str

    @property
    def location(self) -> str:
        return urlsplit(self.headers.get("location", "")).path


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: list = field(default_factory=list)
    by_label: dict = field(default_factory=dict)
    statuses: Counter = field(default_factory=Counter)
    actions: Counter = field(default_factory=Counter)
    errors: list = field(default_factory=list)

    def record(self, label: str, status: int | None, seconds: float, detail: str = "") -> None:
        with self.lock:
            self.latencies.append(seconds)
            self.by_label.setdefault(label, []).append(seconds)
            self.statuses[status or "failed"] += 1
            if status is None or status >= 500:
                self.errors.append(f"{label}: {status or 'no answer'} {detail}".strip())

    def error(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)


@dataclass
class Ledger:
    """Every write the server acknowledged, and every answer to an edit of the shared person."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    checkins: list = field(default_factory=list)
    steps: list = field(default_factory=list)
    violations: list = field(default_factory=list)
    verification_exports: int = 0
    violation_exports: int = 0
    edits: list = field(default_factory=list)  # (marker, "applied" | "stale" | "other")
    duels: list = field(default_factory=list)  # answer to the second tab

    def add(self, kind: str, item) -> None:
        with self.lock:
            getattr(self, kind).append(item)

    def count(self, kind: str) -> None:
        with self.lock:
            setattr(self, kind, getattr(self, kind) + 1)


class Browser:
    """One user's cookie session over HTTP/1.1 to 127.0.0.1 only."""

    def __init__(self, port: int, stats: Stats):
        self.port = port
        self.stats = stats
        self.connection = HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookies: dict[str, str] = {}

    def close(self) -> None:
        self.connection.close()

    def request(self, label: str, method: str, path: str, fields=None) -> Response:
        headers = {"Accept": "text/html"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if fields is not None:
            body = urlencode(fields)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        try:
            self.connection.request(method, path, body, headers)
            answer = self.connection.getresponse()
            data = answer.read()
        except (OSError, HTTPException) as exc:
            self.connection.close()
            self.stats.record(label, None, time.perf_counter() - started, f"{path} {exc!r}")
            raise Failure(f"{label}: {exc!r}") from exc
        elapsed = time.perf_counter() - started
        for cookie in answer.headers.get_all("Set-Cookie") or []:
            pair, _, attributes = cookie.partition(";")
            name, _, value = pair.strip().partition("=")
            if "max-age=0" in attributes.lower() or "1970" in attributes:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        response = Response(
            answer.status,
            {k.lower(): v for k, v in answer.getheaders()},
            data.decode("utf-8", "replace"),
        )
        request_id = response.headers.get("x-request-id", "")
        self.stats.record(label, answer.status, elapsed, f"{method} {path} request {request_id}")
        if answer.status >= 500:
            raise Failure(f"{label}: {answer.status} on {method} {path}")
        return response

    def get(self, label: str, path: str) -> Response:
        return self.request(label, "GET", path)

    def post(self, label: str, path: str, fields) -> Response:
        return self.request(label, "POST", path, fields)

    def follow(self, label: str, response: Response) -> Response:
        """GET the page a redirect points to (one hop, same site only)."""
        if response.status not in (301, 302, 303):
            return response
        return self.get(label, response.location or "/")


@dataclass
class Plan:
    """What the users work on, chosen from the database before the run."""

    person_ids: list
    name_words: list
    case_numbers: dict  # person id → case number (people in care)
    shared_person: int
    placements: list  # roll-call placements
    steps: dict  # person id → IOM track status (each user owns a disjoint share)
    local_zone: ZoneInfo
    users: int = 1
    #: Two editors of the shared person meet here, then both save at once.
    rendezvous: threading.Barrier = field(default_factory=lambda: threading.Barrier(2))


NEXT_IOM = {
    "not_referred": "referred",
    "referred": "in_progress",
    "in_progress": "not_verified",
    "not_verified": "in_progress",
    "closed": "referred",
}


class User(threading.Thread):
    """A member of staff: signs in, then works through a random mix until the deadline."""

    def __init__(self, index, username, role, port, plan, stats, ledger, deadline, run_id, seed):
        super().__init__(name=username, daemon=True)
        self.index = index
        self.username = username
        self.role = role
        self.plan = plan
        self.stats = stats
        self.ledger = ledger
        self.deadline = deadline
        self.run_id = run_id
        self.rng = random.Random(seed)  # noqa: S311  (a load mix, not security)
        self.browser = Browser(port, stats)
        self.my_steps = {
            person_id: status
            for n, (person_id, status) in enumerate(sorted(plan.steps.items()))
            if n % plan.users == index
        }
        self.counter = 0

    def marker(self, kind: str) -> str:
        self.counter += 1
        return f"load-{self.run_id}-{kind}-{self.index}-{self.counter}"

    def run(self) -> None:
        try:
            self.sign_in()
        except Failure as exc:
            self.stats.error(f"{self.username} could not sign in: {exc}")
            return
        names, weights = zip(*ACTIONS.items(), strict=True)
        for n in range(MAX_ACTIONS_PER_USER):
            if time.monotonic() >= self.deadline:
                break
            action = (
                names[self.index % len(names)] if n == 0 else self.rng.choices(names, weights)[0]
            )
            with self.stats.lock:
                self.stats.actions[action] += 1
            try:
                getattr(self, "do_" + action)()
            except Failure:
                pass  # already counted by the browser or the action
            except Exception as exc:  # a bug in the load script must not pass silently
                self.stats.error(f"{self.username} {action}: {exc!r}")
        self.browser.close()

    # --- actions ---------------------------------------------------------------------

    def sign_in(self) -> None:
        page = self.browser.get("login form", "/auth/login")
        fields = [
            ("csrf_token", csrf_token(page.text)),
            ("username", self.username),
            ("password", PASSWORD),
            ("next", ""),
        ]
        answer = self.browser.post("login", "/auth/login", fields)
        if answer.status != 302:
            raise Failure(f"sign-in answered {answer.status}")
        self.browser.follow("dashboard", answer)

    def do_dashboard(self) -> None:
        self.browser.get("dashboard", "/")

    def do_search(self) -> None:
        word = self.rng.choice(self.plan.name_words)
        self.browser.get("search", "/cases/?" + urlencode({"q": word}))

    def do_person(self) -> None:
        person_id = self.rng.choice(self.plan.person_ids)
        self.browser.get("person page", f"/cases/{person_id}")

    def do_checkin(self) -> None:
        placement_id = self.rng.choice(self.plan.placements)
        path = f"/monitoring/roll-call/{placement_id}"
        page = self.browser.get("roll call", path)
        form = form_with(page.text, "checked_at")
        if form is None:
            return
        ids = [(name, value) for name, value in form["fields"] if name.endswith("-person_id")]
        if not ids:
            return
        chosen = self.rng.sample(ids, min(len(ids), self.rng.randint(1, 3)))
        values, markers = {}, []
        for name, _person_id in chosen:
            prefix = name.removesuffix("-person_id")
            marker = self.marker("checkin")
            values[f"{prefix}-outcome"] = "present"
            values[f"{prefix}-note"] = marker
            markers.append(marker)
        fields = replaced(form["fields"], **values)
        answer = self.browser.post("roll call post", path, fields)
        if answer.status == 302:
            shown = self.browser.follow("roll call", answer)
            if "success" in flashes(shown.text):
                for marker in markers:
                    self.ledger.add("checkins", marker)

    def do_verification(self) -> None:
        if not self.my_steps:
            return self.do_person()
        person_id = self.rng.choice(sorted(self.my_steps))
        page = self.browser.get("person page", f"/cases/{person_id}")
        form = form_with(page.text, "to_status", f"/cases/{person_id}/verification/iom")
        if form is None:
            raise Failure(f"no IOM step form for person {person_id}")
        to_status = NEXT_IOM[self.my_steps[person_id]]
        marker = self.marker("step")
        today = datetime.now(self.plan.local_zone).date().isoformat()
        fields = replaced(
            form["fields"], to_status=to_status, occurred_on=today, note=marker, reference=""
        )
        answer = self.browser.post("verification step", form["action"], fields)
        shown = self.browser.follow("person page", answer)
        if answer.status == 302 and "success" in flashes(shown.text):
            self.my_steps[person_id] = to_status
            self.ledger.add("steps", (person_id, to_status, marker))

    def do_violation(self) -> None:
        person_id = self.rng.choice(sorted(self.plan.case_numbers))
        page = self.browser.get("report form", f"/conduct/new?person_id={person_id}")
        form = form_with(page.text, "description")
        if form is None:
            raise Failure("no report form")
        rules = [value for value in form["options"].get("rule_id", []) if value not in ("", "0")]
        when = datetime.now(self.plan.local_zone) - timedelta(minutes=self.rng.randint(5, 600))
        marker = self.marker("violation")
        fields = replaced(
            form["fields"],
            person=self.plan.case_numbers[person_id],
            rule_id=self.rng.choice(rules),
            occurred_at=when.strftime("%Y-%m-%dT%H:%M"),
            location="Blok load test",
            description=marker,
            severity=self.rng.choice(["minor", "moderate", "serious"]),
        )
        answer = self.browser.post("report violation", "/conduct/new", fields)
        match = re.fullmatch(r"/conduct/(\d+)", answer.location) if answer.status == 302 else None
        if match:
            self.browser.follow("violation page", answer)
            self.ledger.add("violations", (int(match.group(1)), marker))

    def do_export(self) -> None:
        if self.role != "supervisor":
            self.browser.get("board", "/cases/verification?agency=iom")
            return
        if self.rng.random() < 0.5:
            page = self.browser.get("board", "/cases/verification?agency=iom&status=detained")
            form = form_with(page.text, "profile")
            fields = replaced(form["fields"], profile=self.rng.choice(["unhcr", "iom", "internal"]))
            answer = self.browser.post(
                "export verification csv", "/reports/verification.csv", fields
            )
            if answer.status == 200 and answer.headers["content-type"].startswith("text/csv"):
                self.ledger.count("verification_exports")
            else:
                raise Failure(f"verification export answered {answer.status}")
        else:
            page = self.browser.get("violation log", "/conduct/?severity=serious")
            token = csrf_token(page.text)
            answer = self.browser.post(
                "export violations csv",
                "/conduct/export.csv",
                [("csrf_token", token), ("severity", "serious")],
            )
            if answer.status == 200 and answer.headers["content-type"].startswith("text/csv"):
                self.ledger.count("violation_exports")
            else:
                raise Failure(f"violation export answered {answer.status}")

    def _edit_form(self) -> tuple[str, dict]:
        path = f"/cases/{self.plan.shared_person}/edit"
        page = self.browser.get("edit form", path)
        form = form_with(page.text, "version")
        if form is None:
            raise Failure("no edit form")
        return path, form

    def _save(self, path: str, form: dict) -> tuple[str, str]:
        marker = self.marker("edit")
        fields = replaced(form["fields"], notes=marker)
        if form["submit"]:
            fields.append(form["submit"])
        answer = self.browser.post("edit save", path, fields)
        if answer.status == 302 and answer.location == f"/cases/{self.plan.shared_person}":
            outcome = "applied"
            self.browser.follow("person page", answer)
        elif answer.status == 200 and 'id="other-change"' in answer.text:
            outcome = "stale"
        else:
            outcome = "other"
            self.stats.error(f"edit answered {answer.status} without the stale page")
        self.ledger.add("edits", (marker, outcome))
        return marker, outcome

    def do_edit(self) -> None:
        """Open the shared person's form and save it the moment another user saves theirs."""
        path, form = self._edit_form()
        try:
            self.plan.rendezvous.wait(timeout=2)
        except threading.BrokenBarrierError:
            self.plan.rendezvous.reset()  # no one came: save alone
        self._save(path, form)

    def do_duel(self) -> None:
        """The same form open in two tabs: once the first is sent, the second is stale."""
        path, first = self._edit_form()
        _path, second = self._edit_form()
        self._save(path, first)
        _marker, outcome = self._save(path, second)
        version = dict(first["fields"])["version"]
        if version == dict(second["fields"])["version"]:  # else someone saved between the loads
            self.ledger.add("duels", outcome)


# --- setting up and checking --------------------------------------------------------------


def app_settings(url: str, instance: Path) -> dict:
    """The settings of the in-process app that builds and checks the database.

    Its accounts get argon2's cheap parameters: verifying takes the parameters
    from the stored hash, so N sign-ins do not swamp the server before the run.
    """
    from config import Config

    settings = {key: getattr(Config, key) for key in dir(Config) if key.isupper()}
    settings.update(
        ARGON2_FAST=True,
        SQLALCHEMY_DATABASE_URI=url,
        SECRET_KEY=SECRET_KEY,
        RATELIMIT_ENABLED=False,
        RUDENIM_INSTANCE_PATH=str(instance),
    )
    return settings


def ensure_database(url: str, force: bool) -> None:
    """Create the database when missing; refuse to wipe one not named for load tests."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    if not target.drivername.startswith("postgresql"):
        raise SystemExit("the load test runs on PostgreSQL: give a postgresql+psycopg:// URL")
    name = target.database or ""
    if "load" not in name and not force:
        raise SystemExit(f"refusing to empty database {name!r}: its name lacks 'load' (--force)")
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        )
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def build(url: str, instance: Path, users: int, people: int) -> tuple[list, Plan, dict]:
    """Migrate, load reference and demo data and the users' accounts; choose what to work on."""
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from rudenim import create_app
    from rudenim.audit.context import Actor, acting_as
    from rudenim.auth.services import create_user
    from rudenim.cases.models import Agency, CustodyStatus, Person, VerificationTrack
    from rudenim.clock import centre_zone
    from rudenim.demo import ensure_demo_accounts, load_demo
    from rudenim.extensions import db
    from rudenim.reports.models import Disclosure

    app = create_app(app_settings(url, instance))
    accounts = []
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        with acting_as(Actor(None, "loadtest")):
            ensure_demo_accounts()
            db.session.flush()
            load_demo(people, seed=2024)
            for index in range(users):
                role = "supervisor" if index % 3 == 0 else "officer"
                username = f"load-{index:03d}"
                create_user(username, role, password=PASSWORD, full_name=f"Load {index}")
                accounts.append((username, role))
            db.session.commit()
        in_care = db.session.execute(
            select(Person.id, Person.case_number, Person.custody_status, Person.placement_id)
            .where(Person.is_in_care.is_(True))
            .order_by(Person.id)
        ).all()
        roll_call = {CustodyStatus.DETAINED, CustodyStatus.COMMUNITY_HOUSING}
        shared = next(row.id for row in in_care if row.custody_status in roll_call)
        tracks = dict(
            db.session.execute(
                select(VerificationTrack.person_id, VerificationTrack.status).where(
                    VerificationTrack.agency == Agency.IOM
                )
            ).all()
        )
        steps = {
            row.id: str(getattr(tracks.get(row.id), "value", "not_referred"))
            for row in in_care
            if row.id != shared
        }
        steps = {person_id: status for person_id, status in steps.items() if status in NEXT_IOM}
        names = db.session.scalars(select(Person.full_name).limit(400)).all()
        words = sorted({word for name in names for word in name.split() if len(word) > 3})
        placements = sorted(
            {
                row.placement_id
                for row in in_care
                if row.placement_id and row.custody_status in roll_call
            }
        )
        person = db.session.get(Person, shared)
        before = {
            "version": person.version,
            "notes": person.notes,
            "disclosures": db.session.scalar(select(func.count(Disclosure.id))),
        }
        plan = Plan(
            person_ids=db.session.scalars(select(Person.id)).all(),
            name_words=words,
            case_numbers={row.id: row.case_number for row in in_care if row.id != shared},
            shared_person=shared,
            placements=placements,
            steps=steps,
            local_zone=centre_zone(),
            users=users,
        )
        db.session.remove()
        db.engine.dispose()
    return accounts, plan, before


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_gunicorn(url: str, instance: Path, workers: int, log: Path):
    """gunicorn on 127.0.0.1 in a process group of its own (so all of it can be killed
    at once); returns the process and its port once /healthz answers."""
    import gunicorn

    port = free_port()
    env = dict(
        os.environ,
        DATABASE_URL=url,
        SECRET_KEY=SECRET_KEY,
        RATELIMIT_ENABLED="false",
        RUDENIM_INSTANCE_PATH=str(instance),
        LOG_LEVEL="WARNING",
    )
    env.pop("RUDENIM_ENV", None)
    command = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--timeout", "120"]
    command += ["--bind", f"127.0.0.1:{port}", "wsgi:app"]
    if gunicorn.version_info >= (27,):  # not one control socket in $HOME shared by all runs
        command.insert(3, "--no-control-socket")
    with log.open("ab") as handle:  # the app's own log (500s with tracebacks) goes to stderr
        process = subprocess.Popen(  # noqa: S603
            command, cwd=ROOT, env=env, stdout=handle, stderr=handle, start_new_session=True
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with {process.returncode}; see {log}")
        connection = HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return process, port
        except OSError:
            time.sleep(0.2)
        finally:
            connection.close()
    process.kill()
    raise SystemExit("gunicorn did not answer /healthz within 60 s")


def stop(process) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def check_database(url: str, instance: Path, plan: Plan, before: dict, ledger: Ledger) -> list:
    """Every acknowledged write is there; the shared person lost no update."""
    from sqlalchemy import func, select

    from rudenim import create_app
    from rudenim.audit.models import AuditEvent
    from rudenim.cases.models import Person, VerificationEvent
    from rudenim.conduct.models import Violation
    from rudenim.extensions import db
    from rudenim.monitoring.models import CheckIn
    from rudenim.reports.models import Disclosure

    problems = []
    app = create_app(app_settings(url, instance))
    with app.app_context():
        stored = Counter(
            db.session.scalars(select(CheckIn.note).where(CheckIn.note.like("load-%"))).all()
        )
        missing = [marker for marker in ledger.checkins if stored[marker] != 1]
        if missing:
            problems.append(f"{len(missing)} acknowledged check-ins missing, e.g. {missing[:3]}")

        steps = {
            row.note: row
            for row in db.session.execute(
                select(
                    VerificationEvent.note, VerificationEvent.person_id, VerificationEvent.to_status
                ).where(VerificationEvent.note.like("load-%"))
            )
        }
        missing = [
            marker
            for person_id, to_status, marker in ledger.steps
            if marker not in steps
            or steps[marker].person_id != person_id
            or steps[marker].to_status.value != to_status
        ]
        if missing:
            problems.append(f"{len(missing)} acknowledged steps missing, e.g. {missing[:3]}")

        stored = dict(
            db.session.execute(
                select(Violation.id, Violation.description).where(
                    Violation.description.like("load-%")
                )
            ).all()
        )
        missing = [(i, m) for i, m in ledger.violations if stored.get(i) != m]
        if missing:
            problems.append(f"{len(missing)} acknowledged violations missing, e.g. {missing[:3]}")

        disclosures = db.session.scalar(select(func.count(Disclosure.id))) - before["disclosures"]
        if disclosures != ledger.verification_exports:
            problems.append(
                f"{ledger.verification_exports} verification exports acknowledged, "
                f"{disclosures} in the disclosure ledger"
            )
        logged = db.session.scalar(
            select(func.count(AuditEvent.id)).where(
                AuditEvent.action == "export", AuditEvent.object_type == "ViolationLog"
            )
        )
        if logged != ledger.violation_exports:
            problems.append(
                f"{ledger.violation_exports} violation exports acknowledged, {logged} audited"
            )

        problems += check_shared_person(db, plan, before, ledger, Person, AuditEvent)
        db.session.remove()
        db.engine.dispose()
    return problems


def check_shared_person(db, plan, before, ledger, Person, AuditEvent) -> list:  # noqa: N803
    """Each save applied exactly once, in a chain of before/after values, none overwritten."""
    from sqlalchemy import select

    problems = []
    applied = [marker for marker, outcome in ledger.edits if outcome == "applied"]
    refused = {marker for marker, outcome in ledger.edits if outcome != "applied"}
    person = db.session.get(Person, plan.shared_person)
    if person.version - before["version"] != len(applied):
        problems.append(
            f"shared person: {len(applied)} saves applied but the version went "
            f"{before['version']} → {person.version}"
        )
    expected_notes = set(applied) or {before["notes"]}
    if person.notes not in expected_notes:
        problems.append(f"shared person: final notes {person.notes!r} are no applied save")
    events = db.session.scalars(
        select(AuditEvent.changes)
        .where(
            AuditEvent.object_type == "Person",
            AuditEvent.object_id == str(plan.shared_person),
            AuditEvent.action == "update",
        )
        .order_by(AuditEvent.id)
    ).all()
    chain = [json.loads(changes)["notes"] for changes in events if changes and "notes" in changes]
    previous = before["notes"]
    for old, new in chain:
        if old != previous:
            problems.append(f"shared person: a save overwrote {previous!r} unseen (had {old!r})")
            break
        previous = new
    if chain and previous != person.notes:
        problems.append("shared person: the audit trail does not end at the stored value")
    if sorted(new for _old, new in chain) != sorted(applied):
        problems.append(
            f"shared person: {len(applied)} saves applied, {len(chain)} changes in the audit trail"
        )
    if refused & {new for _old, new in chain}:
        problems.append("shared person: a save answered as stale was stored")
    not_stale = [outcome for outcome in ledger.duels if outcome != "stale"]
    if not_stale:
        problems.append(f"{len(not_stale)} second tabs were not answered as stale")
    return problems


def audit_verify(url: str, instance: Path) -> tuple[bool, str]:
    env = dict(
        os.environ, DATABASE_URL=url, SECRET_KEY=SECRET_KEY, RUDENIM_INSTANCE_PATH=str(instance)
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "flask", "--app", "wsgi", "audit", "verify"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return result.returncode == 0, (result.stdout + result.stderr).strip()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--people", type=int, default=2000, help="demo people to load")
    parser.add_argument("--database-url", default=os.environ.get("LOAD_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--force", action="store_true", help="empty a database not named *load*")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if not 1 <= args.users <= 500 or not 0 < args.seconds <= 3600:
        parser.error("--users 1..500 and --seconds up to 3600")

    work = Path(tempfile.mkdtemp(prefix="rudenim-load-"))
    instance = work / "instance"
    print(f"preparing {args.database_url.rsplit('@', 1)[-1]} …", flush=True)
    started = time.monotonic()
    ensure_database(args.database_url, args.force)
    accounts, plan, before = build(args.database_url, instance, args.users, args.people)
    print(f"  migrated and loaded in {time.monotonic() - started:.1f} s", flush=True)

    log = work / "gunicorn.log"
    process, port = start_gunicorn(args.database_url, instance, args.workers, log)
    stats, ledger = Stats(), Ledger()
    run_id = uuid.uuid4().hex[:8]
    try:
        print(
            f"{args.users} users for {args.seconds:g} s on gunicorn ({args.workers} workers, "
            f"port {port}) …",
            flush=True,
        )
        deadline = time.monotonic() + args.seconds
        users = [
            User(i, name, role, port, plan, stats, ledger, deadline, run_id, args.seed * 1000 + i)
            for i, (name, role) in enumerate(accounts)
        ]
        cpu = time.process_time()
        for user in users:
            user.start()
        for user in users:
            user.join(timeout=args.seconds + 300)
            if user.is_alive():
                stats.error(f"{user.name} still running after the deadline")
        client_cpu = time.process_time() - cpu
    finally:
        stop(process)

    problems = list(stats.errors)
    problems += check_database(args.database_url, instance, plan, before, ledger)
    verified, verify_output = audit_verify(args.database_url, instance)
    if not verified:
        problems.append(f"audit verify failed: {verify_output}")
    server_errors = sum(
        count for status, count in stats.statuses.items() if status == "failed" or status >= 500
    )
    edits = Counter(outcome for _marker, outcome in ledger.edits)
    figures = {
        "users": args.users,
        "seconds": args.seconds,
        "workers": args.workers,
        "requests": sum(stats.statuses.values()),
        "errors": server_errors,
        "per_second": round(sum(stats.statuses.values()) / args.seconds, 1),
        "p50_ms": round(percentile(stats.latencies, 50) * 1000, 1),
        "p95_ms": round(percentile(stats.latencies, 95) * 1000, 1),
        "p99_ms": round(percentile(stats.latencies, 99) * 1000, 1),
        "statuses": {str(k): v for k, v in sorted(stats.statuses.items(), key=str)},
        "writes": {
            "checkins": len(ledger.checkins),
            "verification_steps": len(ledger.steps),
            "violations": len(ledger.violations),
            "verification_exports": ledger.verification_exports,
            "violation_exports": ledger.violation_exports,
            "edits_applied": edits["applied"],
            "edits_stale": edits["stale"],
            "edits_other": edits["other"],
        },
        "pages": {
            label: {
                "n": len(times),
                "p50_ms": round(percentile(times, 50) * 1000, 1),
                "p95_ms": round(percentile(times, 95) * 1000, 1),
            }
            for label, times in sorted(stats.by_label.items())
        },
        "client_cpu_seconds": round(client_cpu, 1),
        "cpus": os.cpu_count(),
        "audit": verify_output,
        "problems": len(problems),
    }
    print(
        f"requests {figures['requests']}  errors {figures['errors']}  ({figures['per_second']}/s)"
    )
    print(
        f"latency p50 {figures['p50_ms']} ms  p95 {figures['p95_ms']} ms  "
        f"p99 {figures['p99_ms']} ms"
    )
    print(f"statuses {figures['statuses']}")
    for label, page in figures["pages"].items():
        p50, p95 = page["p50_ms"], page["p95_ms"]
        print(f"  {label:<24} {page['n']:>6}  p50 {p50:>8} ms  p95 {p95:>8} ms")
    print(
        f"the simulated users took {figures['client_cpu_seconds']} s of CPU "
        f"(this machine has {figures['cpus']} CPUs, shared with the server)"
    )
    print(f"acknowledged writes {figures['writes']}")
    print(f"audit verify: {verify_output}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    if problems:
        print(f"FAILED: {len(problems)} problems")
        for problem in problems[:30]:
            print("  -", problem)
        if log.exists():
            print("gunicorn log (last lines):")
            print("\n".join(log.read_text(errors="replace").splitlines()[-60:]))
        return 1
    print("OK: no 5xx, every acknowledged write stored, no lost update, audit chain intact")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
