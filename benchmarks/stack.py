"""The processes of `make bench-scale` (benchmarks/scale.py) and of tests/http/test_scale.py: a Redis, a
PgBouncer in transaction pooling in front of the PostgreSQL database, gunicorn app servers and db_workers,
all started here with their own ports, configuration and logs in a temporary directory, and all stopped
by `stop()` (each in its own process group, so a gunicorn's workers go with their master).

The app servers and workers run the production settings (config.settings) configured only through the
environment, as docs/DEPLOYMENT.md runs them: DATABASE_URL through PgBouncer with
DATABASE_POOLER=pgbouncer, CACHE_URL on the Redis, the database task queue, NUM_PROXIES=1 (the harness is
the load balancer: it says who the client is in X-Forwarded-For). Only the email provider is a stand-in
(benchmarks/mailbox.py: one file per message).
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import http.client
import io
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
APP_NAME = "allot-scale"  # application_name of every database session of the stack's processes
START_TIMEOUT = 60
PR_SET_PDEATHSIG = 1  # prctl(2)
# Loaded here, not between fork and exec, where as little as possible should run.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def missing_programs() -> list[str]:
    """The Debian programs the stack needs and this machine lacks (`make bench-scale` installs them)."""
    return [name for name in ("pgbouncer", "redis-server") if shutil.which(name) is None]


def _wait_for_port(port: int, process: subprocess.Popen, log: Path, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on {port} within {START_TIMEOUT} s: see {log}")


class Stack:
    """Redis, PgBouncer, `servers` gunicorns with `gunicorn_workers` sync workers each, `db_workers`
    task workers. `database` is Django's settings dict of the database to put PgBouncer in front of."""

    def __init__(
        self,
        database: dict,
        *,
        servers: int = 2,
        gunicorn_workers: int = 2,
        db_workers: int = 2,
        submit_rate: str = "10/minute",
        pool_size: int = 10,
        directory: Path | None = None,
        redis: bool = True,
    ):
        self.database = database
        self.server_count, self.gunicorn_workers, self.db_worker_count = servers, gunicorn_workers, db_workers
        self.submit_rate, self.pool_size = submit_rate, pool_size
        # redis=False leaves CACHE_URL unset: each gunicorn worker counts in its own memory (the default),
        # the control that shows what the shared cache changes.
        self.redis = redis
        # Configuration, logs and the mailbox; a directory made here is removed after a clean stop.
        self.own_dir = directory is None
        self.dir = Path(tempfile.mkdtemp(prefix="allot-scale-")) if directory is None else directory
        self.mailbox = self.dir / "mailbox"
        self.mailbox.mkdir()
        self.pgbouncer_dir = Path(tempfile.mkdtemp(prefix="allot-scale-pgbouncer-"))
        self.redis_port, self.pgbouncer_port = free_port(), free_port()
        self.server_ports = [free_port() for _ in range(servers)]
        self.processes: dict[str, subprocess.Popen] = {}

    # --- lifecycle --------------------------------------------------------------------------------

    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.stop()
        if exc_type is None and self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def start(self) -> None:
        if self.redis:
            self.start_redis()
        self.start_pgbouncer()
        for index in range(self.server_count):
            self.start_server(index, wait=False)
        for index in range(self.server_count):
            self.wait_for_server(index)
        for index in range(self.db_worker_count):
            self.start_db_worker(index)

    def stop(self) -> None:
        """Everything, the last started first: app servers and workers before PgBouncer and Redis."""
        for name in reversed(list(self.processes)):
            self._terminate(name)
        shutil.rmtree(self.pgbouncer_dir, ignore_errors=True)

    def _spawn(self, name: str, command: list[str], env: dict | None = None, **popen) -> subprocess.Popen:
        log = self.dir / f"{name}.log"
        with open(log, "ab") as out:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env or os.environ.copy(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() and kill() reach its children
                preexec_fn=_die_with_parent,
                **popen,
            )
        process.log = log  # type: ignore[attr-defined]
        self.processes[name] = process
        return process

    def _terminate(self, name: str, timeout: float = 15) -> None:
        process = self.processes.pop(name)
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError):  # what is left of the group (a gunicorn worker, ...)
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def kill_server(self, index: int) -> None:
        """`kill -9` of an app server: its master and its workers at once, no request finished, no
        connection closed cleanly (a crash, the OOM killer, a lost machine)."""
        process = self.processes[f"gunicorn-{index}"]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def server_alive(self, index: int) -> bool:
        process = self.processes.get(f"gunicorn-{index}")
        return process is not None and process.poll() is None

    def restart_server(self, index: int) -> None:
        self.processes.pop(f"gunicorn-{index}", None)
        self.start_server(index)

    # --- the processes ----------------------------------------------------------------------------

    def start_redis(self) -> None:
        # No persistence: Redis holds only throttle counters (docs/DEPLOYMENT.md), nothing to keep.
        command = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.redis_port), "--save", ""]
        command += ["--appendonly", "no", "--dir", str(self.dir), "--daemonize", "no"]
        process = self._spawn("redis", command)
        _wait_for_port(self.redis_port, process, process.log, "redis-server")  # type: ignore[attr-defined]

    def start_pgbouncer(self) -> None:
        db = self.database
        user = db.get("USER") or pwd.getpwuid(os.getuid()).pw_name
        # Its own directory: PgBouncer refuses to run as root, so as root it runs as another user, which
        # must read its files (self.dir may sit in a directory only root may enter, like pytest's tmp_path).
        # That user is set before exec, not with `pgbouncer -u`: switching user itself would drop the
        # die-with-parent setting.
        users = self.pgbouncer_dir / "users.txt"
        # auth_type trust still wants the user listed; the server login is PostgreSQL's own business.
        users.write_text(f'"{user}" "{db.get("PASSWORD") or ""}"\n')
        ini = self.pgbouncer_dir / "pgbouncer.ini"
        password = f" password={db['PASSWORD']}" if db.get("PASSWORD") else ""
        ini.write_text(
            "[databases]\n"
            f"{db['NAME']} = host={db.get('HOST') or '127.0.0.1'} port={db.get('PORT') or 5432}"
            f" dbname={db['NAME']} user={user}{password}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.pgbouncer_port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {users}\n"
            "pool_mode = transaction\n"
            # Far fewer server sessions than clients: that is the point of the pooler.
            f"default_pool_size = {self.pool_size}\n"
            "max_client_conn = 500\n"
            "admin_users = " + user + "\n"
        )
        account: dict = {}
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres" if _user_exists("postgres") else "nobody")
            for path in (self.pgbouncer_dir, users, ini):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            account = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        process = self._spawn("pgbouncer", ["pgbouncer", str(ini)], **account)
        _wait_for_port(self.pgbouncer_port, process, process.log, "pgbouncer")  # type: ignore[attr-defined]

    def env(self) -> dict[str, str]:
        """The environment of the app servers and workers: production settings, through PgBouncer."""
        db = self.database
        credentials = quote(db.get("USER") or "") + (f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else "")
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "false",
            "DATABASE_URL": f"postgres://{credentials}@127.0.0.1:{self.pgbouncer_port}/{db['NAME']}"
            f"?application_name={APP_NAME}",
            "DATABASE_POOLER": "pgbouncer",
            "CONN_MAX_AGE": "60",
            "TASKS_BACKEND": "django_tasks_db.DatabaseBackend",
            "EMAIL_BACKEND": "benchmarks.mailbox.EmailBackend",
            "ALLOT_MAILBOX_DIR": str(self.mailbox),
            "PUBLIC_SUBMIT_RATE": self.submit_rate,
            "NUM_PROXIES": "1",
            # The API serves no static file; production's manifest storage would need collectstatic first.
            "STATICFILES_BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage",
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("SQLITE_TEST_NAME", None)
        env.pop("CACHE_URL", None)
        if self.redis:
            env["CACHE_URL"] = f"redis://127.0.0.1:{self.redis_port}/0"
        return env

    def start_server(self, index: int, wait: bool = True) -> None:
        command = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "config.wsgi:application"]
        command += ["--workers", str(self.gunicorn_workers), "--bind", f"127.0.0.1:{self.server_ports[index]}"]
        # The access log would be one line per request of a load run: only errors are worth keeping.
        command += ["--access-logfile", "/dev/null"]
        self._spawn(f"gunicorn-{index}", command, self.env())
        if wait:
            self.wait_for_server(index)

    def wait_for_server(self, index: int) -> None:
        process, port = self.processes[f"gunicorn-{index}"], self.server_ports[index]
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn {index} exited:\n{process.log.read_text(errors='replace')[-3000:]}")  # type: ignore[attr-defined]
            try:  # any answer of Django's (a GET on the submit URL is 405) means a worker is up
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("GET", "/api/v1/bookings/submit")
                if conn.getresponse().status < 500:
                    return
            except OSError:
                pass
            finally:
                conn.close()
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn {index} did not answer within {START_TIMEOUT} s")

    def start_db_worker(self, index: int) -> None:
        command = [sys.executable, "manage.py", "db_worker", "--worker-id", f"scale-{index}"]
        command += ["--interval", "0.2", "--no-startup-delay"]
        self._spawn(f"db_worker-{index}", command, self.env())

    def pgbouncer(self, command: str) -> list[dict[str, str]]:
        """The rows of one of PgBouncer's admin commands (SHOW STATS, SHOW SERVERS, ...), through psql: the
        admin console speaks only the simple query protocol."""
        user = self.database.get("USER") or pwd.getpwuid(os.getuid()).pw_name
        done = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.pgbouncer_port), "-U", user, "-d", "pgbouncer", "--csv"]
            + ["-c", command],
            capture_output=True,
            text=True,
            check=True,
        )
        return list(csv.DictReader(io.StringIO(done.stdout)))

    def pool_figures(self) -> dict[str, int]:
        """What went through PgBouncer: transactions, and the client and server connections it holds."""
        stats = [row for row in self.pgbouncer("SHOW STATS") if row["database"] == self.database["NAME"]]
        clients = [row for row in self.pgbouncer("SHOW CLIENTS") if row["database"] == self.database["NAME"]]
        servers = [row for row in self.pgbouncer("SHOW SERVERS") if row["database"] == self.database["NAME"]]
        return {
            "transactions": sum(int(row["total_xact_count"]) for row in stats),
            "clients": len(clients),
            "servers": len(servers),
            "pool_size": self.pool_size,
        }

    def clear_mailbox(self) -> None:
        for path in self.mailbox.iterdir():
            path.unlink()

    def logs(self) -> str:
        """The tail of every log, for a failure message."""
        parts = []
        for log in sorted(self.dir.glob("*.log")):
            parts.append(f"--- {log.name}\n{log.read_text(errors='replace')[-1500:]}")
        return "\n".join(parts)


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL it when the harness dies without stopping it (killed itself, a
    CI timeout), so no server is left holding a port or the database. Linux only; PgBouncer drops the
    setting when it switches user."""
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
