"""The blob store: everything kept after the decision (held raw messages, attachment files),
content-addressed by SHA-256 behind one interface (base.py), on one of two back-ends chosen by
the `blob_store` setting: `local` (local.py: this host's data_dir; the default on SQLite) or
`database` (database.py: chunked rows in the CRM database; the default on PostgreSQL, so every
receiver reads what any of them kept). The other back-end stays readable as a fallback, which
is what lets `blobs migrate` move blobs without downtime. Deletion that respects references
is in refs.py. The spool (before the 250) is not here: it stays on the local disk.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from smtp_logger.store.blobstore.base import CHUNK, BlobMissing, BlobStore, WithFallback
from smtp_logger.store.blobstore.database import DatabaseBlobStore
from smtp_logger.store.blobstore.local import LocalBlobStore

__all__ = ["CHUNK", "BlobMissing", "BlobStore", "DatabaseBlobStore", "LocalBlobStore", "WithFallback",
           "backend_name", "backends", "open_store"]


def backend_name(settings) -> str:
    """`blob_store` as set, else `local` on SQLite and `database` on a database server."""
    return settings.blob_store or ("local" if settings.is_embedded else "database")


def backends(settings, sessions: sessionmaker[Session]) -> dict[str, BlobStore]:
    return {"local": LocalBlobStore(settings.data_path), "database": DatabaseBlobStore(sessions)}


def open_store(settings, sessions: sessionmaker[Session], name: str | None = None) -> WithFallback:
    """The configured back-end (or `name`), reading from the other when a blob is not there."""
    both = backends(settings, sessions)
    primary = name or backend_name(settings)
    other = "local" if primary == "database" else "database"
    return WithFallback(both[primary], both[other])
