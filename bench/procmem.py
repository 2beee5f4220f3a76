"""Memory of a process tree from /proc: VmRSS / VmHWM in bytes, and a sampler thread that
records the peak summed RSS of a process and its descendants every 20 ms while a load runs.
Linux only; a process that vanished counts as 0.
"""

from __future__ import annotations

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
