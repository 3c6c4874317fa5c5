"""DATABASE_POOLER=pgbouncer (docs/DEPLOYMENT.md#pgbouncer-in-transaction-pooling): the settings read in a fresh
interpreter, as a server started with that environment would. tests/http/test_scale.py runs the application
behind a real PgBouncer."""

import json

from .test_hardening import run_python, settings_value

BEHIND_PGBOUNCER = {"DATABASE_URL": "postgres://allot@127.0.0.1:6432/allot", "CONN_MAX_AGE": "60"}


def database(**env: str) -> dict:
    return json.loads(settings_value("__import__('json').dumps(settings.DATABASES['default'], default=str)", **env))


def test_behind_pgbouncer_no_state_outlives_a_transaction():
    db = database(DATABASE_POOLER="pgbouncer", **BEHIND_PGBOUNCER)

    assert db["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert db["OPTIONS"]["prepare_threshold"] is None
    assert db["OPTIONS"]["server_side_binding"] is False
    assert db["CONN_HEALTH_CHECKS"] is True
    assert db["CONN_MAX_AGE"] == 60  # a kept connection holds only a socket to PgBouncer


def test_without_a_pooler_the_defaults_stay():
    db = database(**BEHIND_PGBOUNCER)

    assert db.get("DISABLE_SERVER_SIDE_CURSORS", False) is False
    assert "server_side_binding" not in db.get("OPTIONS", {})


def test_an_unknown_pooler_is_refused():
    result = run_python(
        "import os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; "
        "from django.conf import settings; settings.DATABASES",
        DATABASE_POOLER="pgpool",
        **BEHIND_PGBOUNCER,
    )

    assert result.returncode != 0
    assert "DATABASE_POOLER='pgpool'" in result.stderr


def test_a_pooler_without_postgresql_is_refused():
    result = run_python(
        "import os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; "
        "from django.conf import settings; settings.DATABASES",
        DATABASE_POOLER="pgbouncer",
        DATABASE_URL="sqlite:////tmp/allot-pooler.sqlite3",
    )

    assert result.returncode != 0
    assert "DATABASE_POOLER is for PostgreSQL" in result.stderr
