"""`make bench`'s settings and baseline views: the baselines exist only under config.settings_bench."""

import importlib
import json

import pytest
from django.db import connection
from django.test import override_settings
from django.urls import Resolver404, resolve

BASELINE = "/bench/baseline"
DUMP = "/bench/dump/bookings"


@pytest.mark.parametrize("path", [BASELINE, DUMP])
def test_the_baseline_urls_do_not_exist_under_the_normal_settings(client, db, path):
    with pytest.raises(Resolver404):
        resolve(path)
    assert client.post(path, "{}", content_type="application/json").status_code == 404
    assert client.get(path).status_code == 404


def test_bench_settings_import_and_change_only_what_the_benchmark_needs():
    from config import settings as production

    bench = importlib.import_module("config.settings_bench")
    assert bench.DEBUG is False
    assert bench.ROOT_URLCONF == "config.urls_bench" != production.ROOT_URLCONF
    assert bench.TASKS["default"]["BACKEND"] == "django_tasks_db.DatabaseBackend"
    assert ["benchmarks.middleware.QueryCountMiddleware", *production.MIDDLEWARE] == bench.MIDDLEWARE
    assert set(bench.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]) == set(
        production.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    )
    assert set(bench.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].values()) == {bench.BENCH_THROTTLE_RATE}
    assert "benchmarks.middleware.QueryCountMiddleware" not in production.MIDDLEWARE


@override_settings(ROOT_URLCONF="config.urls_bench", MIDDLEWARE=["benchmarks.middleware.QueryCountMiddleware"])
def test_the_baseline_inserts_one_row_and_returns_it(client, db):
    from benchmarks.views import BASELINE_TABLE, ensure_baseline_table

    assert resolve(BASELINE).url_name == "bench-baseline"
    ensure_baseline_table()
    response = client.post(BASELINE, json.dumps({"event": {"title": "Team meeting"}}), content_type="application/json")
    assert response.status_code == 201
    row = response.json()["row"]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, title, body FROM {BASELINE_TABLE}")
        assert cursor.fetchall() == [(row["id"], "Team meeting", json.dumps({"event": {"title": "Team meeting"}}))]
    assert int(response["X-Bench-Queries"]) >= 1  # the insert, counted by the bench-only middleware
