"""Durable intake: the promise "250 means on disk" is kept here and nowhere else.

A delivery is one file: an envelope line (`SMTP-LOGGER-SPOOL 1 {json}`), then the message
bytes exactly as received. It is streamed to spool/tmp/<id>.msg (hashed as it is written),
its envelope line completed in place, fsynced, renamed into spool/new/ and the folder fsynced.
Only then may the SMTP side answer 250. One file, not a message and an envelope file: half the
files to create and fsync, and no envelope file to delete afterwards (ext4 pays dearly for
inodes created and deleted at a high rate). A delivery leaves new/ only after its processing
committed, so a crash at any point leaves it to be processed again at start-up (processing is
idempotent per spool id). The message is kept content-addressed in raw/<sha256 of the message>
(a hard link to the same file, envelope line included: `open_message` skips it).

Workers take deliveries by renaming <id>.msg to <id>.msg.<worker> (atomic: one winner); a
worker that starts again releases what it held, and the server releases every claim at start.
Concurrent deliveries share one folder fsync (`prepare` each, `publish` each, then one
`sync_new`): the group commit of smtp/committer.py. No parsing and no database here.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from smtp_logger.base.spoolfile import envelope_line, open_message, read_envelope
from smtp_logger.intake.recycle import FreeFiles

SUFFIX = ".msg"
_SIZE_WIDTH = 20  # the size is written as a fixed-width string: the envelope keeps its length


@dataclass(frozen=True)
class SpoolEntry:
    spool_id: str
    mail_from: str
    rcpt_tos: list[str]
    peer: str
    received_at: float
    sha256: str  # of the message bytes (without the envelope line)
    size: int
    path: Path  # <id>.msg, or <id>.msg.<worker> while a worker holds it
    helo: str = ""  # the client's HELO/EHLO/LHLO name (absent from files spooled before it was kept)


def _libc_sync_file_range():
    """Linux's sync_file_range, or None: with SYNC_FILE_RANGE_WRITE it starts writing a file's
    dirty pages to disk without waiting for them and without a journal commit."""
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    return function


_sync_file_range = _libc_sync_file_range()
SYNC_FILE_RANGE_WRITE = 2


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
        self.work = self.root / "spool" / "work"  # decoded attachments awaiting a decision
        for folder in (self.tmp, self.new, self.raw, self.work):
            folder.mkdir(parents=True, exist_ok=True)
        self.free_files = FreeFiles(self.root / "spool" / "free")  # files used again: intake/recycle.py
        self._raw_folders: set[str] = set()
        self._fsyncers: ThreadPoolExecutor | None = None

    def open_writer(self, mail_from: str, rcpt_tos: list[str], peer: str, helo: str = "") -> "SpoolWriter":
        return SpoolWriter(self, new_spool_id(), mail_from, rcpt_tos, peer, helo=helo)

    def write_whole(self, mail_from: str, rcpt_tos: list[str], peer: str, helo: str,
                    chunks: list[bytes]) -> "WholeWriter":
        """A message held in memory, written to spool/tmp and fsynced (as SpoolWriter.prepare
        leaves one) in three system calls: its envelope line is complete before the first write."""
        return WholeWriter(self, new_spool_id(), mail_from, rcpt_tos, peer, helo, chunks)

    def recover(self) -> int:
        """At server start, before any worker: release every claim, convert deliveries spooled
        by an older version, drop half-written ones and half-done work files. Returns how
        many deliveries wait."""
        self.release_claims(None)
        self._convert_legacy()
        for leftover in [*self.tmp.iterdir(), *self.work.iterdir()]:
            leftover.unlink(missing_ok=True)  # never acknowledged: the sender retries
        self.free_files.tidy()
        return self.backlog()

    def _convert_legacy(self) -> None:
        """<id>.eml + <id>.json (the first spool format) into one <id>.msg; an .eml alone was
        never acknowledged."""
        for meta_path in self.new.glob("*.json"):
            message = meta_path.with_suffix(".eml")
            if message.exists():  # same spool id and arrival time: processing stays idempotent
                meta = json.loads(meta_path.read_text("utf-8"))
                writer = SpoolWriter(self, meta_path.stem, meta["mail_from"], meta["rcpt_tos"],
                                     meta.get("peer", ""), meta["received_at"])
                with open(message, "rb") as source:
                    while chunk := source.read(1 << 20):
                        writer.write(chunk)
                writer.commit()
            meta_path.unlink()
            message.unlink(missing_ok=True)
        for orphan in self.new.glob("*.eml"):
            orphan.unlink()

    def backlog(self) -> int:
        """Deliveries acknowledged and not yet processed (taken by a worker or not)."""
        return sum(1 for name in self._names("") if SUFFIX in name)

    def _names(self, suffix: str) -> list[str]:
        with os.scandir(self.new) as found:
            return [e.name for e in found if e.name.endswith(suffix)]

    def claim(self, worker: str, limit: int) -> list[SpoolEntry]:
        """Take up to `limit` of the oldest waiting deliveries for `worker`."""
        claimed = []
        for name in sorted(self._names(SUFFIX)):
            held = self.new / f"{name}.{worker}"
            try:
                os.rename(self.new / name, held)
            except FileNotFoundError:
                continue  # another worker was faster
            entry = self.load(held)
            if entry is not None:
                claimed.append(entry)
            if len(claimed) >= limit:
                break
        return claimed

    def release_claims(self, worker: str | None) -> None:
        """Give back what `worker` (None: every worker) held, e.g. when it died mid-batch."""
        for name in self._names(""):
            base, dot, holder = name.rpartition(".")
            if base.endswith(SUFFIX) and dot and (worker is None or holder == worker):
                os.replace(self.new / name, self.new / base)

    def load(self, path: Path) -> SpoolEntry | None:
        try:
            with open(path, "rb") as f:
                meta = read_envelope(f)
        except (OSError, ValueError, UnicodeDecodeError):
            return None
        if meta is None:
            return None
        return SpoolEntry(path.name.split(".", 1)[0], meta["mail_from"], meta["rcpt_tos"],
                          meta.get("peer", ""), meta["received_at"], meta["sha256"],
                          int(meta["size"]), path, str(meta.get("helo", "")))

    def sync_new(self) -> None:
        """Make every rename into new/ so far durable (one fsync for a whole group)."""
        _fsync_dir(self.new)

    def done(self, entry: SpoolEntry) -> None:
        """Forget a processed delivery (its raw copy lives on in raw/); a file that is no raw
        copy is emptied and kept for a next delivery (intake/recycle.py)."""
        if not self.free_files.release(entry.path, entry.spool_id):
            entry.path.unlink(missing_ok=True)

    def keep_raw(self, entries: list[SpoolEntry]) -> None:
        """Keep these messages in the content-addressed raw store, durably: each is linked
        there, then the folders that changed are fsynced side by side (the file system commits
        them together instead of one after the other)."""
        changed = set()
        for entry in entries:
            final = self.raw_path(entry.sha256)
            if final.exists():
                continue
            if final.parent.name not in self._raw_folders:  # 256 of them: made once each
                final.parent.mkdir(parents=True, exist_ok=True)
                self._raw_folders.add(final.parent.name)
            try:
                os.link(entry.path, final)
            except FileExistsError:
                pass
            changed.add(final.parent)
        if len(changed) > 1:
            if self._fsyncers is None:  # made on first use, in the process that uses it
                self._fsyncers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="raw-fsync")
            list(self._fsyncers.map(_fsync_dir, changed))
        elif changed:
            _fsync_dir(changed.pop())

    def keep_raw_prefixed(self, entry: SpoolEntry, prefix: bytes) -> SpoolEntry:
        """Keep `prefix` + the message as its own raw copy (a trace field the receiver prepends),
        durably, content-addressed by the sha256 of those bytes; the entry returned names it."""
        digest = hashlib.sha256(prefix)
        tmp = self.tmp / f"{entry.spool_id}.raw"
        with open_message(entry.path) as source, open(tmp, "wb") as target:
            target.write(prefix)
            while chunk := source.read(1 << 20):
                target.write(chunk)
                digest.update(chunk)
            target.flush()
            os.fsync(target.fileno())
        final = self.raw_path(digest.hexdigest())
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():
            tmp.unlink()
        else:
            os.replace(tmp, final)
            _fsync_dir(final.parent)
        return replace(entry, sha256=digest.hexdigest())

    def raw_path(self, sha: str) -> Path:
        return self.raw / sha[:2] / sha


class _Published:
    """What both writers share once their file is complete and fsynced (`spool`, `path`,
    `spool_id`, `meta`, `size` set by them)."""

    def publish(self) -> SpoolEntry:
        """Rename into new/; durable after the next `sync_new`."""
        final = self.spool.new / self.path.name
        os.replace(self.path, final)
        return SpoolEntry(self.spool_id, self.meta["mail_from"], self.meta["rcpt_tos"], self.meta["peer"],
                          self.meta["received_at"], self.meta["sha256"], self.size, final, self.meta["helo"])


class SpoolWriter(_Published):
    """Streams one delivery to spool/tmp, then commits it into spool/new durably."""

    def __init__(self, spool: Spool, spool_id: str, mail_from: str, rcpt_tos: list[str], peer: str,
                 received_at: float | None = None, helo: str = ""):
        self.spool = spool
        self.spool_id = spool_id
        self.path = spool.tmp / f"{spool_id}{SUFFIX}"
        self.meta = {"mail_from": mail_from, "rcpt_tos": list(rcpt_tos), "peer": peer,
                     "received_at": time.time() if received_at is None else received_at,
                     "sha256": "0" * 64, "size": "0" * _SIZE_WIDTH, "helo": helo[:255]}
        self._file = os.fdopen(spool.free_files.open_new(self.path), "wb")
        self._file.write(envelope_line(self.meta))  # completed in place by prepare()
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self._hash.update(chunk)
        self.size += len(chunk)

    def start_writeback(self) -> bool:
        """Start writing what a large message has so far to disk, without waiting. Its final
        fsync then finds little left to write; without this, that fsync writes the whole
        message at once and every small message's fsync meanwhile waits behind it (ext4
        commits its journal for all files together). True when the kernel started it."""
        self._file.flush()
        if _sync_file_range is None:
            return False
        return _sync_file_range(self._file.fileno(), 0, 0, SYNC_FILE_RANGE_WRITE) == 0

    def commit(self) -> SpoolEntry:
        """Complete and fsync the file, rename it into new/, fsync the folder."""
        self.prepare()
        entry = self.publish()
        self.spool.sync_new()
        return entry

    def prepare(self) -> None:
        """Write the message's hash and size into its envelope line, fsync the file."""
        self.meta.update(sha256=self._hash.hexdigest(), size=str(self.size).zfill(_SIZE_WIDTH))
        self._file.flush()
        os.pwrite(self._file.fileno(), envelope_line(self.meta), 0)  # same length as before
        os.fsync(self._file.fileno())
        self._file.close()

    def abort(self) -> None:
        """Remove the partial file; closing may fail again (the disk is still full): ignored."""
        try:
            self._file.close()
        except OSError:
            pass
        self.path.unlink(missing_ok=True)


class WholeWriter(_Published):
    """A delivery held in memory, written and fsynced in one go; then `publish` as SpoolWriter."""

    def __init__(self, spool: Spool, spool_id: str, mail_from: str, rcpt_tos: list[str], peer: str,
                 helo: str, chunks: list[bytes]):
        self.spool, self.spool_id = spool, spool_id
        self.path = spool.tmp / f"{spool_id}{SUFFIX}"
        digest = hashlib.sha256()
        for chunk in chunks:
            digest.update(chunk)
        self.size = sum(map(len, chunks))
        self.meta = {"mail_from": mail_from, "rcpt_tos": list(rcpt_tos), "peer": peer,
                     "received_at": time.time(), "sha256": digest.hexdigest(),
                     "size": str(self.size).zfill(_SIZE_WIDTH), "helo": helo[:255]}
        fd = spool.free_files.open_new(self.path)
        try:
            data = [envelope_line(self.meta), *chunks]
            if len(data) > 256:  # far below IOV_MAX (many dot-stuffed lines make many chunks)
                data = [b"".join(data)]
            written = os.writev(fd, data)
            if written != sum(map(len, data)):  # a short write (a full disk may do that): the rest
                rest = b"".join(data)[written:]
                while rest:
                    rest = rest[os.write(fd, rest):]
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            self.path.unlink(missing_ok=True)
            raise
        os.close(fd)

    def abort(self) -> None:
        self.path.unlink(missing_ok=True)
