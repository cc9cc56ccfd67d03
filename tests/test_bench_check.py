"""The benchmark's regression check (bench/run.py), which `.ci/run` relies on.

The check must fail when a page gets slower than its baseline by more than
twice, and must not fail because the whole machine is slower today: both the
SQL floor and the unit of plain Python are measured in the same run.
"""

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "run.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("rudenim_bench_run", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def page(bench, p50_ms: float, floor_ms: float, unit_ms: float) -> dict:
    measured = {"p50_ms": p50_ms, "floor": {"p50_ms": floor_ms}, "unit_ms": unit_ms}
    measured["check_ratio"] = bench.check_ratio(measured)
    return measured


def results(**pages) -> dict:
    return {"pages": pages}


def test_a_page_whose_sql_is_tiny_is_measured_against_the_unit(bench):
    assert bench.check_ratio({"p50_ms": 12.0, "floor": {"p50_ms": 0.04}, "unit_ms": 1.5}) == 8.0
    assert bench.check_ratio({"p50_ms": 12.0, "floor": {"p50_ms": 4.0}, "unit_ms": 1.5}) == 3.0


def test_a_machine_two_and_a_half_times_slower_passes(bench):
    baseline = results(person=page(bench, 10.0, 0.05, 1.0), log=page(bench, 22.0, 8.0, 1.0))
    # Everything, SQL and Python, takes 2.5 times as long: no page got slower.
    today = results(person=page(bench, 25.0, 0.125, 2.5), log=page(bench, 55.0, 20.0, 2.5))

    assert bench.check(today, baseline) == []


def test_a_page_more_than_twice_as_slow_on_the_same_machine_fails(bench):
    baseline = results(person=page(bench, 10.0, 0.05, 1.0), log=page(bench, 22.0, 8.0, 1.0))
    today = results(person=page(bench, 21.0, 0.05, 1.0), log=page(bench, 30.0, 8.0, 1.0))

    failures = bench.check(today, baseline)

    assert len(failures) == 1
    assert failures[0].startswith("person: check ratio 21.0 > 2 × baseline 10.0")


def test_a_page_whose_sql_got_slower_fails_even_on_a_slower_machine(bench):
    # The log's own SQL went from 8 to 40 ms in a run where the machine was
    # twice as slow: the floor (16 ms on this machine) says so.
    baseline = results(log=page(bench, 22.0, 8.0, 1.0))
    today = results(log=page(bench, 90.0, 16.0, 2.0))

    assert [failure.split(":")[0] for failure in bench.check(today, baseline)] == ["log"]


def test_a_page_missing_from_the_baseline_fails_rather_than_going_unchecked(bench):
    baseline = results(person=page(bench, 10.0, 0.05, 1.0))
    today = results(person=page(bench, 10.0, 0.05, 1.0), board=page(bench, 15.0, 0.5, 1.0))

    assert bench.check(today, baseline) == [
        "board: not in the baseline (regenerate it: README, Performance)"
    ]


def test_a_baseline_keeps_each_page_s_larger_ratio_over_runs(bench):
    first = results(person=page(bench, 10.0, 0.05, 1.0), log=page(bench, 22.0, 8.0, 1.0))
    second = results(person=page(bench, 9.0, 0.05, 0.6), log=page(bench, 20.0, 8.0, 1.0))

    merged = bench.keep_larger(bench.keep_larger(None, first), second)

    assert merged["pages"]["person"]["check_ratio"] == 15.0  # 9 / 0.6 from the second run
    assert merged["pages"]["log"]["check_ratio"] == 2.75  # 22 / 8 from the first


def measured_page(p50_ms: float, p95_ms: float, floor_p95_ms: float) -> dict:
    return {
        "p50_ms": p50_ms, "p95_ms": p95_ms, "p99_ms": p95_ms, "queries": 14,
        "floor": {"p50_ms": floor_p95_ms, "p95_ms": floor_p95_ms},
        "ratio_p95": round(p95_ms / max(floor_p95_ms, 1.0), 2), "check_ratio": 9.0,
    }  # fmt: skip


def test_the_table_shows_each_page_through_gunicorn_beside_the_test_client(bench):
    measured = {"pages": {"person": measured_page(12.9, 19.5, 0.2)}, "http": {}}
    assert "HTTP" not in bench.table(measured)  # --skip-http: no such columns

    measured["http"]["pages"] = {"person": {"p50_ms": 14.2, "p95_ms": 21.3, "ratio_p95": 21.3}}
    header, person = bench.table(measured).splitlines()

    assert header.split()[-6:] == ["HTTP", "p50", "HTTP", "p95", "HTTP", "ratio"]
    assert person.split() == ["person", "12.9", "19.5", "19.5", "0.2", "19.5", "14", "9.0",
                              "14.2", "21.3", "21.3"]  # fmt: skip


def test_make_bench_runs_end_to_end_with_gunicorn(tmp_path):
    """The whole benchmark, small: what `make bench` runs, HTTP included, on SQLite
    (`.ci/run` runs it larger with --skip-http)."""
    import json
    import os
    import subprocess
    import sys

    out = tmp_path / "results.json"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    finished = subprocess.run(
        [sys.executable, str(BENCH), "--people", "300", "--requests", "5", "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stdout + finished.stderr
    results = json.loads(out.read_text())

    pages = set(results["pages"])
    assert "person" in pages and "dashboard" in pages
    assert set(results["http"]["pages"]) == pages
    for page in results["http"]["pages"].values():
        assert page["n"] == 5 and page["p95_ms"] > 0
    throughput = results["http"]["person_page"]
    assert throughput["errors"] == 0 and throughput["per_second"] > 0
    assert results["exports"]["memory"]["all"]["rows"] == 300
    assert "HTTP p95" in finished.stdout
