"""One-command benchmark (`make bench`): a bare aiosmtpd sink vs our server on SQLite and, when
reachable, PostgreSQL, driven with the same loads in one run (see bench/scenario.py). Prints
the command line, a table (sink, ours, ratio ours/sink) and writes bench/results/<ts>.json.
Usage: .venv/bin/python bench/run.py [--quick] [--count N] [--no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loads  # noqa: E402
import scenario  # noqa: E402
import targets  # noqa: E402
from report import table  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def ensure_smtp_source() -> str | None:
    """smtp-source from Debian's postfix package, installed when missing; postfix stays stopped."""
    path = shutil.which("smtp-source") or ("/usr/sbin/smtp-source" if os.path.exists("/usr/sbin/smtp-source") else None)
    if path is None:
        print("smtp-source missing: installing Debian package postfix ...", flush=True)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        try:
            subprocess.run(["apt-get", "update", "-qq"], env=env, check=True, timeout=600,
                           capture_output=True)
            subprocess.run(["apt-get", "install", "-y", "-qq", "postfix"], env=env, check=True,
                           timeout=900, capture_output=True)
        except (OSError, subprocess.SubprocessError) as exc:
            print(f"could not install postfix ({exc}); smtp-source rows will be missing", flush=True)
        path = shutil.which("smtp-source") or ("/usr/sbin/smtp-source" if os.path.exists("/usr/sbin/smtp-source") else None)
    stop_postfix()
    return path


def stop_postfix() -> None:
    postfix = shutil.which("postfix") or "/usr/sbin/postfix"
    if os.path.exists(postfix):
        if subprocess.run([postfix, "status"], capture_output=True, timeout=30).returncode == 0:
            subprocess.run([postfix, "stop"], capture_output=True, timeout=60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="500 small messages instead of 3000")
    parser.add_argument("--count", type=int, help="small messages per load (a)")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    command = shlex.join([sys.executable, *sys.argv])
    print(f"command: {command}", flush=True)
    cfg = {"count": args.count or (500 if args.quick else 3000),
           "c_count": 150 if args.quick else 500, "c_cap": 5000}
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    RESULTS.mkdir(exist_ok=True)
    out: dict = {"command": command, "started": stamp, "config": cfg, "nproc": os.cpu_count(),
                 "python": platform.python_version(), "git_head": _git_head(), "targets": {}}
    try:
        source = ensure_smtp_source()
        if source is None:
            print("smtp-source unavailable: cannot run", file=sys.stderr)
            return 2
        loads.SMTP_SOURCE = source
        names = ["sink", "sqlite"] + ([] if args.no_postgres else ["postgres"])
        if "postgres" in names and not targets.pg_available():
            print("PostgreSQL not reachable at 127.0.0.1:5432: skipped", flush=True)
            names.remove("postgres")
        payload = loads.big_payload()
        with ExitStack() as outer:
            work = Path(tempfile.mkdtemp(prefix="smtp_logger_bench_work_"))
            outer.callback(shutil.rmtree, work, True)
            log_dir = RESULTS / f"{stamp}-logs"
            log_dir.mkdir()
            for name in names:
                print(f"running {name} ...", flush=True)
                started = time.monotonic()
                try:
                    with ExitStack() as stack:
                        t = (targets.start_sink(stack) if name == "sink"
                             else targets.start_ours(stack, name, log_dir))
                        out["targets"][t.name] = asyncio.run(scenario.run(t, cfg, payload, work))
                except Exception:  # reported in the JSON and on stderr; the other targets still run
                    key = name if name == "sink" else f"ours-{name}"
                    out["targets"][key] = {"failed": traceback.format_exc()}
                    print(traceback.format_exc(), file=sys.stderr)
                print(f"  {name} done in {time.monotonic() - started:.0f} s", flush=True)
    except KeyboardInterrupt:
        print("interrupted: cleaned up", file=sys.stderr)
        return 130
    finally:
        stop_postfix()
    text = table(out)
    out["table"] = text
    path = RESULTS / f"{stamp}.json"
    path.write_text(json.dumps(out, indent=2, default=str))
    print(f"\ncommand: {command}\n\n{text}\n\nJSON: {path}")
    return 0


def _git_head() -> str:
    r = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                       cwd=targets.ROOT)
    return r.stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
