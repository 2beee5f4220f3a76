"""The blob store's cost (issue 19): one message with a 49 MiB attachment (base64 on the wire)
to `smtp-logger serve` on each back-end (`local`, `database`) and database (SQLite, and
PostgreSQL when it answers): seconds from the start of sending to its decision, and the peak
RSS growth of the process tree (20 ms samples, procmem.py) and of the busiest process (VmHWM
after minus VmRSS before: an upper bound). The attachment cap is raised to 60,000,000 bytes so
that the 49 MiB file (51,380,224 bytes) is stored.

    .venv/bin/python bench/blob_store.py [--mib 49] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import smtplib
import sys
import tempfile
import time
from contextlib import ExitStack
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from procmem import PeakSampler, _status_kib, descendants, tree_rss  # noqa: E402
from targets import pg_available, start_ours  # noqa: E402


def _mail(data: bytes, subject: str) -> bytes:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "bench@ours.example", "buyer@acme.example", subject
    m["Message-ID"] = f"<{subject}@bench.example>"
    m.set_content("see the file")
    if data:
        m.add_attachment(data, maintype="application", subtype="octet-stream", filename="big.bin")
    return m.as_bytes()


def _send(port: int, rcpt: str, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=300) as client:
        client.sendmail("bench@ours.example", [rcpt], raw)


def _decided(target, subject: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not target.decisions.count(subject + "@%"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"no decision for {subject}: " + "\n".join(target.log_tail()))
        time.sleep(0.02)


def measure(database: str, blob_store: str, mib: int) -> dict:
    os.environ.update(SMTP_LOGGER_BLOB_STORE=blob_store, SMTP_LOGGER_MAX_ATTACHMENT_SIZE="60000000",
                      SMTP_LOGGER_WORKER_PROCESSES="1")
    data = os.urandom(mib << 20)
    big = _mail(data, f"big-{blob_store}")
    with ExitStack() as stack:
        target = start_ours(stack, database, Path(tempfile.mkdtemp(prefix="blob_bench_logs_")))
        _send(target.port, target.rcpt, _mail(b"", f"warm-{blob_store}"))
        _decided(target, f"warm-{blob_store}")
        before = {pid: _status_kib(pid, "VmRSS") for pid in descendants(target.pid)}
        tree_before = tree_rss(target.pid)
        started = time.monotonic()
        with PeakSampler(target.pid) as sampler:
            _send(target.port, target.rcpt, big)
            acknowledged = time.monotonic() - started
            _decided(target, f"big-{blob_store}")
        decided = time.monotonic() - started
        growth = max(_status_kib(pid, "VmHWM") - rss for pid, rss in before.items())
        [stored] = target.decisions.attachments(f"big-{blob_store}@bench.example")
    assert stored["stored"] and stored["size"] == len(data), stored
    return {"database": database, "blob_store": blob_store, "attachment_bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(), "seconds_to_250": round(acknowledged, 2),
            "seconds_to_decision": round(decided, 2), "tree_peak_growth_mb": round((sampler.peak - tree_before) / 1e6, 1),
            "process_hwm_growth_mb": round(growth / 1e6, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=49)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    databases = ["sqlite"] + (["postgres"] if pg_available() else [])
    results = [measure(db, store, args.mib) for db in databases for store in ("local", "database")]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'database':10} {'blob_store':10} {'to 250 s':>9} {'to decision s':>14} {'tree peak MB':>13} {'process HWM MB':>15}")
    for r in results:
        print(f"{r['database']:10} {r['blob_store']:10} {r['seconds_to_250']:>9} {r['seconds_to_decision']:>14} "
              f"{r['tree_peak_growth_mb']:>13} {r['process_hwm_growth_mb']:>15}")


if __name__ == "__main__":
    main()
