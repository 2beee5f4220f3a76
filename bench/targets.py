"""The systems under test for bench/run.py: the bare aiosmtpd sink (bench/sink.py) and our
server (`smtp-logger serve`) on SQLite or a fresh PostgreSQL database, each in its own process
group on 127.0.0.1, plus read-only access to our `decisions` table to see what was logged.
Every start registers its cleanup (process group, temp dir, database) on an ExitStack.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path

from procmem import CpuMeter  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
PG_ADMIN = "postgresql://root@127.0.0.1:5432/postgres"
# Our data folders live under the repository's var/ (as `serve`'s default data_dir does), not in
# /tmp: on this machine every test suite creates and deletes its files there, and ext4 then
# spends 0.3-0.8 ms of system time looking past recently deleted inodes for each file created
# in that folder's block group (0.07 ms elsewhere): a cost of /tmp, not of the spool.
DATA_ROOT = ROOT / "var" / "bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.recv(100)  # the 220 greeting
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM the process group we started, SIGKILL after 10 s."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        except ProcessLookupError:
            pass


def pg_available() -> bool:
    try:
        import psycopg
        with psycopg.connect(PG_ADMIN, connect_timeout=2):
            return True
    except Exception:
        return False


class Decisions:
    """Read-only view of our `decisions` table (SQLite file or PostgreSQL URL)."""

    def __init__(self, sqlite_path: Path | None = None, pg_url: str | None = None):
        if sqlite_path is not None:
            self.conn = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True,
                                        isolation_level=None, timeout=30,
                                        check_same_thread=False)
            self.ph = "?"
        else:
            import psycopg
            self.conn = psycopg.connect(pg_url, autocommit=True)
            self.conn.execute("SET default_transaction_read_only = on")
            self.ph = "%s"
            self.backend_pid = self.conn.execute("SELECT pg_backend_pid()").fetchone()[0]
            self.database = self.conn.info.dbname

    def _rows(self, sql: str, *args):
        return self.conn.execute(sql.replace("?", self.ph), args).fetchall()

    def count(self, like: str) -> int:
        return self._rows("SELECT count(DISTINCT message_id) FROM decisions WHERE message_id LIKE ?",
                          like)[0][0]

    def reasons(self, like: str) -> dict[str, int]:
        rows = self._rows("SELECT reason, count(*) FROM decisions WHERE message_id LIKE ? "
                          "GROUP BY reason", like)
        return {r: n for r, n in rows}

    def once(self, like: str) -> dict[str, int]:
        """Engagements and decisions of the messages matching `like`: rows and distinct
        Message-IDs of each (a message logged twice shows as more rows than Message-IDs)."""
        (e, em), = self._rows("SELECT count(*), count(DISTINCT message_id) FROM engagements "
                              "WHERE message_id LIKE ?", like)
        (d, dm), = self._rows("SELECT count(*), count(DISTINCT message_id) FROM decisions "
                              "WHERE message_id LIKE ?", like)
        return {"engagements": e, "engagement_message_ids": em, "decisions": d, "decided_message_ids": dm}

    def attachments(self, message_id: str) -> list[dict]:
        """What the engagement(s) of that message list as attachments (stored or not, why)."""
        rows = self._rows("SELECT a.filename, a.size, a.stored, a.reason FROM decisions d "
                          "JOIN attachments a ON a.engagement_id = d.engagement_id "
                          "WHERE d.message_id = ?", message_id)
        return [{"filename": f, "size": n, "stored": bool(s), "reason": r} for f, n, s, r in rows]

    def decided_at(self, like: str) -> dict[str, float]:
        """Message-ID -> epoch seconds of its first decision."""
        out = {}
        for mid, at in self._rows("SELECT message_id, min(decided_at) FROM decisions "
                                  "WHERE message_id LIKE ? GROUP BY message_id", like):
            if isinstance(at, str):
                at = datetime.fromisoformat(at)
            if at.tzinfo is None:
                at = at.replace(tzinfo=timezone.utc)
            out[mid] = at.timestamp()
        return out

    def close(self) -> None:
        self.conn.close()


class PgBackends:
    """The PostgreSQL server's processes serving one database (its backends), less the bench's
    own readers: their CPU over a load, from /proc, sampled every 0.2 s so that a backend that
    ends meanwhile still counts. The server's shared processes (WAL writer, checkpointer) serve
    every database on it (other people's tests too) and are left out."""

    def __init__(self, database: str, *exclude: int):
        import psycopg
        self.database, self.exclude = database, exclude
        self.conn = psycopg.connect(PG_ADMIN, autocommit=True)
        self._stop = threading.Event()
        self.meter: CpuMeter | None = None
        self._thread: threading.Thread | None = None

    def pids(self) -> list[int]:
        rows = self.conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> ALL(%s)",
                                 (self.database, list(self.exclude))).fetchall()
        return [r[0] for r in rows]

    def begin(self) -> None:
        self.meter = CpuMeter(self.pids())
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.meter.sample(self.pids())

    def end(self) -> float:
        """CPU seconds of the database's backends since begin()."""
        self._stop.set()
        self._thread.join()
        self.meter.sample(self.pids())
        return self.meter.total()

    def close(self) -> None:
        self.conn.close()


class Target:
    """A running system under test."""

    def __init__(self, name: str, port: int, proc: subprocess.Popen, rcpt: str,
                 decisions: Decisions | None, log_path: Path | None, pg: PgBackends | None = None):
        self.name, self.port, self.proc, self.rcpt = name, port, proc, rcpt
        self.decisions, self.log_path, self.pg = decisions, log_path, pg

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, n: int = 20) -> list[str]:
        if self.log_path is None or not self.log_path.exists():
            return []
        return self.log_path.read_text(errors="replace").splitlines()[-n:]


def start_sink(stack: ExitStack) -> Target:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "sink.py"), "--port", str(port)],
                            stdout=subprocess.DEVNULL, start_new_session=True)
    stack.callback(stop_group, proc)
    wait_port(port, proc)
    return Target("sink", port, proc, "sink@bcc.smtp-logger.localhost", None, None)


def start_ours(stack: ExitStack, backend: str, log_dir: Path) -> Target:
    """`smtp-logger serve` on a fresh data dir (and a fresh PostgreSQL database if asked)."""
    pg_url = fresh_database(stack) if backend == "postgres" else None
    env = serve_env(stack, backend, pg_url)
    rcpt = add_user(env)
    return start_serve(stack, f"ours-{backend}", env, log_dir, pg_url, rcpt)


def fresh_database(stack: ExitStack) -> str:
    """A new PostgreSQL database (dropped when the stack closes); its psycopg URL."""
    import psycopg
    db = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    stack.callback(_drop_db, db)
    return f"postgresql://root@127.0.0.1:5432/{db}"


def serve_env(stack: ExitStack, name: str, pg_url: str | None = None, **settings) -> dict:
    """The environment of one receiver: its own fresh data dir and port, the shared database
    `pg_url` (migrated to head; SQLite in the data dir without one), extra SMTP_LOGGER_* settings."""
    DATA_ROOT.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix=f"smtp_logger_bench_{name}_", dir=DATA_ROOT))
    stack.callback(shutil.rmtree, data_dir, True)
    env = dict(os.environ, SMTP_LOGGER_DATA_DIR=str(data_dir), SMTP_LOGGER_PORT=str(free_port()),
               SMTP_LOGGER_HOST="127.0.0.1", SMTP_LOGGER_LOG_LEVEL="warning",
               SMTP_LOGGER_LOG_FORMAT="json", SMTP_LOGGER_METRICS_PORT="0",
               SMTP_LOGGER_TRUSTED_NETWORKS="127.0.0.0/8")  # the load generators: no client limits
    env.update({f"SMTP_LOGGER_{k.upper()}": str(v) for k, v in settings.items()})
    if pg_url is not None:
        env["SMTP_LOGGER_DATABASE_URL"] = pg_url.replace("postgresql://", "postgresql+psycopg://", 1)
        subprocess.run([str(BIN / "smtp-logger"), "db", "upgrade"], env=env, cwd=ROOT,
                       check=True, capture_output=True, timeout=120)
    return env


def add_user(env: dict, address: str = "bench@ours.example") -> str:
    """Adds the bench's user; its BCC address."""
    out = subprocess.run([str(BIN / "smtp-logger"), "users", "add", address, "--json"],
                         env=env, cwd=ROOT, check=True, capture_output=True, timeout=120)
    return json.loads(out.stdout)["bcc_address"]


def start_serve(stack: ExitStack, name: str, env: dict, log_dir: Path, pg_url: str | None,
                rcpt: str, measure_pg: bool = True) -> Target:
    """`smtp-logger serve` with `env` (serve_env), its log in log_dir/<name>.log; a Target with
    a read-only view of the decisions and, on PostgreSQL with `measure_pg`, its database's backends."""
    port = int(env["SMTP_LOGGER_PORT"])
    log_path = log_dir / f"{name}.log"
    log = open(log_path, "wb")
    stack.callback(log.close)
    proc = subprocess.Popen([str(BIN / "smtp-logger"), "serve", "--host", "127.0.0.1", "--port",
                             str(port)], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    stack.callback(stop_group, proc)
    wait_port(port, proc)
    data_dir = Path(env["SMTP_LOGGER_DATA_DIR"])
    decisions = Decisions(pg_url=pg_url) if pg_url else Decisions(data_dir / "smtp_logger.db")
    stack.callback(decisions.close)
    pg = None
    if pg_url and measure_pg:
        pg = PgBackends(decisions.database, decisions.backend_pid)
        stack.callback(pg.close)
    return Target(name, port, proc, rcpt, decisions, log_path, pg)


def _drop_db(db: str) -> None:
    import psycopg
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
