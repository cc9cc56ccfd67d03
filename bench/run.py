"""Rudenim benchmark: ``make bench`` (size by BENCH_PEOPLE, database by DATABASE_URL).

Builds a database of N synthetic people with their history, then measures each
page through the app (test client) and its own reads issued directly with the
database driver (the floor), the verification exports against the sqlite3
command-line tool (or PostgreSQL's COPY), peak memory of the serving process at
N/10 and N rows, and through gunicorn over HTTP each page one request at a
time and person pages per second from eight clients at once.

Writes bench/results/<date>-<database>.json and prints a table. With
``--check BASELINE`` it exits non-zero when any page's check ratio is more than
twice the baseline's: the page's time divided by its floor, or by the time of a
fixed piece of plain Python (the unit) where the floor is smaller. Both are
measured in the same run as the page (the unit between its requests), so the
machine's speed cancels out, for the SQL and for the Python.
"""

import argparse
import io
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import zipfile
from datetime import date
from html import escape
from http.client import HTTPConnection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "bench password that is long enough"  # noqa: S105  (a throwaway database)
#: Floors below this (milliseconds) are taken as this in the ratios reported, so
#: that a page whose SQL costs almost nothing is not judged by the timer's noise.
FLOOR_MIN_MS = 1.0
#: How often pages over the limit are measured again before the check fails.
RETRIES = 2


def csrf_token_in(html: str) -> str:
    """The CSRF token of a page's first form (a WTForms field or a written input)."""
    return re.search(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"', html).group(1)


def sign_in_form(html: str) -> dict:
    """The sign-in form for the benchmark's supervisor, with the token in ``html``."""
    return {"username": "demo-supervisor", "password": PASSWORD, "csrf_token": csrf_token_in(html)}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def unit_work() -> int:
    """A fixed piece of plain Python, like a page's: build, sort, escape and join
    rows into HTML, and a JSON round trip. It uses nothing of the app or its
    libraries, so a slower app cannot make it slower; a slower machine does.
    It took 1.2 to 2.8 ms a time in the benchmark at 10,000 people here."""
    rows = [
        {"id": n, "name": f"Nama <{n}> & anak", "status": ("detained", "released")[n % 2]}
        for n in range(600)
    ]
    page = "".join(
        f"<tr><td>{row['id']}</td><td>{escape(row['name'])}</td><td>{row['status']}</td></tr>"
        for row in sorted(rows, key=lambda row: (row["status"], row["name"]))
    )
    return len(page) + len(json.loads(json.dumps(rows)))


def check_ratio(page: dict) -> float:
    """A page's p50 over its floor's, or over the unit where the floor is smaller.

    Under a millisecond or so, a page's SQL floor says little (an indexed
    lookup takes microseconds) and the page's time is nearly all Python; the
    unit, timed between the page's requests, carries the machine's speed for that.
    """
    return round(page["p50_ms"] / max(page["floor"]["p50_ms"], page["unit_ms"]), 2)


def summary(times: list[float]) -> dict:
    return {
        "n": len(times),
        "p50_ms": round(percentile(times, 50) * 1000, 2),
        "p95_ms": round(percentile(times, 95) * 1000, 2),
        "p99_ms": round(percentile(times, 99) * 1000, 2),
        "mean_ms": round(statistics.fmean(times) * 1000, 2),
    }


class Bench:
    def __init__(self, people: int, url: str | None, requests: int, work: Path):
        self.people = people
        self.requests = requests
        self.work = work
        self.url = url or f"sqlite:///{work / 'bench.sqlite3'}"
        self.results: dict = {"pages": {}, "exports": {}, "http": {}}
        self.found: dict[str, str] = {}

    # --- setup ---------------------------------------------------------------

    def app(self):
        from config import Config
        from rudenim import create_app

        settings = {k: getattr(Config, k) for k in dir(Config) if k.isupper()}
        settings.update(
            SQLALCHEMY_DATABASE_URI=self.url,
            SECRET_KEY="bench-secret-key",
            RUDENIM_INSTANCE_PATH=str(self.work / "instance"),
        )
        return create_app(settings)

    @staticmethod
    def signed_in(app):
        """A test client signed in as the supervisor, through the sign-in form
        (CSRF protection and rate limits are on, as in production)."""
        client = app.test_client()
        page = client.get("/auth/login").get_data(as_text=True)
        response = client.post("/auth/login", data=sign_in_form(page))
        assert response.status_code == 302, "bench sign-in failed"
        return client

    def build(self) -> float:
        """A fresh schema and N synthetic people; returns the seconds the load took."""
        from flask_migrate import upgrade
        from sqlalchemy import create_engine, text

        from rudenim.audit.context import Actor, acting_as
        from rudenim.auth.services import find_user, set_password
        from rudenim.demo import ensure_demo_accounts, load_demo
        from rudenim.extensions import db, refresh_statistics

        if self.url.startswith("sqlite"):
            for suffix in ("", "-wal", "-shm"):
                Path(str(self.work / "bench.sqlite3") + suffix).unlink(missing_ok=True)
        else:
            engine = create_engine(self.url)
            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
            engine.dispose()
        app = self.app()
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            with acting_as(Actor(None, "bench")):
                ensure_demo_accounts()
                db.session.commit()
                started = time.perf_counter()
                load_demo(self.people, seed=2024)
                db.session.commit()
                seconds = time.perf_counter() - started
                set_password(find_user("demo-supervisor"), PASSWORD)
                db.session.commit()
            refresh_statistics()
            db.engine.dispose()
        return seconds

    # --- pages through the app -------------------------------------------------

    def pages(self) -> dict[str, str]:
        """The pages measured, with URLs chosen from the data.

        The searches by number look for people in the centre's care, whom the
        list shows by default: a number of someone who has left finds no one,
        a lighter page, and which people have left varies from one load to the
        next. ``self.found`` holds the case number each search must show.
        """
        from sqlalchemy import func, select

        from rudenim.cases.models import Identifier, IdentifierKind, Person
        from rudenim.extensions import db

        app = self.app()
        with app.app_context():
            in_care = select(Person).where(Person.is_in_care.is_(True)).order_by(Person.id)
            count = db.session.scalar(select(func.count()).select_from(in_care.subquery()))
            person = db.session.scalar(in_care.offset(count // 2))
            holders = (
                select(Identifier.value, Person.case_number)
                .join(Person, Person.id == Identifier.person_id)
                .where(
                    Identifier.kind == IdentifierKind.UNHCR_REGISTRATION,
                    Person.is_in_care.is_(True),
                )
                .order_by(Identifier.id)
            )
            holder_count = db.session.scalar(select(func.count()).select_from(holders.subquery()))
            unhcr, holder = db.session.execute(holders.offset(holder_count // 3).limit(1)).one()
            db.engine.dispose()
        self.found = {"search_case_number": person.case_number, "search_unhcr": holder}
        # A transliteration variant of a common name in the data.
        return {
            "list": "/cases/",
            "list_page_100": "/cases/?page=100",
            "list_filtered": "/cases/?status=detained&nationality=AF",
            "list_filtered_page_100": "/cases/?status=detained&nationality=AF&page=100",
            "search_name_variant": "/cases/?q=Mohamed+Rezaei",
            "search_case_number": "/cases/?q=" + urllib.parse.quote(person.case_number),
            "search_unhcr": "/cases/?q=" + urllib.parse.quote(unhcr),
            "person": f"/cases/{person.id}",
            "board": "/cases/verification?agency=unhcr&vstatus=in_progress&status=detained",
            "violation_log": "/conduct/?status=upheld&severity=moderate",
            "dashboard": "/",
        }

    def measure_pages(self, only: list[str] | None = None) -> None:
        """Each page (or those named in ``only``) against its own SQL, into results."""
        from sqlalchemy import event

        from rudenim import settle_for_serving
        from rudenim.extensions import db

        app = self.app()
        client = self.signed_in(app)
        with app.app_context():
            engine = db.engine
        settle_for_serving()  # as wsgi.py does in each gunicorn worker
        for name, url in self.pages().items():
            if only is not None and name not in only:
                continue
            for _n in range(10):  # warm-up
                response = client.get(url)
                assert response.status_code == 200, (name, url)
            self.check_found(name, response.get_data(as_text=True))
            statements = []

            def capture(_conn, _cursor, statement, parameters, _context, _many, out=statements):
                out.append((statement, parameters))

            event.listen(engine, "before_cursor_execute", capture)
            client.get(url)
            event.remove(engine, "before_cursor_execute", capture)
            times, unit_times = [], []
            for _n in range(self.requests):
                started = time.perf_counter()
                response = client.get(url)
                times.append(time.perf_counter() - started)
                assert response.status_code == 200
                # The unit, timed between the page's requests, runs on the
                # machine as the page finds it.
                started = time.perf_counter()
                unit_work()
                unit_times.append(time.perf_counter() - started)
            floor = self.floor(engine, statements)
            page = summary(times)
            page["queries"] = len(statements)
            page["floor"] = summary(floor)
            # A floor under FLOOR_MIN_MS is mostly timer noise: the ratio uses at least that.
            for q in ("p50", "p95"):
                floor_ms = max(page["floor"][f"{q}_ms"], FLOOR_MIN_MS)
                page[f"ratio_{q}"] = round(page[f"{q}_ms"] / floor_ms, 2)
            page["unit_ms"] = summary(unit_times)["p50_ms"]
            page["check_ratio"] = check_ratio(page)
            self.results["pages"][name] = page
            floor_p95 = page["floor"]["p95_ms"]
            print(f"  {name:<24} p95 {page['p95_ms']:>8.1f} ms  floor {floor_p95:>7.1f} ms")

    def floor(self, engine, statements) -> list[float]:
        """The page's reads with the driver alone, in one transaction each time.

        Only the reads are replayed (the chain lock's SELECT … FOR UPDATE among
        them): the writes, the audit event and the chain head it moves on, can
        be made once only, so the floor is a little less than the page's SQL.
        Each transaction commits, as the app's do: a ROLLBACK would make psycopg
        forget the statements it has prepared, and the floor would pay for
        planning that the app no longer does.
        """
        raw = engine.raw_connection()
        times = []
        try:
            cursor = raw.cursor()
            reads = [
                (statement, parameters)
                for statement, parameters in statements
                if statement.lstrip().upper().startswith(("SELECT", "WITH"))
            ]
            sqlite = engine.dialect.name == "sqlite"
            for _n in range(self.requests):
                started = time.perf_counter()
                if sqlite:  # the driver is in autocommit mode: open the transaction as the app does
                    cursor.execute("BEGIN")  # a GET request reads in a deferred one
                for statement, parameters in reads:
                    cursor.execute(statement, parameters)
                    cursor.fetchall()
                raw.commit()
                times.append(time.perf_counter() - started)
        finally:
            raw.close()
        return times

    # --- exports ----------------------------------------------------------------------

    def measure_exports(self) -> None:
        from rudenim.extensions import db

        app = self.app()
        client = self.signed_in(app)
        board = client.get("/cases/verification").get_data(as_text=True)
        form = {"agency": "unhcr", "profile": "internal", "include_left": "y"}
        form["csrf_token"] = csrf_token_in(board)
        for kind in ("csv", "xlsx"):
            started = time.perf_counter()
            response = client.post(f"/reports/verification.{kind}", data=form)
            assert response.status_code == 200, (kind, response.status_code)
            size = sum(len(chunk) for chunk in response.response)
            seconds = time.perf_counter() - started
            self.results["exports"][kind] = {
                "seconds": round(seconds, 3),
                "rows": self.people,
                "rows_per_second": round(self.people / seconds),
                "bytes": size,
            }
            print(f"  export {kind:<5} {seconds:6.2f} s  {self.people / seconds:10.0f} rows/s")
        with app.app_context():
            dialect = db.engine.dialect.name
            db.engine.dispose()
        self.results["exports"]["csv_floor"] = self.csv_floor(dialect)

    def csv_floor(self, dialect: str) -> dict:
        """The export's SQL written as CSV by the database's own tool."""
        from rudenim.extensions import db
        from rudenim.reports.models import Disclosure
        from rudenim.reports.services import disclosed_rows_query

        app = self.app()
        with app.app_context():
            from sqlalchemy import func, select

            last = db.session.scalar(select(func.max(Disclosure.id)))
            query = disclosed_rows_query(last, "internal")
            sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
            db.engine.dispose()
        out = self.work / "floor.csv"
        started = time.perf_counter()
        if dialect == "sqlite":
            tool = shutil.which("sqlite3")
            if tool is None:
                return {"tool": "sqlite3 not installed"}
            script = f".mode csv\n.headers on\n.output {out}\n{sql};\n"
            path = self.url.removeprefix("sqlite:///")
            subprocess.run([tool, path], input=script, text=True, check=True)  # noqa: S603
            label = "sqlite3 .mode csv"
        else:
            import psycopg

            dsn = self.url.replace("postgresql+psycopg://", "postgresql://")
            copy_sql = f"COPY ({sql}) TO STDOUT WITH CSV HEADER"
            with (
                psycopg.connect(dsn) as connection,
                out.open("wb") as handle,
                connection.cursor().copy(copy_sql) as copy,
            ):
                for chunk in copy:
                    handle.write(chunk)
            label = "COPY TO STDOUT"
        seconds = time.perf_counter() - started
        ratio = self.results["exports"]["csv"]["seconds"] / seconds
        print(f"  floor {label}: {seconds:.2f} s (export is {ratio:.1f}x)")
        return {"tool": label, "seconds": round(seconds, 3), "ratio": round(ratio, 2)}

    # --- gunicorn over HTTP ---------------------------------------------------------------

    def gunicorn(self, workers: int = 2):
        port = 5600 + os.getpid() % 300
        env = dict(
            os.environ,
            DATABASE_URL=self.url,
            SECRET_KEY="bench-secret-key",
            RUDENIM_INSTANCE_PATH=str(self.work / "instance"),
        )
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind",
             f"127.0.0.1:{port}", "wsgi:app"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for _n in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)  # noqa: S310
                break
            except OSError:
                time.sleep(0.1)
        return process, port

    @staticmethod
    def csrf_token(port: int, cookie: str, path: str) -> tuple[str, str]:
        """The CSRF token of the form on ``path``, and the session cookie that holds it."""
        connection = HTTPConnection("127.0.0.1", port)
        connection.request("GET", path, headers={"Cookie": cookie})
        response = connection.getresponse()
        html = response.read().decode()
        cookie = (response.getheader("Set-Cookie") or cookie).split(";")[0]
        return csrf_token_in(html), cookie

    def login_cookie(self, port: int) -> str:
        connection = HTTPConnection("127.0.0.1", port)
        connection.request("GET", "/auth/login")
        response = connection.getresponse()
        cookie = response.getheader("Set-Cookie", "").split(";")[0]
        html = response.read().decode()
        body = urllib.parse.urlencode(sign_in_form(html))
        connection.request(
            "POST", "/auth/login", body,
            {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
        )  # fmt: skip
        response = connection.getresponse()
        response.read()
        return response.getheader("Set-Cookie", "").split(";")[0]

    def measure_http(self) -> None:
        """Through gunicorn with 2 workers: each page, then person pages per second."""
        process, port = self.gunicorn()
        try:
            cookie = self.login_cookie(port)
            pages = self.pages()
            self.measure_http_pages(port, cookie, pages)
            self.measure_throughput(port, cookie, pages["person"])
        finally:
            process.terminate()
            process.wait()

    def measure_http_pages(self, port: int, cookie: str, pages: dict[str, str]) -> None:
        """Each page over HTTP, one request at a time, as a user waits for it,
        served by a gunicorn worker in a process of its own (the test client
        runs client and page in one)."""
        print("pages (gunicorn, HTTP, one client):")
        self.results["http"]["pages"] = measured = {}
        connection = HTTPConnection("127.0.0.1", port, timeout=30)

        def get(url: str) -> float:
            started = time.perf_counter()
            connection.request("GET", url, headers={"Cookie": cookie})
            response = connection.getresponse()
            response.read()
            elapsed = time.perf_counter() - started
            assert response.status == 200, (url, response.status)
            return elapsed

        for name, url in pages.items():
            # Each worker compiles the page's templates and fills its caches
            # at its first requests; which worker takes a request is the kernel's.
            for _n in range(20):
                get(url)
            connection.request("GET", url, headers={"Cookie": cookie})
            self.check_found(name, connection.getresponse().read().decode())
            page = summary([get(url) for _n in range(self.requests)])
            floor = self.results["pages"].get(name, {}).get("floor")
            if floor is not None:
                page["ratio_p95"] = round(page["p95_ms"] / max(floor["p95_ms"], FLOOR_MIN_MS), 2)
            measured[name] = page
            print(f"  {name:<24} p95 {page['p95_ms']:>8.1f} ms")
        connection.close()

    def check_found(self, name: str, html: str) -> None:
        """A search by number shows the person it looks for (see ``pages``)."""
        expected = self.found.get(name)
        assert expected is None or f">{expected}<" in html, f"{name}: {expected} not shown"

    def measure_throughput(
        self, port: int, cookie: str, person_url: str, seconds=10.0, threads=8, warmup=2.0
    ) -> None:
        """Person pages per second with ``threads`` clients asking at once."""
        counts = {"ok": 0, "errors": 0, "warm-up errors": 0}
        latencies = []
        lock = threading.Lock()
        # The first requests of each worker compile templates and fill its
        # caches: they run, but only those that start after the warm-up count.
        measured_from = time.perf_counter() + warmup
        deadline = measured_from + seconds

        def worker():
            connection = HTTPConnection("127.0.0.1", port, timeout=30)
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                connection.request("GET", person_url, headers={"Cookie": cookie})
                response = connection.getresponse()
                response.read()
                elapsed = time.perf_counter() - started
                with lock:
                    if started < measured_from:
                        counts["warm-up errors"] += response.status != 200
                        continue
                    latencies.append(elapsed)
                    counts["ok" if response.status == 200 else "errors"] += 1

        pool = [threading.Thread(target=worker) for _n in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        self.results["http"]["person_page"] = {
            "workers": 2,
            "client_threads": threads,
            "seconds": seconds,
            "requests": counts["ok"] + counts["errors"],
            "errors": counts["errors"],
            "warmup_seconds": warmup,
            "warmup_errors": counts["warm-up errors"],
            "per_second": round((counts["ok"] + counts["errors"]) / seconds, 1),
            **summary(latencies),
        }
        rate = counts["ok"] / seconds
        print(
            f"  gunicorn person pages: {rate:.0f}/s, errors {counts['errors']}"
            f" (warm-up: {counts['warm-up errors']})"
        )

    def measure_export_memory(self) -> None:
        """Peak RSS of a fresh gunicorn worker serving each export at N/10 and N rows."""
        for kind in ("csv", "xlsx"):
            peaks = {}
            for label, extra in (("tenth", {"arrived_from": self.tenth_date()}), ("all", {})):
                rows, peak_mb = self.export_peak(kind, extra)
                peaks[label] = {"rows": rows, "peak_rss_mb": peak_mb}
            peaks["growth_mb"] = round(
                peaks["all"]["peak_rss_mb"] - peaks["tenth"]["peak_rss_mb"], 1
            )
            self.results["exports"]["memory" if kind == "csv" else f"memory_{kind}"] = peaks
            print(f"  export memory, {kind}: {peaks}")

    def export_peak(self, kind: str, extra: dict) -> tuple[int, float]:
        """The rows of one export by a fresh single worker, and the worker's peak RSS in MB."""
        process, port = self.gunicorn(workers=1)
        try:
            cookie = self.login_cookie(port)
            workers = subprocess.run(  # noqa: S603
                ["pgrep", "-P", str(process.pid)], capture_output=True, text=True, check=True
            ).stdout.split()
            form = {"agency": "unhcr", "profile": "internal", "include_left": "y", **extra}
            form["csrf_token"], cookie = self.csrf_token(port, cookie, "/cases/verification")
            connection = HTTPConnection("127.0.0.1", port, timeout=300)
            connection.request(
                "POST", f"/reports/verification.{kind}", urllib.parse.urlencode(form),
                {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
            )  # fmt: skip
            response = connection.getresponse()
            assert response.status == 200, f"export answered {response.status}"
            body = response.read()
            if kind == "csv":
                rows = body.count(b"\n") - 1
            else:
                with zipfile.ZipFile(io.BytesIO(body)) as archive:
                    rows = archive.read("xl/worksheets/sheet1.xml").count(b"<row ") - 1
            status = Path(f"/proc/{workers[0]}/status").read_text()
            peak_kb = int(status.split("VmHWM:")[1].split()[0])
            return rows, round(peak_kb / 1024, 1)
        finally:
            process.terminate()
            process.wait()

    def tenth_date(self) -> str:
        from sqlalchemy import select

        from rudenim.cases.models import Person
        from rudenim.extensions import db

        app = self.app()
        with app.app_context():
            day = db.session.scalar(
                select(Person.arrived_on)
                .order_by(Person.arrived_on.desc())
                .offset(self.people // 10)
            )
            db.engine.dispose()
        return day.isoformat()


def table(results: dict) -> str:
    """The pages' figures in ms, test client first; through gunicorn when measured."""
    http = results.get("http", {}).get("pages", {})
    header = (
        f"{'page':<26}{'p50':>9}{'p95':>9}{'p99':>9}{'floor p95':>11}{'ratio':>8}{'queries':>9}"
        f"{'check':>8}"
    )
    if http:
        header += f"{'HTTP p50':>10}{'HTTP p95':>10}{'HTTP ratio':>12}"
    lines = [header]
    for name, page in results["pages"].items():
        line = (
            f"{name:<26}{page['p50_ms']:>9.1f}{page['p95_ms']:>9.1f}{page['p99_ms']:>9.1f}"
            f"{page['floor']['p95_ms']:>11.1f}{page['ratio_p95']:>8.1f}{page['queries']:>9}"
            f"{page['check_ratio']:>8.1f}"
        )
        if name in http:
            over = http[name]
            ratio = over.get("ratio_p95", float("nan"))
            line += f"{over['p50_ms']:>10.1f}{over['p95_ms']:>10.1f}{ratio:>12.1f}"
        lines.append(line)
    return "\n".join(lines)


def check(results: dict, baseline: dict) -> list[str]:
    """Pages whose check ratio exceeds twice the baseline's."""
    failures = []
    for name, page in results["pages"].items():
        reference = baseline["pages"].get(name)
        if reference is None:
            failures.append(f"{name}: not in the baseline (regenerate it: README, Performance)")
        elif page["check_ratio"] > 2 * reference["check_ratio"]:
            failures.append(
                f"{name}: check ratio {page['check_ratio']} > 2 × baseline"
                f" {reference['check_ratio']} (p50 {page['p50_ms']} ms, floor"
                f" {page['floor']['p50_ms']} ms, unit {page['unit_ms']} ms)"
            )
    return failures


def keep_larger(baseline: dict | None, results: dict) -> dict:
    """A baseline of these results, keeping each page of ``baseline`` whose check
    ratio is the larger: the baseline is regenerated from two runs or more."""
    merged = json.loads(json.dumps(results))
    for name, page in (baseline or {}).get("pages", {}).items():
        current = merged["pages"].get(name)
        if current is not None and page.get("check_ratio", 0) > current["check_ratio"]:
            merged["pages"][name] = page
    return merged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=int(os.environ.get("BENCH_PEOPLE", 100000)))
    parser.add_argument("--requests", type=int, default=int(os.environ.get("BENCH_REQUESTS", 200)))
    parser.add_argument("--check", type=Path, help="baseline JSON to compare ratios with")
    parser.add_argument(
        "--keep-larger",
        type=Path,
        metavar="BASELINE",
        help="write the results to BASELINE, keeping each page already there whose check"
        " ratio is larger (run twice or more to make a baseline)",
    )
    parser.add_argument("--skip-http", action="store_true", help="no gunicorn measurements")
    parser.add_argument("--out", type=Path, help="where to write the JSON results")
    parser.add_argument(
        "--force", action="store_true", help="empty a PostgreSQL database not named *bench*"
    )
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL")
    if url and url.startswith("sqlite"):
        print("SQLite: the benchmark builds its own file in a temporary folder")
        url = None
    if url:
        # The benchmark drops the database's schema: never the app's own by mistake.
        from sqlalchemy.engine import make_url

        name = make_url(url).database or ""
        if "bench" not in name and not args.force:
            print(f"refusing to empty database {name!r}: its name lacks 'bench' (--force)")
            return 2
    work = Path(tempfile.mkdtemp(prefix="rudenim-bench-"))
    bench = Bench(args.people, url, args.requests, work)
    database = "postgresql" if bench.url.startswith("postgresql") else "sqlite"
    print(f"building {args.people} people on {database} …")
    load_seconds = bench.build()
    print(f"  demo load: {load_seconds:.1f} s")
    bench.results.update(
        date=date.today().isoformat(),
        database=database,
        people=args.people,
        requests=args.requests,
        demo_load_seconds=round(load_seconds, 1),
        machine={
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
    )
    print("pages (test client):")
    bench.measure_pages()
    print("exports:")
    bench.measure_exports()
    if not args.skip_http:
        bench.measure_export_memory()
        bench.measure_http()
    failures = regressions(bench, json.loads(args.check.read_text())) if args.check else []
    out = args.out or ROOT / "bench" / "results" / f"{date.today().isoformat()}-{database}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(bench.results, indent=2) + "\n")
    print(table(bench.results))
    print(f"results written to {out}")
    if args.keep_larger:
        previous = json.loads(args.keep_larger.read_text()) if args.keep_larger.exists() else None
        merged = keep_larger(previous, bench.results)
        args.keep_larger.write_text(json.dumps(merged, indent=2) + "\n")
        print(f"baseline written to {args.keep_larger}")
    shutil.rmtree(work, ignore_errors=True)
    for failure in failures:
        print("REGRESSION", failure)
    return 1 if failures else 0


def regressions(bench: Bench, baseline: dict) -> list[str]:
    """The pages over twice their baseline ratio, each measured up to RETRIES more times."""
    failures = check(bench.results, baseline)
    for _attempt in range(RETRIES):
        if not failures:
            break
        # A page another process slowed once is measured again; a regression is a
        # ratio above the limit every time. The best measurement counts.
        names = [failure.split(":")[0] for failure in failures]
        print("measuring again:", ", ".join(names))
        first = {name: bench.results["pages"][name] for name in names}
        bench.measure_pages(only=names)
        for name, page in first.items():
            if page["check_ratio"] < bench.results["pages"][name]["check_ratio"]:
                bench.results["pages"][name] = page
        failures = check(bench.results, baseline)
    return failures


if __name__ == "__main__":
    raise SystemExit(main())
