"""Durable intake: the promise "250 means on disk" is kept here and nowhere else.

A delivery is written to spool/tmp/<id>, flushed, fsynced, renamed into spool/new/<id> and the
directory fsynced; only then may the SMTP side answer 250. A file in new/ is removed only after
its processing committed to the database, so a crash at any point leaves it to be processed
again at start-up (processing is idempotent per spool id). Raw copies are kept content-addressed
in raw/<sha256>. No parsing and no database work here.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

META_END = b"\n"


@dataclass(frozen=True)
class SpoolEntry:
    spool_id: str
    mail_from: str
    rcpt_tos: list[str]
    peer: str
    received_at: float
    path: Path

    def read_raw(self) -> bytes:
        with open(self.path, "rb") as f:
            f.readline()
            return f.read()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def new_spool_id() -> str:
    """Sortable by arrival, unguessable: milliseconds then 64 random bits."""
    return f"{int(time.time() * 1000):013x}{secrets.token_hex(8)}"


class Spool:
    def __init__(self, data_dir: Path):
        self.root = Path(data_dir)
        self.tmp = self.root / "spool" / "tmp"
        self.new = self.root / "spool" / "new"
        self.raw = self.root / "raw"
        for folder in (self.tmp, self.new, self.raw):
            folder.mkdir(parents=True, exist_ok=True)

    def open_writer(self, mail_from: str, rcpt_tos: list[str], peer: str) -> "SpoolWriter":
        return SpoolWriter(self, new_spool_id(), mail_from, rcpt_tos, peer)

    def store(self, content: bytes, mail_from: str, rcpt_tos: list[str], peer: str) -> SpoolEntry:
        """Write a whole message durably; returns once it is fsynced and renamed into new/."""
        writer = self.open_writer(mail_from, rcpt_tos, peer)
        try:
            writer.write(content)
            return writer.commit()
        except BaseException:
            writer.abort()
            raise

    def pending(self) -> list[SpoolEntry]:
        """Every durably accepted delivery not yet processed, oldest first."""
        entries = []
        for path in sorted(self.new.iterdir()):
            entry = self.load(path)
            if entry is not None:
                entries.append(entry)
        return entries

    def load(self, path: Path) -> SpoolEntry | None:
        try:
            with open(path, "rb") as f:
                meta = json.loads(f.readline())
        except (OSError, ValueError):
            return None
        return SpoolEntry(path.name, meta["mail_from"], meta["rcpt_tos"], meta.get("peer", ""),
                          meta["received_at"], path)

    def done(self, entry: SpoolEntry) -> None:
        """Forget a processed delivery (its raw copy already lives in raw/)."""
        try:
            entry.path.unlink()
        except FileNotFoundError:
            pass

    def keep_raw(self, entry: SpoolEntry) -> tuple[str, int]:
        """Copy the message into the content-addressed raw store; returns (sha256, size)."""
        digest = hashlib.sha256()
        size = 0
        tmp_path = self.tmp / f"raw-{entry.spool_id}"
        with open(entry.path, "rb") as src, open(tmp_path, "wb") as dst:
            src.readline()
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
                dst.write(chunk)
            dst.flush()
            os.fsync(dst.fileno())
        sha = digest.hexdigest()
        final = self.raw_path(sha)
        if final.exists():
            tmp_path.unlink()
        else:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp_path, final)
            _fsync_dir(final.parent)
        return sha, size

    def raw_path(self, sha: str) -> Path:
        return self.raw / sha[:2] / sha

    def read_kept(self, sha: str) -> bytes:
        return self.raw_path(sha).read_bytes()


class SpoolWriter:
    """Streams one delivery to spool/tmp, then commits it into spool/new durably."""

    def __init__(self, spool: Spool, spool_id: str, mail_from: str, rcpt_tos: list[str], peer: str):
        self.spool = spool
        self.spool_id = spool_id
        self.path = spool.tmp / spool_id
        self.meta = {"mail_from": mail_from, "rcpt_tos": list(rcpt_tos), "peer": peer,
                     "received_at": time.time()}
        self._file = open(self.path, "wb")
        self._file.write(json.dumps(self.meta).encode() + META_END)
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self.size += len(chunk)

    def commit(self) -> SpoolEntry:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        final = self.spool.new / self.spool_id
        os.replace(self.path, final)
        _fsync_dir(self.spool.new)
        return SpoolEntry(self.spool_id, self.meta["mail_from"], self.meta["rcpt_tos"],
                          self.meta["peer"], self.meta["received_at"], final)

    def abort(self) -> None:
        try:
            self._file.close()
        finally:
            self.path.unlink(missing_ok=True)
