"""Concurrent staff on PostgreSQL, at reduced size: runs ``tests/load/loadtest.py``.

The full run is ``python tests/load/loadtest.py --users 50 --seconds 60``. Here 10
users work for 15 seconds against gunicorn with 4 workers, on a database of its
own next to the suite's (``<suite database>_load``), so the suite's data is never
touched. On SQLite the test is skipped: the PostgreSQL pass of ``.ci/run`` runs it.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

LOADTEST = Path(__file__).resolve().parent / "loadtest.py"
SUITE_URL = os.environ.get("TEST_DATABASE_URL", "")

pytestmark = pytest.mark.skipif(
    not SUITE_URL.startswith("postgresql"),
    reason="the load test needs PostgreSQL (TEST_DATABASE_URL); .ci/run's PostgreSQL pass runs it",
)


def test_concurrent_staff_lose_nothing_and_never_overwrite(tmp_path):
    suite = make_url(SUITE_URL)
    url = suite.set(database=f"{suite.database}_load").render_as_string(hide_password=False)
    figures_path = tmp_path / "figures.json"
    result = subprocess.run(  # noqa: S603
        [
            sys.executable,
            str(LOADTEST),
            "--users",
            "10",
            "--seconds",
            "15",
            "--people",
            "300",
            "--database-url",
            url,
            "--json",
            str(figures_path),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = result.stdout[-8000:] + result.stderr[-4000:]
    assert result.returncode == 0, output
    figures = json.loads(figures_path.read_text())
    assert figures["errors"] == 0, output
    assert figures["problems"] == 0, output
    writes = figures["writes"]
    # Each kind of write happened, so each check above had something to check.
    for kind in ("checkins", "verification_steps", "violations", "edits_applied", "edits_stale"):
        assert writes[kind] > 0, (kind, output)
    assert writes["edits_other"] == 0, output
    assert figures["audit"].startswith("OK"), output
