"""Settings of `make bench` (benchmarks/run.py): production settings with the benchmark's few changes.

Never deploy these. They add the benchmark's baseline views (config/urls_bench.py) and a middleware that
reports each request's query count in a header; everything else is the production configuration.
"""

from config.settings import *  # noqa: F403
from config.settings import MIDDLEWARE, REST_FRAMEWORK

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

# The baseline views (/bench/...) exist only in this URLconf.
ROOT_URLCONF = "config.urls_bench"

# Outermost, so the count includes the session, authentication and every other middleware's queries.
MIDDLEWARE = ["benchmarks.middleware.QueryCountMiddleware", *MIDDLEWARE]

# Production runs the database task queue: a request only writes the outbox row and the task row; no
# db_worker runs during the benchmark, so nothing is sent (and the email backend below never prints).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

# The throttles stay on (their cache reads and writes are part of every public submit) at a rate the
# benchmark never reaches: a million requests a minute per client. wrk sends everything from 127.0.0.1,
# so the production rate (30/minute) would turn all but the first 30 submits into 429s.
BENCH_THROTTLE_RATE = "1000000/minute"
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {scope: BENCH_THROTTLE_RATE for scope in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]},
}

# As docs/DEPLOYMENT.md runs it: each worker keeps its database connection (one per request would add a
# connection set-up to the submit and the baseline alike and hide the difference between them).
DATABASES["default"]["CONN_MAX_AGE"] = 60  # noqa: F405
