"""The blob store's interface: bytes kept after the decision (held raw messages, attachment
files), keyed by their SHA-256 and streamed in and out in chunks of CHUNK bytes, so a 50 MB
attachment is never in memory whole. `put` returns the key only once the blob is complete;
nothing half-written is ever visible to `open` or `exists`.
"""

from __future__ import annotations

import hashlib
import io
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20  # 1 MiB: what is read, written and held at a time


class BlobMissing(RuntimeError):
    """A blob to be referenced is not (or no longer) in the store: the transaction that was to
    reference it is given up, and the delivery is processed again (which writes it again)."""


class BlobStore(ABC):
    name = "?"

    @abstractmethod
    def put(self, stream: BinaryIO, sha256: str | None = None) -> str:
        """Store what `stream` holds; returns its SHA-256. With `sha256` (what the caller
        already knows it to be), a blob that exists is reused without reading the stream; a
        stream that does not hash to it raises ValueError and leaves nothing behind."""

    def put_file(self, path: Path, sha256: str | None = None) -> str:
        """Store a file's bytes (a back-end may link it instead of copying)."""
        with open(path, "rb") as f:
            return self.put(f, sha256)

    def put_small(self, blobs: dict[str, bytes]) -> None:
        """Store several blobs smaller than CHUNK, each under the SHA-256 it is known to have
        (ValueError if one does not hash to it); the database back-end writes them all in one
        transaction."""
        for sha256, data in blobs.items():
            self.put(io.BytesIO(data), sha256)

    @abstractmethod
    def open(self, sha256: str) -> BinaryIO:
        """The blob as a readable stream; FileNotFoundError if it is not here."""

    @abstractmethod
    def exists(self, sha256: str) -> bool: ...

    @abstractmethod
    def delete(self, sha256: str) -> None:
        """Remove the blob now, referenced or not (`blobs migrate` deletes a moved source).
        Deletion that must respect references goes through store.blobstore.refs."""

    @abstractmethod
    def keys(self) -> Iterator[str]:
        """Every complete blob's key."""

    def copy_to(self, sha256: str, path: Path) -> None:
        """Write the blob into a local file (the parser reads files)."""
        with self.open(sha256) as source, open(path, "wb") as target:
            while chunk := source.read(CHUNK):
                target.write(chunk)


def hash_stream(stream: BinaryIO) -> tuple[str, int]:
    """The SHA-256 and size of what a stream holds, read a chunk at a time."""
    digest, size = hashlib.sha256(), 0
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


class WithFallback(BlobStore):
    """The configured back-end, reading from the other one when a blob is not (yet) there: while
    `blobs migrate` moves blobs, every blob stays readable (no downtime). Writes go to the
    primary only; `delete` removes both copies."""

    def __init__(self, primary: BlobStore, fallback: BlobStore):
        self.primary, self.fallback = primary, fallback
        self.name = primary.name

    def put(self, stream: BinaryIO, sha256: str | None = None) -> str:
        return self.primary.put(stream, sha256)

    def put_file(self, path: Path, sha256: str | None = None) -> str:
        return self.primary.put_file(path, sha256)

    def put_small(self, blobs: dict[str, bytes]) -> None:
        self.primary.put_small(blobs)

    def open(self, sha256: str) -> BinaryIO:
        try:
            return self.primary.open(sha256)
        except FileNotFoundError:
            return self.fallback.open(sha256)

    def exists(self, sha256: str) -> bool:
        return self.primary.exists(sha256) or self.fallback.exists(sha256)

    def delete(self, sha256: str) -> None:
        self.primary.delete(sha256)
        self.fallback.delete(sha256)

    def keys(self) -> Iterator[str]:
        return self.primary.keys()
