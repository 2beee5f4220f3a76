"""Parse raw RFC 5322 bytes into a `ParsedMessage`: plain data the rules can read.

Uses the standard library's `email` package (policy.default). Never raises: a header or part
that cannot be read is skipped and noted in `defects`; a message with no usable headers at all is
marked `unparseable`. No database, no disk.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import message_from_bytes, policy
from email.headerregistry import HeaderRegistry
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

from smtp_logger.base.spoolfile import open_message
from smtp_logger.understand.addresses import Mailbox, parse_mailbox, parse_mailbox_list
from smtp_logger.understand.htmltext import html_to_text
from smtp_logger.understand.largeparts import BLOB_HEADER, Blob, parse_blob_header, skeletonize

_UNSET = object()
_MSGID = re.compile(r"<([^<>\s]+)>")


class _CachingHeaderRegistry(HeaderRegistry):
    """policy.default parses a header again on every access (classify, forwards and the rules
    read the same few headers many times): keep the parsed (immutable) header objects."""

    def __init__(self):
        super().__init__()
        self._cache: dict[tuple[str, str], object] = {}

    def __call__(self, name, value):
        key = (name.lower(), value)
        header = self._cache.get(key)
        if header is None:
            if len(self._cache) > 20_000:
                self._cache.clear()
            header = self._cache[key] = super().__call__(name, value)
        return header


POLICY = policy.default.clone(header_factory=_CachingHeaderRegistry())


@dataclass
class AttachmentPart:
    filename: str
    content_type: str
    content_id: str | None
    inline: bool
    part: EmailMessage = field(repr=False)
    blob: Blob | None = None  # decoded already, into a work file (large parts)


@dataclass
class ParsedMessage:
    message_id: str | None
    in_reply_to: list[str]
    references: list[str]
    from_: Mailbox | None
    to: list[Mailbox]
    cc: list[Mailbox]
    subject: str
    date: datetime | None
    date_offset_minutes: int
    body_text: str
    body_html: str | None
    attachments: list[AttachmentPart]
    content_hash: str
    defects: list[str]
    unparseable: bool
    email: EmailMessage = field(repr=False)
    automatic: object = field(default=_UNSET, repr=False)  # classify() result, filled once
    work_files: list = field(default_factory=list, repr=False)  # decoded large parts, to delete

    @property
    def thread_keys(self) -> list[str]:
        """Message-IDs that tie this message to a thread: its own, then what it answers."""
        keys = [self.message_id] if self.message_id else []
        return keys + [k for k in self.in_reply_to + self.references if k not in keys]


def header_text(msg: EmailMessage, name: str, defects: list[str] | None = None) -> str:
    """A header's decoded text, '' when absent or unreadable."""
    try:
        value = msg.get(name)
    except Exception as exc:  # policy.default raises on some malformed headers
        if defects is not None:
            defects.append(f"{name}: {exc.__class__.__name__}")
        raw = msg.get_all(name, failobj=[]) if hasattr(msg, "get_all") else []
        return str(raw[0]) if raw else ""
    return "" if value is None else str(value).strip()


def raw_header(msg: EmailMessage, name: str) -> str:
    for key, value in msg.raw_items():
        if key.lower() == name.lower():
            return str(value)
    return ""


def message_ids(text: str) -> list[str]:
    found = _MSGID.findall(text or "")
    if not found and text and text.strip() and " " not in text.strip():
        found = [text.strip().strip("<>")]
    return list(dict.fromkeys(found))


def parse_date(text: str) -> tuple[datetime | None, int]:
    if not text:
        return None, 0
    try:
        value = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None, 0
    if value is None:
        return None, 0
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc), 0
    offset = value.utcoffset()
    return value, int(offset.total_seconds() // 60) if offset else 0


def _decoded_text(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except Exception:
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", errors="replace")
    text = content if isinstance(content, str) else content.decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _is_attachment(part: EmailMessage) -> bool:
    if part.get(BLOB_HEADER):
        return True
    disposition = (part.get_content_disposition() or "").lower()
    if disposition == "attachment":
        return True
    if part.get_content_maintype() in ("text",) and not part.get_filename():
        return False
    return part.get_content_maintype() not in ("multipart", "text") or bool(part.get_filename())


def _walk_leaves(msg: EmailMessage):
    """Leaf parts, not descending into attached messages (those are attachments of their own)."""
    if msg.is_multipart():
        for sub in msg.iter_parts():
            yield from _walk_leaves(sub)
    else:
        yield msg


def _bodies_and_attachments(msg: EmailMessage, defects: list[str], work_dir: Path | None):
    text_parts, html_parts, attachments = [], [], []
    for part in _walk_leaves(msg):
        ctype = part.get_content_type()
        try:
            if _is_attachment(part):
                attachments.append(_attachment(part, len(attachments), work_dir))
            elif ctype == "text/plain":
                text_parts.append(_decoded_text(part))
            elif ctype == "text/html":
                html_parts.append(_decoded_text(part))
            elif part.get_content_maintype() == "text":
                attachments.append(_attachment(part, len(attachments), work_dir))
        except Exception as exc:
            defects.append(f"part {ctype}: {exc.__class__.__name__}")
    return text_parts, html_parts, attachments


def _attachment(part: EmailMessage, index: int, work_dir: Path | None) -> AttachmentPart:
    try:
        filename = part.get_filename()
    except Exception:
        filename = None
    if not filename and part.get_content_type() == "message/rfc822":
        filename = "forwarded-message.eml"
    content_id = header_text(part, "Content-ID").strip("<> ") or None
    inline = (part.get_content_disposition() or "") == "inline" or bool(content_id)
    blob_header = part.get(BLOB_HEADER)
    blob = parse_blob_header(str(blob_header), work_dir) if blob_header and work_dir else None
    return AttachmentPart(filename or f"attachment-{index + 1}", part.get_content_type(),
                          content_id, inline, part, blob)


def content_hash(from_: Mailbox | None, date_text: str, subject: str, body: str) -> str:
    basis = "\x1f".join([from_.address or "" if from_ else "", date_text, subject, body.strip()])
    return "sha256:" + hashlib.sha256(basis.encode("utf-8", "surrogatepass")).hexdigest()


def message_id_of(path: Path) -> str | None:
    """Only the Message-ID, from the header block (for messages the full parse failed on)."""
    from email.parser import BytesHeaderParser
    with open_message(path) as f:
        head = f.read(256 * 1024).split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(head)
    return (message_ids(str(headers.get("Message-ID", ""))) or [None])[0]


def parse_file(path: Path, work_dir: Path, prefix: str) -> ParsedMessage:
    """Parse a stored message in bounded memory: large parts are decoded into work files."""
    skeleton, blobs = skeletonize(path, work_dir, prefix)
    parsed = parse_message(skeleton, work_dir)
    parsed.work_files = [blob.path for blob in blobs]
    return parsed


def parse_message(raw: bytes, work_dir: Path | None = None) -> ParsedMessage:
    defects: list[str] = []
    msg = message_from_bytes(raw, policy=POLICY)
    defects.extend(d.__class__.__name__ for d in getattr(msg, "defects", []))
    from_ = parse_mailbox(header_text(msg, "From", defects) or raw_header(msg, "From"))
    subject = header_text(msg, "Subject", defects)
    date_text = header_text(msg, "Date", defects) or raw_header(msg, "Date")
    date, offset = parse_date(date_text)
    text_parts, html_parts, attachments = _bodies_and_attachments(msg, defects, work_dir)
    body_html = "\n".join(html_parts) if html_parts else None
    body_text = "\n".join(text_parts) if text_parts else (html_to_text(body_html) if body_html else "")
    message_id = (message_ids(raw_header(msg, "Message-ID")) or [None])[0]
    return ParsedMessage(
        message_id=message_id,
        in_reply_to=message_ids(raw_header(msg, "In-Reply-To")),
        references=message_ids(raw_header(msg, "References")),
        from_=from_,
        to=parse_mailbox_list(header_text(msg, "To", defects) or raw_header(msg, "To")),
        cc=parse_mailbox_list(header_text(msg, "Cc", defects) or raw_header(msg, "Cc")),
        subject=subject,
        date=date,
        date_offset_minutes=offset,
        body_text=body_text,
        body_html=body_html,
        attachments=attachments,
        content_hash=content_hash(from_, date_text, subject, body_text),
        defects=defects,
        unparseable=not list(msg.keys()),
        email=msg,
    )
