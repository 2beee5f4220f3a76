"""In-process CPU cost of deciding: spools N messages for one user on a fresh database (SQLite,
or a throwaway PostgreSQL database with --db-url), then runs the workers' pipeline over them in
batches of 16 (as the workers claim them) in this process and prints CPU ms per message
(time.process_time: other processes' load counts little), and with --statements the SQL
statements run per message (by kind, from SQLAlchemy's before_cursor_execute).

Loads: `logged` (BCC'd to two customers: LOGGED, contacts created), `internal` (BCC'd to a
colleague: NO_EXTERNAL_RECIPIENTS), `attached` (logged, with a 20 KB attachment).
Usage: .venv/bin/python bench/pipeline_cpu.py [--count N] [--batch N]
       [--db-url postgresql+psycopg://root@127.0.0.1:5432/test] [--statements] 2>/dev/null
(--db-url names a server database to connect to; a throwaway database is created beside it and
dropped afterwards.)
To compare with other code: PIPELINE_CPU_CODE=/path/to/a/checkout (its smtp_logger is used).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

sys.path.insert(0, os.environ.get("PIPELINE_CPU_CODE", str(Path(__file__).resolve().parents[1])))

from sqlalchemy import create_engine, event, text  # noqa: E402
from sqlalchemy.engine import Engine, make_url  # noqa: E402

from smtp_logger.base.config import load_settings  # noqa: E402
from smtp_logger.base.logsetup import configure  # noqa: E402
from smtp_logger.intake.spool import Spool  # noqa: E402
from smtp_logger.run.pipeline import Pipeline  # noqa: E402
from smtp_logger.store import accounts  # noqa: E402
from smtp_logger.store.db import session_factory, upgrade  # noqa: E402

BATCH = 16  # as run/workers.py claims
USER = "alice@ours.example"


def _message(load: str, i: int) -> bytes:
    m = EmailMessage()
    m["From"] = USER
    m["To"] = "bob@ours.example" if load == "internal" else f"buyer{i}@acme{i % 50}.example, cfo@globex.example"
    m["Subject"] = f"Offer {i}"
    m["Message-ID"] = make_msgid(domain="bench.example")
    m["Date"] = "Mon, 23 Nov 2026 10:15:00 +0000"
    m.set_content("Hello,\n\nhere is our offer.\n\n" + "Lorem ipsum dolor sit amet. " * 300)
    if load == "attached":
        m.add_attachment(bytes(range(256)) * 80 + str(i).encode(), maintype="application",
                         subtype="octet-stream", filename=f"offer-{i}.bin")
    return m.as_bytes()


@contextlib.contextmanager
def database(server_url: str | None):
    """None (SQLite in the data folder), or the URL of a throwaway database on that server."""
    if not server_url:
        yield None
        return
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"pipeline_cpu_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class Statements:
    """Counts SQL statements run through any engine, by their first words."""

    def __init__(self):
        self.kinds: Counter[str] = Counter()
        self.on = False
        event.listen(Engine, "before_cursor_execute", self._seen)
        event.listen(Engine, "commit", self._committed)

    def _committed(self, conn) -> None:
        if self.on:
            self.kinds["(COMMIT)"] += 1

    def _seen(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if self.on:
            words = statement.split()
            table = next((w for i, w in enumerate(words[1:], 1)
                          if words[i - 1].upper() in ("FROM", "INTO", "UPDATE")), "")
            self.kinds[f"{words[0].upper()} {table.strip(chr(34))}"] += 1


def run(load: str, count: int, batch: int, db_url: str | None, statements: Statements | None) -> float:
    with tempfile.TemporaryDirectory(prefix="pipeline-cpu-") as tmp, database(db_url) as url:
        env = {"SMTP_LOGGER_DATA_DIR": tmp, "SMTP_LOGGER_WORKER_PROCESSES": "0"}
        if url:
            env["SMTP_LOGGER_DATABASE_URL"] = url
        settings = load_settings(environ=env)
        upgrade(settings.db_url)
        sessions = session_factory(settings.db_url)
        with sessions() as session:
            account = accounts.default_account(session)
            user = accounts.add_user(session, account.id, USER, "Alice", [], settings)
            accounts.add_user(session, account.id, "bob@ours.example", "Bob", [], settings)
            bcc = accounts.current_addresses(session, user)["bcc"]
            session.commit()
        spool = Spool(settings.data_path)
        for i in range(count):
            writer = spool.open_writer(USER, [bcc], "127.0.0.1:1")
            writer.write(_message(load, i))
            writer.commit()
        pipeline = Pipeline(settings, sessions, spool)
        if statements:
            statements.kinds.clear()
            statements.on = True
        cpu = time.process_time()
        while entries := spool.claim("w0", batch):
            failed = pipeline.process_batch(entries)
            assert not failed, failed
        spent = (time.process_time() - cpu) * 1000 / count
        if statements:
            statements.on = False
        sessions.kw["bind"].dispose()
        return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--loads", default="logged,internal,attached")
    parser.add_argument("--batch", type=int, default=BATCH, help="deliveries per batch (1: one by one)")
    parser.add_argument("--db-url", help="a PostgreSQL server (a throwaway database is made on it)")
    parser.add_argument("--statements", action="store_true", help="count SQL statements per message")
    args = parser.parse_args()
    configure("json", "info")  # as a worker logs; send stderr elsewhere
    statements = Statements() if args.statements else None
    for load in args.loads.split(","):
        spent = run(load, args.count, args.batch, args.db_url, statements)
        print(f"{load:9} {spent:6.2f} CPU ms/message ({args.count} messages)")
        if statements:
            total = sum(n for kind, n in statements.kinds.items() if kind != "(COMMIT)")
            print(f"          {total / args.count:6.2f} statements/message")
            for kind, n in statements.kinds.most_common():
                print(f"            {n / args.count:6.2f}  {kind}")


if __name__ == "__main__":
    main()
