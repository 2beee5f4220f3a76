"""Idle footprint of `smtp-logger serve` with default settings on a fresh data folder: seconds
from the start of the command to the first 220 greeting (and the server process's CPU seconds
until then, which others' load does not inflate), then, at rest, each process's PSS
(/proc/<pid>/smaps_rollup: pages shared between the processes counted once in the sum, as a
container's memory counts them) and RSS, and the sum over the process tree; the sink beside.
The package is byte-compiled first, as the container image's `pip install .` leaves it.
Usage: .venv/bin/python bench/footprint.py [--json] [--rest SECONDS]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from procmem import comm, descendants, proc_cpu_s, pss_bytes, tree_pss  # noqa: E402
from targets import BIN, DATA_ROOT, ROOT, free_port, stop_group  # noqa: E402

MiB = 1024 * 1024


def _first_220(port: int, proc: subprocess.Popen, started: float, timeout: float = 60) -> float:
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                if s.recv(100).startswith(b"220"):
                    return time.monotonic() - started
        except OSError:
            time.sleep(0.005)
    raise RuntimeError("no 220 in time")


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def measure(cmd: list[str], env: dict, port: int, rest: float) -> dict:
    with ExitStack() as stack:
        started = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        stack.callback(stop_group, proc)
        to_220 = _first_220(port, proc, started)
        cpu_220 = proc_cpu_s(proc.pid)  # the server's own CPU until then: robust to others' load
        time.sleep(rest)
        pids = descendants(proc.pid)
        return {"to_first_220_s": round(to_220, 3), "server_cpu_to_first_220_s": round(cpu_220, 3), "processes": [
                    {"pid": p, "comm": comm(p), "pss_mb": round(pss_bytes(p) / MiB, 1),
                     "rss_mb": round(_rss(p) / MiB, 1)} for p in pids],
                "pss_mb": round(tree_pss(proc.pid) / MiB, 1),
                "rss_mb": round(sum(_rss(p) for p in pids) / MiB, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--rest", type=float, default=5.0, help="seconds at rest before measuring")
    args = parser.parse_args()
    # as `pip install .` leaves the container image (and `make run` this checkout): the start-up
    # measured is not that of compiling the package, which an editable install does at every
    # start where PYTHONDONTWRITEBYTECODE is set (as on this project's machines)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "smtp_logger")], check=True,
                   capture_output=True)
    DATA_ROOT.mkdir(parents=True, exist_ok=True)
    data = Path(tempfile.mkdtemp(prefix="footprint_", dir=DATA_ROOT))
    try:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SMTP_LOGGER_")}
        env.update(SMTP_LOGGER_DATA_DIR=str(data), SMTP_LOGGER_LOG_LEVEL="warning")
        subprocess.run([str(BIN / "smtp-logger"), "db", "upgrade"], env=env, cwd=ROOT, check=True,
                       capture_output=True)
        ours = measure([str(BIN / "smtp-logger"), "serve", "--port", str(port)], env, port, args.rest)
        sport = free_port()
        sink = measure([sys.executable, str(ROOT / "bench" / "sink.py"), "--port", str(sport)], env, sport, 1.0)
    finally:
        shutil.rmtree(data, ignore_errors=True)
    out = {"ours": ours, "sink": sink}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    for name, r in out.items():
        print(f"{name}: first 220 after {r['to_first_220_s']:.2f} s ({r['server_cpu_to_first_220_s']:.2f} s of the "
              f"server's CPU); at rest PSS {r['pss_mb']:.1f} MB "
              f"(RSS {r['rss_mb']:.1f} MB) in {len(r['processes'])} processes")
        for p in r["processes"]:
            print(f"  {p['pid']:>7} {p['comm']:<16} PSS {p['pss_mb']:6.1f} MB  RSS {p['rss_mb']:6.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
