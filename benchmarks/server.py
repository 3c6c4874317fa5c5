"""The server and the clients of `make bench` (benchmarks/run.py): gunicorn on a free port, timed requests,
and the wrk scenarios (benchmarks/wrk/*.lua) fed with their data as a Lua file."""

import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.parameters import ROOT, WORKERS, WRK_DIR, WRK_THREADS, WRK_TIMEOUT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, workdir: Path):
        self.port = free_port()
        self.log_path = workdir / "gunicorn.log"
        self.process = None

    def start(self) -> None:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_bench"}
        self.log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "--workers",
                str(WORKERS),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--timeout",
                "60",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: see {self.log_path}\n{self.log_path.read_text()[-2000:]}")
            try:
                status, *_ = self.request("GET", "/bench/baseline")  # 405: the server answers
                if status == 405:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"gunicorn did not answer within 60 s: see {self.log_path}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # gunicorn's graceful shutdown of its workers
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()

    def request(self, method: str, path: str, headers=None, body=None):
        """(status, seconds, queries, body) of one request on a new connection (gunicorn's sync workers
        close every connection)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            started = time.perf_counter()
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            content = response.read()
            elapsed = time.perf_counter() - started
        finally:
            conn.close()
        queries = response.getheader("X-Bench-Queries")
        return response.status, elapsed, int(queries) if queries else None, content

    def timed(self, path: str, runs: int, headers=None, warmup: int = 3) -> dict:
        for _ in range(warmup):
            status, *_ = self.request("GET", path, headers)
            assert status == 200, (path, status)
        samples, queries = [], set()
        for _ in range(runs):
            status, seconds, count, _ = self.request("GET", path, headers)
            assert status == 200, (path, status)
            samples.append(seconds)
            queries.add(count)
        return {
            "median": statistics.median(samples),
            "min": min(samples),
            "max": max(samples),
            "queries": sorted(queries),
        }

    def wrk(self, script: str, data: dict, *, connections: int, seconds: int, workdir: Path, path: str = "") -> dict:
        data_file = workdir / f"data-{data['region']}.lua"
        data_file.write_text("return " + lua(data) + "\n")
        env = {**os.environ, "BENCH_LUA_DATA": str(data_file), "BENCH_WRK_DIR": str(WRK_DIR), "BENCH_PATH": path}
        command = [
            "wrk",
            f"-t{WRK_THREADS}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            WRK_TIMEOUT,
            "-s",
            str(WRK_DIR / script),
            f"http://127.0.0.1:{self.port}",
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
        if done.returncode != 0 or line is None:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
        result = json.loads(line.removeprefix("BENCH_JSON "))
        result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
        result["errors"] = sum(result[k] for k in ("connect", "read", "write", "status", "timeout"))
        answers = result["queries"].get("answers", 0)
        result["queries_per_request"] = result["queries"].get("total", 0) / answers if answers else float("nan")
        return result


def lua(value) -> str:
    """A Python value as a Lua literal (strings, numbers, lists, dicts with identifier keys)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # ASCII with \" and \\ escapes, which Lua reads alike
    if isinstance(value, list | tuple):
        return "{" + ",".join(lua(v) for v in value) + "}"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}={lua(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}
