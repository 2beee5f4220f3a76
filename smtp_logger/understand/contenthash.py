"""The dedup key of a message that has no Message-ID: a hash of what its reader sees.

Owns `content_hash`, the one key for BCC, automatic copies and originals found in forwards, so the
same email is one email however it came in. Only what survives transport and forwarding counts:
line ends, trailing whitespace, header folding and the spelling of the date do not. Pure.
"""

from __future__ import annotations

import hashlib
from datetime import timezone

from smtp_logger.understand.addresses import Mailbox
from smtp_logger.understand.mime import header_date

_TRAILING_SPACE = " \t\u00a0"


def _date_key(date_text: str) -> str:
    """An RFC 5322 date as its UTC instant; other text (a forward's display date) as written."""
    text = " ".join(date_text.split())
    value = header_date(text)
    if value is None:
        return text
    if value.tzinfo is None:
        return value.isoformat()
    return value.astimezone(timezone.utc).isoformat()


def body_key(body: str) -> str:
    """The body as the reader sees it: LF line ends, no trailing whitespace, no blank edges."""
    text = body.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    if any(f"{space}\n" in text for space in _TRAILING_SPACE):  # most bodies have none: skip the split
        text = "\n".join(line.rstrip(_TRAILING_SPACE) for line in text.split("\n"))
    return text.strip()


def content_hash(sender: Mailbox | None, date_text: str | None, subject: str, body: str) -> str:
    """"sha256:<hex>" over sender (address, else name), date, subject and body, each normalised."""
    who = (sender.address or sender.name or "") if sender else ""
    basis = "\x1f".join([
        who.strip().lower(), _date_key(date_text or ""), " ".join((subject or "").split()),
        body_key(body or ""),
    ])
    return "sha256:" + hashlib.sha256(basis.encode("utf-8", "surrogatepass")).hexdigest()
