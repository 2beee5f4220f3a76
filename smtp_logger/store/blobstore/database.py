"""The `database` back-end: blobs in the CRM database, in rows of 1 MiB (`blob_chunks`), so
every receiver on one PostgreSQL reads what any of them kept. Works on SQLite too.

Nothing half-written is visible: a blob of one chunk is written with its key in one
transaction; a larger one first gets a `blobs` row without a key
(`complete` false), writes the chunks in short transactions of their own (on SQLite the write
lock is never held for a whole 50 MB blob), and only then sets the key and `complete` in one
transaction. All of this happens before the decision's transaction opens; that transaction
then takes a share lock on every complete blob it references (`refs.claim`), so a deletion
cannot slip in between. A crash mid-write leaves an incomplete row no one can reference,
removed by the sweep (`held purge`) once older than blob_grace_seconds.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import BinaryIO

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from smtp_logger.store.blobstore.base import CHUNK, BlobStore
from smtp_logger.store.models import BlobChunk, BlobRow


def _now() -> datetime:
    return datetime.now(timezone.utc)


class DatabaseBlobStore(BlobStore):
    name = "database"

    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    def touch(self, sha256: str) -> bool:
        with self.sessions() as session:
            found = session.execute(update(BlobRow).where(BlobRow.sha256 == sha256, BlobRow.complete.is_(True))
                                    .values(touched_at=_now())).rowcount
            session.commit()
        return bool(found)

    def put(self, stream: BinaryIO, sha256: str | None = None) -> str:
        first = stream.read(CHUNK)
        if len(first) < CHUNK:  # the whole blob: one transaction (most raw messages)
            return self._put_small(first, sha256)
        if sha256 and self.touch(sha256):
            return sha256
        with self.sessions() as session:
            row = BlobRow(size=0, complete=False)
            session.add(row)
            session.commit()
            blob_id, finished = row.id, False
            try:
                key, size = self._write_chunks(session, blob_id, first, stream)
                if sha256 and key != sha256:
                    raise ValueError(f"content hashes to {key}, not {sha256}")
                finished = self._finish(session, blob_id, key, size)
                return key
            finally:
                if not finished:
                    session.rollback()
                    remove_blobs(session, [blob_id])
                    session.commit()

    def _put_small(self, data: bytes, sha256: str | None) -> str:
        key = hashlib.sha256(data).hexdigest()
        if sha256 and key != sha256:
            raise ValueError(f"content hashes to {key}, not {sha256}")
        with self.sessions() as session:  # the insert first: on SQLite a read before it could go stale
            try:
                row = BlobRow(sha256=key, size=len(data), complete=True)
                session.add(row)
                session.flush()
                session.execute(insert(BlobChunk), {"blob_id": row.id, "seq": 0, "data": data})
                session.commit()
                return key
            except IntegrityError:  # kept already (or another writer was faster): reused
                session.rollback()
        self.touch(key)
        return key

    def put_small(self, blobs: dict[str, bytes]) -> None:
        """All in one transaction (a batch's raw copies): the ones kept already are touched,
        the others inserted complete, each with its one chunk. A conflict (another writer kept
        one of them meanwhile) falls back to one `put` each."""
        for sha256, data in blobs.items():
            if len(data) >= CHUNK or hashlib.sha256(data).hexdigest() != sha256:
                raise ValueError(f"not a small blob hashing to {sha256}")
        if len(blobs) < 2:
            return super().put_small(blobs)
        with self.sessions() as session:  # the update first: on SQLite a read before it could go stale
            try:
                kept = set(session.scalars(update(BlobRow.__table__).where(BlobRow.sha256.in_(sorted(blobs)))
                                           .values(touched_at=_now()).returning(BlobRow.sha256)))
                new = [sha256 for sha256 in blobs if sha256 not in kept]
                if new:
                    ids = dict(session.execute(insert(BlobRow.__table__).returning(BlobRow.sha256, BlobRow.id), [
                        dict(sha256=sha256, size=len(blobs[sha256]), complete=True) for sha256 in new]).all())
                    session.execute(insert(BlobChunk), [dict(blob_id=ids[sha256], seq=0, data=blobs[sha256])
                                                        for sha256 in new])
                session.commit()
                return
            except IntegrityError:
                session.rollback()
        super().put_small(blobs)

    def _write_chunks(self, session: Session, blob_id: int, first: bytes, stream: BinaryIO) -> tuple[str, int]:
        digest, size, seq, chunk = hashlib.sha256(), 0, 0, first
        while chunk:
            digest.update(chunk)
            size += len(chunk)
            session.execute(insert(BlobChunk), {"blob_id": blob_id, "seq": seq, "data": chunk})
            session.commit()
            seq += 1
            chunk = stream.read(CHUNK)
        return digest.hexdigest(), size

    def _finish(self, session: Session, blob_id: int, key: str, size: int) -> bool:
        """Give the blob its key and make it visible; False when another writer finished the
        same bytes first (theirs is kept and touched, ours removed by the caller)."""
        try:
            session.execute(update(BlobRow).where(BlobRow.id == blob_id).values(
                sha256=key, size=size, complete=True, touched_at=_now()))
            session.commit()
            return True
        except IntegrityError:
            session.rollback()
            self.touch(key)
            return False

    def _row(self, session: Session, sha256: str) -> BlobRow | None:
        return session.scalars(select(BlobRow).where(BlobRow.sha256 == sha256, BlobRow.complete.is_(True))).first()

    def open(self, sha256: str) -> BinaryIO:
        with self.sessions() as session:
            row = self._row(session, sha256)
        if row is None:
            raise FileNotFoundError(sha256)
        return io.BufferedReader(_ChunkReader(self.sessions, row.id, row.size), CHUNK)

    def exists(self, sha256: str) -> bool:
        with self.sessions() as session:
            return self._row(session, sha256) is not None

    def delete(self, sha256: str) -> None:
        with self.sessions() as session:
            remove_blobs(session, list(session.scalars(select(BlobRow.id).where(BlobRow.sha256 == sha256))))
            session.commit()

    def keys(self) -> Iterator[str]:
        with self.sessions() as session:
            found = list(session.scalars(select(BlobRow.sha256).where(BlobRow.complete.is_(True))
                                         .order_by(BlobRow.sha256)))
        return iter(found)

    def untouched_keys(self, grace: float) -> list[str]:
        with self.sessions() as session:
            return list(session.scalars(select(BlobRow.sha256).where(
                BlobRow.complete.is_(True), BlobRow.touched_at < _now() - timedelta(seconds=grace))))

    def remove_leftovers(self, grace: float) -> int:
        """Incomplete blobs (a writer crashed) older than `grace`: nothing references them."""
        with self.sessions() as session:
            ids = list(session.scalars(select(BlobRow.id).where(
                BlobRow.complete.is_(False), BlobRow.created_at < _now() - timedelta(seconds=grace))))
            remove_blobs(session, ids)
            session.commit()
        return len(ids)


def remove_blobs(session: Session, blob_ids: list[int]) -> None:
    """Delete blobs and their chunks inside the caller's transaction."""
    if blob_ids:
        session.execute(delete(BlobChunk).where(BlobChunk.blob_id.in_(blob_ids)))
        session.execute(delete(BlobRow).where(BlobRow.id.in_(blob_ids)))


class _ChunkReader(io.RawIOBase):
    """Reads one blob a chunk (one short query) at a time."""

    def __init__(self, sessions: sessionmaker[Session], blob_id: int, size: int):
        self.sessions, self.blob_id, self.size = sessions, blob_id, size
        self.seq, self.offset, self.buffer, self.read_so_far = 0, 0, b"", 0

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        if self.offset >= len(self.buffer):
            if self.read_so_far >= self.size:
                return 0
            with self.sessions() as session:
                data = session.scalar(select(BlobChunk.data).where(
                    BlobChunk.blob_id == self.blob_id, BlobChunk.seq == self.seq))
            if data is None:
                raise OSError(f"blob {self.blob_id} lost chunk {self.seq} (deleted while read)")
            self.buffer, self.offset, self.seq = bytes(data), 0, self.seq + 1
            self.read_so_far += len(self.buffer)
        count = min(len(target), len(self.buffer) - self.offset)
        target[:count] = self.buffer[self.offset:self.offset + count]
        self.offset += count
        return count
