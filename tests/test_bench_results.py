"""`make bench`'s table (benchmarks/results.py): each goal's Met? column says yes or NO from the figures."""

import pytest

from benchmarks.results import build_rows


def wrk(rps: float, *, errors: int = 0, p95_ms: float = 100) -> dict:
    return {
        "rps": rps,
        "p50_us": 50_000,
        "p95_us": p95_ms * 1000,
        "requests": int(rps * 20),
        "errors": errors,
        "queries_per_request": 10.0,
        "sent": {"approve": 10},
    }


def timed(median: float, queries=(6,)) -> dict:
    return {"median": median, "queries": list(queries)}


def results(*, submit=100.0, approve=50.0, api=2.0, dump=1.0, avail=(0.020, 0.025), mixed_p95=900, errors=0):
    return {
        "submit": wrk(submit, errors=errors),
        "baseline": wrk(400.0),
        "approve": {**wrk(approve, errors=errors), "approved_in_db": 1000},
        "list_api": {"median": api, "queries": 100, "pages": 10},
        "list_dump": timed(dump, (3,)),
        "avail_1k": {**timed(avail[0]), "busy": 124, "table": 1000},
        "avail_100k": {**timed(avail[1]), "busy": 124, "table": 100_000},
        "admin_small": {"list": timed(0.1, (17,)), "calendar": timed(0.05, (10,))},
        "admin_large": {"list": timed(0.15, (17,)), "calendar": timed(0.07, (10,))},
        "mixed": {**wrk(40.0, errors=errors, p95_ms=mixed_p95), "sent": {"submit": 5}},
    }


def met(rows: list[tuple], measure: str) -> str:
    [row] = [row for row in rows if row[0].startswith(measure)]
    return row[5]


@pytest.mark.parametrize(
    ("submit", "expected"),
    [(140.0, "now: yes; target: yes"), (100.0, "now: yes; target: NO"), (60.0, "now: NO; target: NO")],
)
def test_the_submit_row_says_whether_each_of_its_two_goals_is_met(submit, expected):
    assert met(build_rows(results(submit=submit)), "Public submit") == expected  # baseline 400 req/s


def test_every_goal_is_met_by_good_figures_and_missed_by_bad_ones():
    good = build_rows(results())
    assert [met(good, m) for m in ("Staff approve", "Booking list", "Resource availability", "Mixed load")] == [
        "yes",
        "yes",
        "yes",
        "yes",
    ]
    bad = build_rows(results(api=2.1, avail=(0.020, 0.031), mixed_p95=1000))
    assert [met(bad, m) for m in ("Booking list", "Resource availability", "Mixed load")] == ["NO", "NO", "NO"]
    with_errors = build_rows(results(errors=1))
    assert [met(with_errors, m) for m in ("Public submit", "Staff approve", "Mixed load")] == [
        "now: NO; target: NO",
        "NO",
        "NO",
    ]


def test_the_approve_row_is_next_to_the_submit_baseline():
    [row] = [row for row in build_rows(results(approve=60.0)) if row[0].startswith("Staff approve")]
    assert row[2].startswith("insert one row and return it: 400.0 req/s") and row[3] == "0.15"
