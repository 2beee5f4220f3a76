"""In-process CPU cost of deciding: spools N messages for one user on a fresh SQLite database,
then runs the workers' pipeline over them in batches of 16 (as the workers claim them) in this
process and prints CPU ms per message (time.process_time: other processes' load counts little).

Loads: `logged` (BCC'd to two customers: LOGGED, contacts created), `internal` (BCC'd to a
colleague: NO_EXTERNAL_RECIPIENTS), `attached` (logged, with a 20 KB attachment).
Usage: .venv/bin/python bench/pipeline_cpu.py [--count N] [--batch N] 2>/dev/null
To compare with other code: PIPELINE_CPU_CODE=/path/to/a/checkout (its smtp_logger is used).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

sys.path.insert(0, os.environ.get("PIPELINE_CPU_CODE", str(Path(__file__).resolve().parents[1])))

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


def run(load: str, count: int, batch: int) -> float:
    with tempfile.TemporaryDirectory(prefix="pipeline-cpu-") as tmp:
        env = {"SMTP_LOGGER_DATA_DIR": tmp, "SMTP_LOGGER_WORKER_PROCESSES": "0"}
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
        cpu = time.process_time()
        while entries := spool.claim("w0", batch):
            failed = pipeline.process_batch(entries)
            assert not failed, failed
        return (time.process_time() - cpu) * 1000 / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--loads", default="logged,internal,attached")
    parser.add_argument("--batch", type=int, default=BATCH, help="deliveries per batch (1: one by one)")
    args = parser.parse_args()
    configure("json", "info")  # as a worker logs; send stderr elsewhere
    for load in args.loads.split(","):
        print(f"{load:9} {run(load, args.count, args.batch):6.2f} CPU ms/message ({args.count} messages)")


if __name__ == "__main__":
    main()
