"""One-command benchmark (`make bench`): a bare aiosmtpd sink vs our server on SQLite and, when
reachable, PostgreSQL, driven with the same loads in one run (see bench/scenario.py). Prints
the command line, a table (sink, ours, ratio ours/sink) and writes bench/results/<ts>.json.
Then, with PostgreSQL, two receivers on one database beside one (bench/receivers.py), with a
third of load (a)'s count per phase (--receivers-count; 3000 took 12 minutes on a busy machine).
Usage: .venv/bin/python bench/run.py [--quick] [--count N] [--no-postgres] [--no-receivers]
       [--receivers-count N]
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
import receivers  # noqa: E402
import scenario  # noqa: E402
import targets  # noqa: E402
from procmem import descendants, machine_cpu_s, tree_cpu_s, wait_quiet  # noqa: E402
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
    parser.add_argument("--no-receivers", action="store_true", help="skip bench/receivers.py's phases")
    parser.add_argument("--receivers-count", type=int, help="messages per receivers.py phase "
                        "(default a third of --count, at least 200)")
    parser.add_argument("--wait-quiet", type=float, help="seconds to wait for a quiet CPU before "
                        "each target (default 120, --quick 15); CPU per message needs none")
    parser.add_argument("--big-mib", type=float, default=loads.BIG_MIB,
                        help="attachment size of load (b) in MiB (49 MiB is over the 50 MB cap)")
    args = parser.parse_args()
    command = shlex.join([sys.executable, *sys.argv])
    print(f"command: {command}", flush=True)
    cfg = {"count": args.count or (500 if args.quick else 3000),
           "c_count": 150 if args.quick else 500, "c_cap": 5000,
           "big_attachment_bytes": int(args.big_mib * 1024 * 1024)}
    cfg["receivers_count"] = args.receivers_count or max(200, cfg["count"] // 3)
    # Our own handlers (asyncio.run's SIGINT handling can lose the cancellation in wait_for):
    # Ctrl-C and SIGTERM raise KeyboardInterrupt wherever we are; ExitStacks then clean up.
    wait = args.wait_quiet if args.wait_quiet is not None else (15 if args.quick else 120)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
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
        payload = loads.big_payload(args.big_mib)
        with ExitStack() as outer:
            work = Path(tempfile.mkdtemp(prefix="smtp_logger_bench_work_"))
            outer.callback(shutil.rmtree, work, True)
            log_dir = RESULTS / f"{stamp}-logs"
            log_dir.mkdir()
            for name in names:
                print(f"running {name} ...", flush=True)
                started = time.monotonic()
                busy = wait_quiet(timeout=wait)  # for other people's loads to end
                others = _others()
                out.setdefault("environment", {})[name] = {
                    "cpu_busy_before": round(busy, 2), "loadavg_1m": os.getloadavg()[0],
                    "other_processes": others}
                if others or busy > 0.25:
                    print(f"  WARNING: CPU {busy:.0%} busy before start, {len(others)} other "
                          "smtp-logger/load processes: figures will be disturbed", flush=True)
                key = name if name == "sink" else f"ours-{name}"
                cpu0, mine0, wall0 = machine_cpu_s(), tree_cpu_s(os.getpid()), time.monotonic()
                try:
                    with ExitStack() as stack:
                        t = (targets.start_sink(stack) if name == "sink"
                             else targets.start_ours(stack, name, log_dir))
                        out["targets"][t.name] = asyncio.run(scenario.run(t, cfg, payload, work))
                except Exception:  # reported in the JSON and on stderr; the other targets still run
                    out["targets"][key] = {"failed": traceback.format_exc()}
                    print(traceback.format_exc(), file=sys.stderr)
                others_cpu = machine_cpu_s() - cpu0 - (tree_cpu_s(os.getpid()) - mine0)
                out["targets"][key].update(
                    cpu_busy_before=f"{busy:.0%}",
                    others_cpu=f"{max(others_cpu, 0) / (time.monotonic() - wall0) / os.cpu_count():.0%}")
                print(f"  {name} done in {time.monotonic() - started:.0f} s", flush=True)
            if "postgres" in names and not args.no_receivers:
                out["receivers"] = _receivers(cfg["receivers_count"], log_dir, wait)
    except KeyboardInterrupt:
        print("interrupted: cleaned up", file=sys.stderr)
        return 130
    finally:
        stop_postfix()
    text = table(out)
    if "phases" in out.get("receivers", {}):
        text += "\n\n" + receivers.table(out["receivers"]["phases"])
    out["table"] = text
    path = RESULTS / f"{stamp}.json"
    path.write_text(json.dumps(out, indent=2, default=str))
    print(f"\ncommand: {command}\n\n{text}\n\nJSON: {path}")
    return 0


def _receivers(count: int, log_dir: Path, wait: float) -> dict:
    """bench/receivers.py's phases (one receiver, two, one with smtp_processes = 2)."""
    print("running receivers (two on one PostgreSQL, beside one) ...", flush=True)
    started = time.monotonic()
    out: dict = {"cpu_busy_before": round(wait_quiet(timeout=wait), 2), "count": count}
    try:
        out["phases"] = receivers.run(count, 20, log_dir)
    except Exception:  # reported in the JSON and on stderr; the table above still prints
        out["failed"] = traceback.format_exc()
        print(out["failed"], file=sys.stderr)
    print(f"  receivers done in {time.monotonic() - started:.0f} s", flush=True)
    return out


def _interrupt(*_):
    raise KeyboardInterrupt


def _others() -> list[str]:
    """Other smtp-logger / load processes on the machine (they share our 2 cores)."""
    mine = set(descendants(os.getpid()))
    found = []
    for p in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        suspect = "smtp-logger" in cmd or "smtp-source" in cmd or ("python" in cmd and "load" in cmd)
        if suspect and int(p.name) not in mine:
            found.append(f"{p.name} {cmd[:100]}")
    return found


def _git_head() -> str:
    r = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                       cwd=targets.ROOT)
    return r.stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
