"""Attachment files: decode, hash (SHA-256), and keep each distinct file once in the blob
store (store.blobstore: a local folder or the database). Files over the size cap are listed,
not stored. Filenames are made safe (no paths, no control characters).

Files are written BEFORE the write transaction that references them opens (on SQLite that
transaction must not wait on a 50 MB write), for every email that may be logged. So a file can
end up referenced by no attachment row: after a crash between the two, when the rules then did
not log the email, or after a never-log purge. Such a file is harmless (content-addressed: the
next email with the same bytes reuses it) and is removed by `smtp-logger held purge` once
untouched for blob_grace_seconds (store.blobstore.refs). Saving bytes that exist already
touches them, so a file about to be referenced again is never removed.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from smtp_logger.store.blobstore import CHUNK, BlobStore
from smtp_logger.understand.executables import blocked_kind
from smtp_logger.understand.parse import AttachmentPart

_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


@dataclass(frozen=True)
class SavedAttachment:
    filename: str
    content_type: str
    size: int
    sha256: str
    stored: bool
    reason: str | None
    content_id: str | None
    inline: bool
    signature: bool = False  # a signature logo: kept for rendering, off the attachment list
    blocked_type: str | None = None  # the executable kind that kept it from being stored

    @property
    def inline_image(self) -> bool:
        return self.inline and (self.content_type or "").lower().startswith("image/")


BLOCKED = "blocked"  # the reason of an attachment not stored for its executable content


def safe_filename(name: str) -> str:
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    return (name or "attachment")[:255]


def _payload(part: AttachmentPart) -> tuple[bytes, str | None]:
    body = part.part
    if body.get_content_maintype() == "message":
        inner = body.get_payload()
        inner = inner[0] if isinstance(inner, list) and inner else inner
        return (inner.as_bytes() if hasattr(inner, "as_bytes") else str(inner).encode()), None
    data = body.get_payload(decode=True)
    if data is None:
        data = b""
    damage = [d.__class__.__name__ for d in getattr(body, "defects", [])
              if "Base64" in d.__class__.__name__ or "Payload" in d.__class__.__name__]
    return data, ("decoded with errors: " + ", ".join(damage)) if damage else None


class AttachmentFiles:
    """Saves attachment parts into the blob store (store.blobstore), each distinct file once."""

    def __init__(self, store: BlobStore):
        self.store = store
        self._pending: dict[str, bytes] | None = None

    def put(self, data: bytes, sha: str) -> None:
        if self._pending is not None and len(data) < CHUNK:
            self._pending[sha] = data
        else:
            self.store.put(io.BytesIO(data), sha)

    @contextmanager
    def together(self):
        """The small files saved inside are put when it ends (in one transaction of the
        database back-end); nothing of them is kept if it fails."""
        self._pending = {}
        try:
            yield
            self.store.put_small(self._pending)
        finally:
            self._pending = None

    def link(self, source: Path, sha: str) -> None:
        """A decoded large part's work file (the local back-end links it; the database one
        streams it in chunks)."""
        self.store.put_file(source, sha)

    def _save_blob(self, part: AttachmentPart, max_size: int, blocked: frozenset[str]) -> SavedAttachment:
        blob = part.blob
        stored, reason = True, (f"decoded with errors: {blob.damage}" if blob.damage else None)
        kind = blocked_kind(part.filename, lambda: open(blob.path, "rb"), blocked)  # its first bytes only
        if kind is not None:
            stored, reason = False, BLOCKED
        elif blob.size > max_size:
            stored, reason = False, f"larger than the {max_size:,} byte limit; not stored"
        else:
            self.link(blob.path, blob.sha256)
        return SavedAttachment(safe_filename(part.filename), part.content_type, blob.size, blob.sha256,
                               stored, reason, part.content_id, part.inline, blocked_type=kind)

    def save(self, part: AttachmentPart, max_size: int, blocked: frozenset[str] = frozenset()) -> SavedAttachment:
        """Store the part's file unless it is too large or of a `blocked` executable kind (then it
        is listed as not stored, with the reason)."""
        if part.blob is not None:
            return self._save_blob(part, max_size, blocked)
        data, damage = _payload(part)
        sha = hashlib.sha256(data).hexdigest()
        stored, reason = True, damage
        kind = blocked_kind(part.filename, lambda: io.BytesIO(data), blocked)
        if kind is not None:
            stored, reason = False, BLOCKED
        elif len(data) > max_size:
            stored, reason = False, f"larger than the {max_size:,} byte limit; not stored"
        else:
            self.put(data, sha)
        return SavedAttachment(safe_filename(part.filename), part.content_type, len(data), sha,
                               stored, reason, part.content_id, part.inline, blocked_type=kind)
