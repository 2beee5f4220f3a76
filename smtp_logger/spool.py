"""Durable intake: the promise "250 means on disk" is kept here and nowhere else.

A delivery is streamed to spool/tmp/<id>.eml (hashed as it is written), fsynced; its envelope
goes to spool/tmp/<id>.json, fsynced; both are renamed into spool/new/ (message first, envelope
last) and the directory fsynced. Only then may the SMTP side answer 250. A delivery leaves
new/ only after its processing committed, so a crash at any point leaves it to be processed
again at start-up (processing is idempotent per spool id). An .eml without its .json was never
acknowledged and is discarded. Raw copies are kept content-addressed in raw/<sha256> (a hard
link, not a copy). No parsing and no database here.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SpoolEntry:
    spool_id: str
    mail_from: str
    rcpt_tos: list[str]
    peer: str
    received_at: float
    sha256: str
    size: int
    path: Path  # the message bytes

    @property
    def meta_path(self) -> Path:
        return self.path.with_suffix(".json")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durably(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def new_spool_id() -> str:
    """Sortable by arrival, unguessable: milliseconds then 64 random bits."""
    return f"{int(time.time() * 1000):013x}{secrets.token_hex(8)}"


class Spool:
    def __init__(self, data_dir: Path):
        self.root = Path(data_dir)
        self.tmp = self.root / "spool" / "tmp"
        self.new = self.root / "spool" / "new"
        self.raw = self.root / "raw"
        self.work = self.root / "spool" / "work"  # decoded attachments awaiting a decision
        for folder in (self.tmp, self.new, self.raw, self.work):
            folder.mkdir(parents=True, exist_ok=True)

    def open_writer(self, mail_from: str, rcpt_tos: list[str], peer: str) -> "SpoolWriter":
        return SpoolWriter(self, new_spool_id(), mail_from, rcpt_tos, peer)

    def pending(self) -> list[SpoolEntry]:
        """Every acknowledged delivery not yet processed, oldest first; drops unacknowledged ones."""
        entries = []
        for meta in sorted(self.new.glob("*.json")):
            entry = self.load(meta)
            if entry is not None:
                entries.append(entry)
        for orphan in self.new.glob("*.eml"):
            if not orphan.with_suffix(".json").exists():
                orphan.unlink(missing_ok=True)  # crashed before 250: the sender retries
        for leftover in [*self.tmp.iterdir(), *self.work.iterdir()]:
            leftover.unlink(missing_ok=True)  # half-written deliveries, half-decoded parts
        return entries

    def load(self, meta_path: Path) -> SpoolEntry | None:
        try:
            meta = json.loads(meta_path.read_text("utf-8"))
        except (OSError, ValueError):
            return None
        return SpoolEntry(meta_path.stem, meta["mail_from"], meta["rcpt_tos"], meta.get("peer", ""),
                          meta["received_at"], meta["sha256"], meta["size"], meta_path.with_suffix(".eml"))

    def done(self, entry: SpoolEntry) -> None:
        """Forget a processed delivery (its raw copy already lives in raw/)."""
        entry.meta_path.unlink(missing_ok=True)
        entry.path.unlink(missing_ok=True)

    def keep_raw(self, entry: SpoolEntry) -> tuple[str, int]:
        """Keep the message in the content-addressed raw store; returns (sha256, size)."""
        final = self.raw_path(entry.sha256)
        if not final.exists():
            final.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(entry.path, final)
            except FileExistsError:
                pass
            _fsync_dir(final.parent)
        return entry.sha256, entry.size

    def raw_path(self, sha: str) -> Path:
        return self.raw / sha[:2] / sha


class SpoolWriter:
    """Streams one delivery to spool/tmp, then commits it into spool/new durably."""

    def __init__(self, spool: Spool, spool_id: str, mail_from: str, rcpt_tos: list[str], peer: str):
        self.spool = spool
        self.spool_id = spool_id
        self.path = spool.tmp / f"{spool_id}.eml"
        self.meta = {"mail_from": mail_from, "rcpt_tos": list(rcpt_tos), "peer": peer,
                     "received_at": time.time()}
        self._file = open(self.path, "wb")
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self._hash.update(chunk)
        self.size += len(chunk)

    def commit(self) -> SpoolEntry:
        """fsync the message and its envelope, rename both into new/, fsync the folder."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self.meta.update(sha256=self._hash.hexdigest(), size=self.size)
        meta_tmp = self.path.with_suffix(".json")
        _write_durably(meta_tmp, json.dumps(self.meta).encode())
        final = self.spool.new / self.path.name
        os.replace(self.path, final)
        os.replace(meta_tmp, final.with_suffix(".json"))
        _fsync_dir(self.spool.new)
        return SpoolEntry(self.spool_id, self.meta["mail_from"], self.meta["rcpt_tos"], self.meta["peer"],
                          self.meta["received_at"], self.meta["sha256"], self.size, final)

    def abort(self) -> None:
        try:
            self._file.close()
        finally:
            self.path.unlink(missing_ok=True)
            self.path.with_suffix(".json").unlink(missing_ok=True)
