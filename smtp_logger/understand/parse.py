"""Parse raw RFC 5322 bytes into a `ParsedMessage`: plain data the rules can read.

Uses the standard library's `email` package (mime.POLICY) through `mime`, so it never raises on
a bad header or part: a header the package cannot parse is read from its raw text, a part that
cannot be decoded is skipped and noted in `defects`; a message without headers is `unparseable`.
`body_text` joins every text/plain part, an attached message's (message/rfc822) included, and the
attached message's files are attachments (see mime.bodies). Reads the stored message and writes
its large parts' work files (largeparts); no database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from functools import cached_property
from pathlib import Path

from smtp_logger.base.spoolfile import open_message
from smtp_logger.understand import mime
from smtp_logger.understand.addresses import Mailbox, parse_mailbox, parse_mailbox_list, simple_mailboxes
from smtp_logger.understand.classify import classify
from smtp_logger.understand.contenthash import content_hash
from smtp_logger.understand.largeparts import BLOB_HEADER, Blob, parse_blob_header, skeletonize


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
    date_text: str  # the Date header as written (the content hash normalises it)
    defects: list[str]
    unparseable: bool
    email: EmailMessage = field(repr=False)
    work_files: list = field(default_factory=list, repr=False)  # decoded large parts, to delete

    @property
    def thread_keys(self) -> list[str]:
        """Message-IDs that tie this message to a thread: its own, then what it answers."""
        keys = [self.message_id] if self.message_id else []
        return keys + [k for k in self.in_reply_to + self.references if k not in keys]

    @cached_property
    def content_hash(self) -> str:
        """The dedup key without a Message-ID (understand.contenthash): worked out only for the
        messages that need it."""
        return content_hash(self.from_, self.date_text, self.subject, self.body_text)

    @cached_property
    def automatic(self) -> tuple[str, str] | None:
        """classify()'s verdict on the message itself, worked out once however many logging
        addresses the delivery went to."""
        return classify(self.email)


def parse_date(text: str) -> tuple[datetime | None, int]:
    """An RFC 5322 Date header as an aware datetime (UTC when it names no zone) and its offset."""
    value = mime.header_date(text)
    if value is None:
        return None, 0
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc), 0
    offset = value.utcoffset()
    return value, int(offset.total_seconds() // 60) if offset else 0


def _sender(msg: Message) -> Mailbox | None:
    simple = simple_mailboxes(mime.raw_header(msg, "From"))
    if simple is not None and len(simple) == 1:
        return simple[0]
    return parse_mailbox(mime.header_text(msg, "From"))


def _recipients(msg: Message, name: str) -> list[Mailbox]:
    simple = simple_mailboxes(mime.raw_header(msg, name))
    return list(simple) if simple is not None else parse_mailbox_list(mime.header_text(msg, name))


def _attachment(part: Message, index: int, work_dir: Path | None) -> AttachmentPart:
    try:
        filename = part.get_filename()
    except Exception:
        filename = None
    if not filename and part.get_content_type() == "message/rfc822":
        filename = "forwarded-message.eml"  # one the email package left unparsed (a parsed one is walked)
    content_id = mime.header_text(part, "Content-ID").strip("<> ") or None
    inline = (part.get_content_disposition() or "") == "inline" or bool(content_id)
    blob_header = part.get(BLOB_HEADER)
    blob = parse_blob_header(str(blob_header), work_dir) if blob_header and work_dir else None
    return AttachmentPart(filename or f"attachment-{index + 1}", part.get_content_type(),
                          content_id, inline, part, blob)


def _attachments(parts: list[Message], defects: list[str], work_dir: Path | None) -> list[AttachmentPart]:
    attachments: list[AttachmentPart] = []
    for part in parts:
        try:
            attachments.append(_attachment(part, len(attachments), work_dir))
        except Exception as exc:
            defects.append(f"part {mime.content_type(part)}: {exc.__class__.__name__}")
    return attachments


def message_id_of(path: Path) -> str | None:
    """Only the Message-ID, from the header block (for messages the full parse failed on)."""
    from email.parser import BytesHeaderParser
    with open_message(path) as f:
        head = f.read(256 * 1024).split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(head)
    return (mime.message_ids(str(headers.get("Message-ID", ""))) or [None])[0]


def parse_file(path: Path, work_dir: Path, prefix: str) -> ParsedMessage:
    """Parse a stored message in bounded memory: large parts are decoded into work files."""
    skeleton, blobs = skeletonize(path, work_dir, prefix)
    parsed = parse_message(skeleton, work_dir)
    parsed.work_files = [blob.path for blob in blobs]
    return parsed


def parse_message(raw: bytes, work_dir: Path | None = None) -> ParsedMessage:
    """The message in `raw` (a skeleton from largeparts when `work_dir` holds its large parts)."""
    msg = message_from_bytes(raw, policy=mime.POLICY)
    defects = [d.__class__.__name__ for d in getattr(msg, "defects", [])]
    from_ = _sender(msg)
    subject = mime.header_text(msg, "Subject")
    date_text = mime.header_text(msg, "Date")
    date, offset = parse_date(date_text)
    parts = mime.bodies(msg, into_messages=True)
    defects.extend(parts.defects)
    body_text = parts.text
    return ParsedMessage(
        message_id=(mime.message_ids(mime.raw_header(msg, "Message-ID")) or [None])[0],
        in_reply_to=mime.message_ids(mime.raw_header(msg, "In-Reply-To")),
        references=mime.message_ids(mime.raw_header(msg, "References")),
        from_=from_,
        to=_recipients(msg, "To"),
        cc=_recipients(msg, "Cc"),
        subject=subject,
        date=date,
        date_offset_minutes=offset,
        body_text=body_text,
        body_html=parts.html,
        attachments=_attachments(parts.attachments, defects, work_dir),
        date_text=date_text,
        defects=defects,
        unparseable=not list(msg.keys()),
        email=msg,
    )
