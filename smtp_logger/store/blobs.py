"""Attachment files: decode, hash (SHA-256), and keep each distinct file once in a
content-addressed folder. Files over the size cap are listed, not stored. Filenames are made
safe (no paths, no control characters). Disk writes only; no database.

Files are written and fsynced BEFORE the write transaction that references them opens (the
database never waits on the disk), for every email that may be logged. So a file can end up
referenced by no attachment row: after a crash between the two, when the rules then did not
log the email, or after a never-log purge. Such a file is harmless (content-addressed: the next
email with the same bytes reuses it) and is reclaimed by `smtp-logger held purge`, which removes
files no attachment row references and not touched for a day (`reclaim`). Saving a file that
exists already touches it, so a file about to be referenced again is never reclaimed.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from smtp_logger.understand.executables import blocked_kind
from smtp_logger.understand.parse import AttachmentPart

RECLAIM_AFTER = 86_400.0  # seconds untouched before an unreferenced file is removed
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


class BlobStore:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    @classmethod
    def under(cls, data_path: Path) -> "BlobStore":
        """The attachment files of the receiver whose data folder this is."""
        return cls(Path(data_path) / "attachments")

    def path(self, sha: str) -> Path:
        return self.root / sha[:2] / sha

    def _reused(self, final: Path) -> bool:
        """An existing file, touched (see the module docstring); False if there is none."""
        try:
            os.utime(final)
            return True
        except FileNotFoundError:
            return False

    def put(self, data: bytes, sha: str) -> None:
        final = self.path(sha)
        if self._reused(final):
            return
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{sha}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)

    def link(self, source: Path, sha: str) -> None:
        final = self.path(sha)
        if self._reused(final):
            return
        final.parent.mkdir(parents=True, exist_ok=True)
        with open(source, "rb") as f:
            os.fsync(f.fileno())
        try:
            os.link(source, final)
        except FileExistsError:
            pass

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

    def reclaim(self, in_use: Callable[[list[str]], set[str]], older_than: float = RECLAIM_AFTER,
                now: float | None = None) -> int:
        """Remove files untouched for `older_than` seconds that `in_use(hashes)` (the hashes
        attachment rows reference, of those asked) does not return, and temporary files a crash
        left. Returns how many files were removed."""
        cutoff = (time.time() if now is None else now) - older_than
        old = {path.name: path for path in self.root.glob("??/*") if _mtime(path) < cutoff}
        temporary = [path for name, path in old.items() if name.startswith(".")]
        names = sorted(name for name in old if not name.startswith("."))
        unused = [old[name] for i in range(0, len(names), 500)
                  for name in set(names[i:i + 500]) - in_use(names[i:i + 500])]
        removed = 0
        for path in temporary + unused:
            if _mtime(path) < cutoff:  # not touched meanwhile by a save about to reference it
                path.unlink(missing_ok=True)
                removed += 1
        return removed


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return float("inf")
