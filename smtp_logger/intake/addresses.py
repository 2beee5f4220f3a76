"""The intake's own copy of the live logging addresses, so that RCPT TO needs no database: an
address in the copy is accepted without asking; one that is not is asked about (and answered
451 4.3.0 only while the database cannot be asked). The copy is replaced by run/addresses.py
from the database every few seconds, saved in data_dir (mode 0600: the tokens are secrets) so
a restart during an outage still has it. A command that changes logging addresses touches a
marker file beside it; until the next refresh has seen that change, every RCPT asks the database.
A record address (`<token>+deal-<id>@domain`) is its logging address with a deal id: RCPT asks
about the logging address (`split_record_address`), the envelope keeps the whole address.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path

COPY_FILE = "live_addresses.json"
MARKER_FILE = "live_addresses.changed"
_RECORD = re.compile(r"^(?P<token>[^@+]+)\+deal-(?P<ref>[0-9]{1,18})@(?P<domain>[^@]+)$")


def split_record_address(address: str) -> tuple[str, str | None]:
    """("token@domain", "12") for "token+deal-12@domain"; (address, None) for any other address."""
    match = _RECORD.match(address)
    if match is None:
        return address, None
    return f"{match['token']}@{match['domain']}", str(int(match["ref"]))


def _stamp(path: Path) -> list | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return [found.st_ino, found.st_mtime_ns, found.st_size]


def mark_changed(data_path: Path) -> None:
    """Called after a commit that issued or retired logging addresses (same host: at once;
    other hosts' receivers see the change at their next refresh)."""
    data_path = Path(data_path)
    data_path.mkdir(parents=True, exist_ok=True)
    marker = data_path / MARKER_FILE
    tmp = marker.with_name(f".{MARKER_FILE}.{os.getpid()}")
    tmp.write_text(datetime.now(timezone.utc).isoformat())
    os.replace(tmp, marker)  # a new inode each time: the stamp always differs


class LiveAddresses:
    def __init__(self, data_path: Path):
        self.file = Path(data_path) / COPY_FILE
        self.marker = Path(data_path) / MARKER_FILE
        self.valid_until: dict[str, float | None] = {}  # address -> end of its grace period (epoch)
        self.seen_marker: list | None = None  # the marker stamp the copy includes
        self.loaded = False

    def marker_stamp(self) -> list | None:
        return _stamp(self.marker)

    def is_current(self) -> bool:
        return self.loaded and _stamp(self.marker) == self.seen_marker

    def has(self, address: str, now: float) -> bool:
        """Live in the copy (current or not). Read once: a refresh swaps the whole dict."""
        until = self.valid_until.get(address, False)
        return until is None or (until is not False and until >= now)

    def replace(self, valid_until: dict[str, float | None], marker_stamp: list | None) -> bool:
        """A fresh copy, read from the database after `marker_stamp` was taken; saved when it
        differs from the one before. Returns whether it changed."""
        changed = valid_until != self.valid_until or marker_stamp != self.seen_marker
        self.valid_until, self.seen_marker, self.loaded = valid_until, marker_stamp, True
        if changed:
            self._save()
        return changed

    def _save(self) -> None:
        tmp = self.file.with_name(f".{COPY_FILE}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"marker": self.seen_marker, "addresses": self.valid_until}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.file)

    def load_saved(self) -> int:
        """The copy saved by the last refresh (before any refresh of this run). Returns how many."""
        try:
            saved = json.loads(self.file.read_text("utf-8"))
            self.valid_until = {str(k): (None if v is None else float(v)) for k, v in saved["addresses"].items()}
            self.seen_marker, self.loaded = saved.get("marker"), True
        except (OSError, ValueError, KeyError, AttributeError, TypeError):
            return 0
        return len(self.valid_until)
