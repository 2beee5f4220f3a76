"""Memory of a process tree from /proc: VmRSS / VmHWM in bytes, and a sampler thread that
records the peak summed RSS of a process and its descendants every 20 ms while a load runs.
Linux only; a process that vanished counts as 0.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def descendants(pid: int) -> list[int]:
    """pid and all its descendants (via /proc/<pid>/task/*/children)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo.extend(int(c) for c in (task / "children").read_text().split())
            except (OSError, ValueError):
                pass
    return found


def tree_rss(pid: int) -> int:
    return sum(_status_kib(p, "VmRSS") for p in descendants(pid))


def tree_hwm(pid: int) -> int:
    """Sum of the high-water marks of the tree's processes (an upper bound of the tree's peak)."""
    return sum(_status_kib(p, "VmHWM") for p in descendants(pid))


class PeakSampler:
    """`with PeakSampler(pid) as s: ...` then s.peak (bytes, summed RSS of the tree)."""

    def __init__(self, pid: int, interval: float = 0.02):
        self.pid, self.interval = pid, interval
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> "PeakSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, tree_rss(self.pid))


def cpu_busy(interval: float = 1.0) -> float:
    """Machine-wide CPU use (0..1) over `interval` seconds, from /proc/stat."""
    def snap():
        vals = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(vals), vals[3] + vals[4]  # total, idle + iowait
    t1, i1 = snap()
    time.sleep(interval)
    t2, i2 = snap()
    return 1 - (i2 - i1) / max(t2 - t1, 1)


def wait_quiet(limit: float = 0.25, timeout: float = 120) -> float:
    """Wait until the machine is at most `limit` busy (other people's loads); returns the last
    reading, even when it stayed busy for `timeout` seconds."""
    deadline = time.monotonic() + timeout
    busy = cpu_busy()
    while busy > limit and time.monotonic() < deadline:
        busy = cpu_busy(2.0)
    return busy


def wait_tree_idle(pid: int, limit: float = 0.05, timeout: float = 90) -> float:
    """Wait until the process tree of `pid` uses at most `limit` of a core over a second (its
    workers are up and done importing, say); returns the last reading, even after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        c0 = tree_cpu_s(pid)
        time.sleep(1.0)
        used = tree_cpu_s(pid) - c0
        if used <= limit or time.monotonic() > deadline:
            return used


def machine_cpu_s() -> float:
    """Busy CPU seconds of the whole machine since boot (all cores)."""
    vals = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    return (sum(vals) - vals[3] - vals[4]) / os.sysconf("SC_CLK_TCK")


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of pid and its live descendants, including their reaped children."""
    total = 0
    for p in descendants(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
        except (OSError, ValueError, IndexError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid: int, children: bool = False) -> float:
    """CPU seconds (user + system) of one process; with `children`, of its reaped children too."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return sum(int(v) for v in fields[11:15 if children else 13]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


WORKER_COMM = "sl-worker"  # what run/workers.py names its processes (/proc/<pid>/comm)


def side_cpu_s(pid: int) -> dict[str, float]:
    """CPU seconds of the tree of `pid` split into the SMTP side (every process that is not a
    worker: the server and its SMTP processes) and the workers' side."""
    out = {"smtp": 0.0, "workers": 0.0}
    for p in descendants(pid):
        side = "workers" if comm(p).startswith(WORKER_COMM) else "smtp"
        out[side] += proc_cpu_s(p, children=True)
    return out


def pss_bytes(pid: int) -> int:
    """Proportional set size of one process (pages shared with others counted by share)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def tree_pss(pid: int) -> int:
    return sum(pss_bytes(p) for p in descendants(pid))


class CpuMeter:
    """CPU seconds of a set of processes that may come and go (e.g. a database's backends):
    `sample()` as often as convenient, each pid's last reading counts; `total()` is the CPU
    they used since the meter was made (a pid first seen later counts from 0)."""

    def __init__(self, pids):
        self.start = {p: proc_cpu_s(p) for p in pids}
        self.last = dict(self.start)

    def sample(self, pids) -> None:
        for p in pids:
            cpu = proc_cpu_s(p)
            if cpu or p not in self.last:
                self.last[p] = max(cpu, self.last.get(p, 0.0))

    def total(self) -> float:
        return sum(v - self.start.get(p, 0.0) for p, v in self.last.items())
