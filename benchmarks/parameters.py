"""The parameters of `make bench` (benchmarks/run.py): sizes, durations, connections, paths."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = 20261121
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
WRK_DIR = ROOT / "benchmarks" / "wrk"
WORKERS = 2
SUBMIT_SECONDS = int(os.environ.get("BENCH_SUBMIT_SECONDS", "20"))
SUBMIT_CONNECTIONS = 8
MIXED_SECONDS = int(os.environ.get("BENCH_MIXED_SECONDS", "60"))
MIXED_CONNECTIONS = 50
WRK_THREADS = 2
WRK_TIMEOUT = "10s"  # a request slower than this counts as an error (wrk's "timeout")
HOURS_PER_THREAD = 2000  # one wrk thread's stretch of free hours (x 10 resources = 20,000 submits)
APPROVALS_PER_THREAD = 2500
SMALL, LARGE = 100, 10_000
TABLE_SMALL, TABLE_LARGE = 1_000, 100_000
PAGE = 1000
