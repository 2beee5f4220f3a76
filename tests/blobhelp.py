"""Reading what a receiver kept through its blob store (the configured back-end, whichever it
is), as another host or the API would."""

from __future__ import annotations

from smtp_logger.store.blobstore import backend_name, open_store
from smtp_logger.store.db import session_factory


def store_of(settings):
    return open_store(settings, session_factory(settings.db_url))


def blob_bytes(settings, sha: str) -> bytes:
    with store_of(settings).open(sha) as stream:
        return stream.read()


def all_blobs(settings) -> dict[str, bytes]:
    """Every blob of both back-ends, by key."""
    store = store_of(settings)
    keys = set(store.primary.keys()) | set(store.fallback.keys())
    return {key: blob_bytes(settings, key) for key in keys}


def is_local(settings) -> bool:
    return backend_name(settings) == "local"
