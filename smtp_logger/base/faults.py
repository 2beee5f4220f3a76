"""Crash points for the tests that prove what survives a SIGKILL: with SMTP_LOGGER_FAULT set to
a point's name, the process kills itself (SIGKILL, no clean-up) the first time it gets there,
leaving a marker in the data folder so the restarted process goes on. Unset: nothing happens.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path


def crash_point(name: str, data_path: Path) -> None:
    if os.environ.get("SMTP_LOGGER_FAULT") != name:
        return
    marker = Path(data_path) / f".fault-{name}"
    try:
        marker.open("x").close()
    except FileExistsError:
        return
    os.kill(os.getpid(), signal.SIGKILL)
