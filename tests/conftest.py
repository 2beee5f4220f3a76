"""Fixtures that start real things: a fresh database (SQLite file, or a PostgreSQL database
cloned from a migrated template), a real smtp_logger receiver on a free 127.0.0.1 port, and
the real `smtp-logger` command line against the same settings."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from smtp_logger.base.config import load_settings
from smtp_logger.cli import main as cli_main
from smtp_logger.store.db import upgrade

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("SMTP_LOGGER_CORPUS", REPO.parent / "shared" / "corpus"))
PG_ADMIN_URL = os.environ.get("SMTP_LOGGER_TEST_PG", "postgresql+psycopg://root@127.0.0.1:5432/test")


def _pg_reason() -> str | None:
    """None when PostgreSQL answers, else why the PostgreSQL variants are skipped."""
    try:
        import psycopg
        with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), connect_timeout=3):
            return None
    except Exception as exc:  # no server here: skip with the reason
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {str(exc).splitlines()[0]}"


PG_SKIP = _pg_reason()
_template = {}


def _pg_execute(sql: str) -> None:
    import psycopg
    with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(sql)


def _pg_database() -> str:
    """A fresh migrated database cloned from a template made once per test run."""
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    if "name" not in _template:
        name = f"sl_template_{os.getpid()}"
        _pg_execute(f"DROP DATABASE IF EXISTS {name}")
        _pg_execute(f"CREATE DATABASE {name}")
        upgrade(f"{base}/{name}")
        from smtp_logger.store.db import get_engine
        get_engine(f"{base}/{name}").dispose()
        _template["name"] = name
    name = f"sl_test_{secrets.token_hex(6)}"
    _pg_execute(f"CREATE DATABASE {name} TEMPLATE {_template['name']}")
    return f"{base}/{name}"


def pytest_sessionfinish(session, exitstatus):
    if "name" in _template:
        try:
            _pg_execute(f"DROP DATABASE IF EXISTS {_template['name']}")
        except Exception:
            pass


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'crm.db'}"
        upgrade(url)
        yield url
        return
    if PG_SKIP:
        pytest.skip(PG_SKIP)
    url = _pg_database()
    yield url
    from smtp_logger.store.db import get_engine
    get_engine(url).dispose()
    get_engine.cache_clear()
    try:
        _pg_execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")
    except Exception:
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cli:
    env: dict

    def __call__(self, *args: str, expect: int = 0, input: str | None = None):
        result = CliRunner().invoke(cli_main, list(args), env=self.env, input=input, catch_exceptions=False)
        assert result.exit_code == expect, f"{args}: exit {result.exit_code}\n{result.output}"
        return result

    def json(self, *args: str):
        return json.loads(self(*args, "--json").stdout)


@dataclass
class Receiver:
    """A real receiver on a free port, running its own event loop in a thread."""

    settings: object
    cli: Cli
    port: int = 0
    app: object = None
    loop: asyncio.AbstractEventLoop | None = None
    thread: threading.Thread | None = None
    server: object = None
    users: dict = field(default_factory=dict)

    def start(self):
        from smtp_logger.run.service import App
        self.loop = asyncio.new_event_loop()
        self.app = App(self.settings)
        ready = threading.Event()

        def run():
            asyncio.set_event_loop(self.loop)
            self.server = self.loop.run_until_complete(self.app.start())
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert ready.wait(30), "receiver did not start"
        return self

    def drain(self, timeout: float = 60) -> None:
        """Wait until every accepted message has been processed."""
        asyncio.run_coroutine_threadsafe(self.app.drain(), self.loop).result(timeout)

    def stop(self):
        async def close():
            self.server.close()
            await self.server.wait_closed()
            await self.app.drain()
            await self.app.close()
        asyncio.run_coroutine_threadsafe(close(), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def add_user(self, email: str, *extra: str) -> dict:
        user = self.cli.json("users", "add", email, *extra)
        self.users[email] = user
        return user


def make_env(tmp_path: Path, db_url: str, **extra) -> dict:
    env = {
        "SMTP_LOGGER_DATA_DIR": str(tmp_path / "data"),
        "SMTP_LOGGER_DATABASE_URL": db_url,
        "SMTP_LOGGER_LOG_FORMAT": "json",
        "SMTP_LOGGER_LOG_LEVEL": "warning",
        "SMTP_LOGGER_WORKER_PROCESSES": "0",  # threads: fast start-up; process mode has its own tests
    }
    env.update({f"SMTP_LOGGER_{k.upper()}": str(v) for k, v in extra.items()})
    return env


def start_receiver(tmp_path: Path, db_url: str, **settings) -> Receiver:
    """A receiver on a free port with these settings (SMTP_LOGGER_* names, lower case)."""
    port = free_port()
    env = make_env(tmp_path, db_url, port=port, **settings)
    return Receiver(load_settings(environ=env), Cli(env), port).start()


@pytest.fixture
def cli(tmp_path, db_url):
    return Cli(make_env(tmp_path, db_url))


@pytest.fixture
def receiver(tmp_path, db_url, cli):
    port = free_port()
    env = dict(cli.env, SMTP_LOGGER_PORT=str(port))
    cli.env = env
    settings = load_settings(environ=env)
    rx = Receiver(settings, cli, port).start()
    yield rx
    rx.stop()
