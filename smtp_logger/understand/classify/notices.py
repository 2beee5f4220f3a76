"""Our own notices coming back: recognised by the trace header every notice carries
(NOTICE_HEADER), on the message itself, on a message it encloses (a forward as attachment, a
bounce's returned headers), or written in a forwarded text (the notice prints it in its footer).
Such mail is never logged and never answered (OWN_NOTICE, first in the rules; decide/notices.py
has no notice for it). Pure; never raises; reads at most the first PART_LIMIT parts.
"""

from __future__ import annotations

import re
from email.message import Message

NOTICE_HEADER = "X-Smtp-Logger-Notice"  # the one name: the notices set it, this module reads it
PART_LIMIT = 200
TEXT_LIMIT = 1_000_000  # characters of one text part searched for the footer line
_MARKER = re.compile(re.escape(NOTICE_HEADER) + r"\s*:\s*([A-Za-z0-9._-]{1,64})", re.IGNORECASE)
_TEXTUAL = ("text/plain", "text/html", "text/rfc822-headers", "message/rfc822-headers")
_ENCLOSING = ("message/rfc822", "message/global")
_NAME = "Smtp-Logger-Notice"  # as the footer prints it: a cheap look before the search


def _text_of(part: Message) -> str:
    """The part's text, decoded only when it may hold the footer line: a 7/8-bit or
    quoted-printable part is first searched as it is (the footer line is short, so
    quoted-printable keeps it whole), base64 is always decoded."""
    payload = part.get_payload()
    if not isinstance(payload, str):
        return ""
    encoding = str(part.get("content-transfer-encoding", "")).strip().lower()
    if encoding != "base64":
        return payload[:TEXT_LIMIT] if _NAME in payload else ""
    return (part.get_payload(decode=True) or b"")[:TEXT_LIMIT].decode("utf-8", "replace")


def _header_reference(msg) -> str | None:
    value = str(msg.get(NOTICE_HEADER) or "").split() if isinstance(msg, Message) else []
    return value[0][:64] if value else None


def _reference_in(part: Message) -> str | None:
    """Our header on an enclosed message, or the footer line in a text part."""
    try:
        ctype = part.get_content_type()
        if ctype in _ENCLOSING:
            inner = part.get_payload()
            return _header_reference(inner[0] if isinstance(inner, list) and inner else inner)
        if ctype in _TEXTUAL:
            found = _MARKER.search(_text_of(part))
            return found.group(1) if found else None
    except Exception:  # a broken part is not one of ours
        return None
    return None


def notice_reference(msg: Message) -> str | None:
    """The id of the notice of ours this message is or carries, else None."""
    try:
        reference = _header_reference(msg)
        for count, part in enumerate(msg.walk()):  # walk() descends into enclosed messages
            if reference or count >= PART_LIMIT:
                break
            reference = _reference_in(part)
        return reference
    except Exception:  # a structure too broken to walk is not one of ours
        return None


def detect_own_notice(msg: Message) -> str | None:
    """A short reason when `msg` is (or carries) one of our notices."""
    reference = notice_reference(msg)
    return f"our own notice {reference} came back" if reference else None
