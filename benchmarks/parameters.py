"""The parameters of `make bench` (benchmarks/run.py): sizes, durations, connections, paths."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = 20261121
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
WRK_DIR = ROOT / "benchmarks" / "wrk"
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))  # gunicorn sync workers (production: 2 x cores + 1)
SUBMIT_SECONDS = int(os.environ.get("BENCH_SUBMIT_SECONDS", "20"))
SUBMIT_CONNECTIONS = 8  # the approve throughput's too
MIXED_SECONDS = int(os.environ.get("BENCH_MIXED_SECONDS", "60"))
MIXED_CONNECTIONS = 50
WRK_THREADS = 2
WRK_TIMEOUT = "10s"  # a request slower than this counts as an error (wrk's "timeout")
HOURS_PER_THREAD = 2000  # one wrk thread's stretch of free hours (x 10 resources = 20,000 submits)
APPROVALS_PER_THREAD = 2500  # the mixed load's approvals
# The approve throughput's own pending bookings, per wrk thread: a 5 s warm-up's, then the measurement's
# (each approved once; at 100 approvals a second, 20 s take 1,000 per thread).
APPROVE_WARMUP_PER_THREAD = 500
APPROVE_PER_THREAD = 2500
SMALL, LARGE = 100, 10_000
TABLE_SMALL, TABLE_LARGE = 1_000, 100_000
PAGE = 1000

# The goals of the table's Met? column. The public submit's req/s over the
# one-insert baseline's: 0.20 now, 0.35 the target; the booking list's speed over the dump's; the availability
# at 100,000 reservations over the one at 1,000 (a ceiling); the mixed load's p95.
SUBMIT_GOAL_NOW, SUBMIT_GOAL_TARGET = 0.20, 0.35
LIST_GOAL = 0.50
AVAILABILITY_GOAL = 1.5
MIXED_P95_GOAL_MS = 1000
