"""The `local` back-end: today's folders of one host's data_dir. attachments/ab/<sha256> holds
files as they are; raw/ab/<sha256> holds raw messages, hard links of their spool files (the
envelope line is skipped when read). A blob is written to a temporary file, fsynced, then
renamed into place: a file under its key is always complete. Saving bytes that exist already
touches the file (mtime), so a sweep that spares recently touched files never removes one that
a transaction is about to reference (store.blobstore.refs).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from smtp_logger.base.spoolfile import open_message
from smtp_logger.store.blobstore.base import CHUNK, BlobStore


class LocalBlobStore(BlobStore):
    name = "local"

    def __init__(self, data_path: Path):
        self.root = Path(data_path) / "attachments"
        self.raw = Path(data_path) / "raw"
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def raw_path(self, sha256: str) -> Path:
        return self.raw / sha256[:2] / sha256

    def _found(self, sha256: str) -> Path | None:
        for path in (self.path(sha256), self.raw_path(sha256)):
            if path.exists():
                return path
        return None

    def touch(self, sha256: str) -> bool:
        """Mark an existing blob as just used; False if there is none."""
        for path in (self.path(sha256), self.raw_path(sha256)):
            try:
                os.utime(path)
                return True
            except FileNotFoundError:
                continue
        return False

    def put(self, stream: BinaryIO, sha256: str | None = None) -> str:
        if sha256 and self.touch(sha256):
            return sha256
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{secrets.token_hex(8)}.{os.getpid()}.tmp"
        digest = hashlib.sha256()
        try:
            with open(tmp, "wb") as f:
                while chunk := stream.read(CHUNK):
                    digest.update(chunk)
                    f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
            key = digest.hexdigest()
            if sha256 and key != sha256:
                raise ValueError(f"content hashes to {key}, not {sha256}")
            if not self.touch(key):
                final = self.path(key)
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, final)
            return key
        finally:
            tmp.unlink(missing_ok=True)

    def put_file(self, path: Path, sha256: str | None = None) -> str:
        """A hard link when the caller knows the file's hash (a decoded large part)."""
        if not sha256:
            return super().put_file(path, sha256)
        if self.touch(sha256):
            return sha256
        final = self.path(sha256)
        final.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "rb") as f:
            os.fsync(f.fileno())
        try:
            os.link(path, final)
        except FileExistsError:
            pass
        return sha256

    def open(self, sha256: str) -> BinaryIO:
        if (path := self._found(sha256)) is None:
            raise FileNotFoundError(sha256)
        return open_message(path) if path.parent.parent == self.raw else open(path, "rb")

    def exists(self, sha256: str) -> bool:
        return self._found(sha256) is not None

    def delete(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)
        self.raw_path(sha256).unlink(missing_ok=True)

    def delete_if_untouched(self, sha256: str, grace: float, now: float | None = None) -> bool:
        """Remove the blob unless it was saved or touched in the last `grace` seconds."""
        cutoff = (time.time() if now is None else now) - grace
        removed = False
        for path in (self.path(sha256), self.raw_path(sha256)):
            if _mtime(path) < cutoff:
                path.unlink(missing_ok=True)
                removed = True
        return removed

    def keys(self) -> Iterator[str]:
        seen = set()
        for folder in (self.root, self.raw):
            for path in folder.glob("??/*"):
                if not path.name.startswith(".") and len(path.name) == 64 and path.name not in seen:
                    seen.add(path.name)
                    yield path.name

    def untouched_keys(self, grace: float, now: float | None = None) -> list[str]:
        cutoff = (time.time() if now is None else now) - grace
        return [key for key in self.keys() if min(_mtime(self.path(key)), _mtime(self.raw_path(key))) < cutoff]

    def remove_leftovers(self, grace: float, now: float | None = None) -> int:
        """Temporary files a crash left (older than `grace`)."""
        cutoff = (time.time() if now is None else now) - grace
        old = [p for p in [*self.root.glob(".*.tmp"), *self.root.glob("??/.*")] if _mtime(p) < cutoff]
        for path in old:
            path.unlink(missing_ok=True)
        return len(old)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return float("inf")
