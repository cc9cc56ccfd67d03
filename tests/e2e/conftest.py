"""Browser journeys: the real application under gunicorn, driven by Chromium.

The server is started once per test session, as in production: migrations
(``flask db upgrade``), reference data (``flask reference load``) and accounts
(``flask users create``) through the command line, then ``gunicorn`` with two
workers. It always runs on a fresh SQLite database in a temporary folder, also
when TEST_DATABASE_URL names PostgreSQL: the journeys prove what a user sees in
a browser, the rest of the suite proves the database, and a server of their own
keeps them from emptying tables under the other tests.

Chromium comes from the system packages (``/usr/bin/chromium``, or the path in
RUDENIM_E2E_CHROMIUM); Playwright never downloads a browser. Without Chromium
the journeys fail with a message, they are never skipped. One browser serves the
session; every journey gets a context (cookies, language) of its own. When a
journey fails, a screenshot of its last page and the server's log are saved in
``tests/e2e/artifacts/``.
"""

import http.client
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = os.environ.get("RUDENIM_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: The centre's time zone, given to the server so the journeys know its "today".
TIMEZONE = "Asia/Makassar"
#: Milliseconds a page or an action may take before a journey fails.
TIMEOUT_MS = 15_000


@dataclass(frozen=True)
class Account:
    username: str
    role: str
    password: str


ACCOUNTS = {
    "officer": Account("petugas", "officer", "jaga-malam-blok-a-2024"),
    "supervisor": Account("pengawas", "supervisor", "kepala-seksi-satu-2024"),
    "supervisor2": Account("pengawas2", "supervisor", "kepala-seksi-dua-2024"),
    "viewer": Account("pemantau", "viewer", "hanya-membaca-saja-2024"),
    "admin": Account("admin", "admin", "sistem-rudenim-kupang-2024"),
    #: Enrols in two-factor sign-in; no other journey signs in as them.
    "twofactor": Account("petugas2fa", "officer", "kode-enam-angka-2024"),
}


def pytest_runtest_makereport(item, call):
    """Note on the test whether its body failed, for the page fixture's teardown."""
    if call.when == "call":
        item.rep_call_failed = call.excinfo is not None


@dataclass
class Server:
    url: str
    log: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _flask(env: dict, *commands: tuple[str, ...], stdin: tuple[str | None, ...] = ()) -> None:
    """Run ``flask --app wsgi …`` commands as an operator would, side by side (starting
    the app is most of their time); fail with the output of any that fails."""
    inputs = stdin or (None,) * len(commands)
    processes = [
        subprocess.Popen(
            [str(BIN / "flask"), "--app", "wsgi", *command],
            cwd=PROJECT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for command in commands
    ]
    failures = []
    for command, text, process in zip(commands, inputs, processes, strict=True):
        output, _ = process.communicate(text, timeout=180)
        if process.returncode != 0:
            failures.append(f"flask {' '.join(command)} failed:\n{output}")
    if failures:
        pytest.fail("\n".join(failures))


def _wait_until_healthy(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}:\n{log.read_text()}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.2)
    pytest.fail(f"gunicorn did not answer /healthz within 60 s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def server(tmp_path_factory, compiled_translations):
    """The application under gunicorn on a fresh SQLite database, with its accounts."""
    folder = tmp_path_factory.mktemp("e2e")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FLASK_", "RUDENIM_", "TEST_DATABASE"))
    }
    env.update(
        DATABASE_URL=f"sqlite:///{folder / 'rudenim.sqlite3'}",
        SECRET_KEY="e2e-secret-key-not-for-production",
        RUDENIM_INSTANCE_PATH=str(folder / "instance"),
        RUDENIM_ENV="development",
        RATELIMIT_ENABLED="false",
        REQUIRE_2FA_FOR="",
        SESSION_COOKIE_SECURE="false",
        TIMEZONE=TIMEZONE,
        LOG_LEVEL="WARNING",
        # gunicorn (25.1+) puts its control socket here, not in the shared ~/.gunicorn.
        XDG_RUNTIME_DIR=str(folder),
    )
    _flask(env, ("db", "upgrade"))
    accounts = list(ACCOUNTS.values())
    _flask(
        env,
        ("reference", "load"),
        *[
            ("users", "create", account.username, "--role", account.role, "--password-stdin")
            for account in accounts
        ],
        stdin=(None, *[account.password + "\n" for account in accounts]),
    )

    port = _free_port()
    log = folder / "gunicorn.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{port}",
                "--access-logfile",
                "-",
                "wsgi:app",
            ],
            cwd=PROJECT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_healthy(port, process, log)
        yield Server(url=f"http://127.0.0.1:{port}", log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def browser():
    """One Chromium from the system packages for the whole session."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}; the browser journeys need it. "
            "Install it with `apt-get install chromium` (or set RUDENIM_E2E_CHROMIUM)."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server, request):
    """A page in a context of its own; on failure its last state is kept as a screenshot."""
    context = browser.new_context(base_url=server.url, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    journey_page = context.new_page()
    yield journey_page
    if getattr(request.node, "rep_call_failed", False):
        ARTIFACTS.mkdir(exist_ok=True)
        journey_page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
        shutil.copyfile(server.log, ARTIFACTS / "gunicorn.log")
    context.close()


@pytest.fixture(scope="session")
def story():
    """What one journey leaves for the next: the people, the violation, the flag."""
    return {}
