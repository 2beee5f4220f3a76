"""Spool files used again instead of created anew: a processed delivery's file that is nobody's
raw copy (one link) is moved to spool/free/ and emptied, and the next delivery's file is one of
those, renamed into spool/tmp/ (atomic: two SMTP processes never take the same one).

Why: creating a file allocates an inode, and ext4 without a journal (this project's machines)
passes over every inode of the folder's block group that was freed in the last one to five
minutes before it takes one: at a few hundred deliveries a second, 0.3-0.8 ms of system time per
file created, more than the rest of acknowledging a message. An emptied file holds no message
bytes (emptied before anything else may take it); at start-up free/ is emptied and trimmed.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

FREE_LIMIT = 4096  # files kept in free/ at start-up; more are removed
SCAN_BATCH = 256  # names taken from one look at free/
RESCAN_AFTER = 0.2  # seconds before free/ is looked at again after it was found empty


class FreeFiles:
    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._names: list[str] = []
        self._lock = threading.Lock()
        self._rescan_at = 0.0

    def release(self, path: Path, name: str) -> bool:
        """Keep the processed file at `path` for reuse, emptied; False when it is (or may be)
        another name's file too (a raw copy's hard link), or could not be kept: remove it then."""
        try:
            if os.stat(path).st_nlink != 1:
                return False
            kept = self.folder / name
            os.rename(path, kept)
        except OSError:
            return False
        try:
            os.truncate(kept, 0)
        except OSError:
            kept.unlink(missing_ok=True)
        return True

    def open_new(self, path: Path) -> int:
        """A file descriptor for a new, empty spool file at `path` (write only): a free file
        moved there when there is one, else a file created."""
        while (name := self._take_name()) is not None:
            try:
                os.rename(self.folder / name, path)
            except FileNotFoundError:  # another SMTP process took it
                continue
            return os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)

    def _take_name(self) -> str | None:
        try:
            return self._names.pop()
        except IndexError:
            pass
        with self._lock:  # the committer's threads share one list
            if self._names:
                return self._names.pop()
            now = time.monotonic()
            if now < self._rescan_at:
                return None
            with os.scandir(self.folder) as found:
                names = [entry.name for entry, _ in zip(found, range(SCAN_BATCH))]
            if not names:
                self._rescan_at = now + RESCAN_AFTER
                return None
            self._names = names
            return self._names.pop()

    def tidy(self) -> None:
        """At server start: anything not empty (a crash between moving and emptying) and
        whatever is over FREE_LIMIT is removed."""
        kept = 0
        with os.scandir(self.folder) as found:
            for entry in found:
                try:
                    if kept >= FREE_LIMIT or entry.stat().st_size:
                        os.unlink(entry.path)
                    else:
                        kept += 1
                except OSError:
                    pass
