"""Helpers for tests that run the real `smtp-logger serve` as a process (signals, restarts)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent / "smtp-logger"


def serve(env: dict, log: Path) -> subprocess.Popen:
    """`smtp-logger serve` with these settings (its stderr appended to `log`), once its port answers."""
    with open(log, "ab") as stderr:
        proc = subprocess.Popen([str(BIN), "serve"], env={**os.environ, **env}, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=stderr)
    port = int(env["SMTP_LOGGER_PORT"])
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            break
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not start: " + log.read_text(errors="replace")[-3000:])


def wait_for(predicate, timeout: float = 60.0, what: str = "condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if result := predicate():
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def stop(proc: subprocess.Popen, timeout: float = 60) -> int:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return proc.returncode
