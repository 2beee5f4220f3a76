"""Safe reads from `email.message` objects: header text, part text, a bounded part walk.

Owns the defensive side of MIME (broken encodings, unknown charsets, endless nesting) so the
forward parsers never see an exception from the email package. Reads only; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator
from email.header import decode_header, make_header
from email.message import Message

MAX_PARTS = 500


def header_text(msg: Message, name: str) -> str | None:
    """A header's decoded text, or None; falls back to the raw value when parsing fails."""
    try:
        value = msg.get(name)
        return None if value is None else str(value)
    except Exception:  # policy.default header classes raise on malformed values
        pass
    for key, raw in getattr(msg, "raw_items", lambda: [])():
        if key.lower() == name.lower():
            try:
                return str(make_header(decode_header(str(raw))))
            except Exception:
                return str(raw)
    return None


def part_text(part: Message) -> str:
    """The decoded text of a text/* part, whatever its declared charset."""
    try:
        content = part.get_content()
        if isinstance(content, str):
            return content
    except Exception:  # unknown charset, bad base64, ...
        pass
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return payload if isinstance(payload, str) else ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("latin-1")


def iter_parts(msg: Message) -> Iterator[tuple[Message, str | None]]:
    """(part, parent content type) depth-first, not entering enclosed messages (message/*)."""
    stack: list[tuple[Message, str | None]] = [(msg, None)]
    seen = 0
    while stack and seen < MAX_PARTS:
        part, parent = stack.pop()
        seen += 1
        yield part, parent
        if part.get_content_maintype() == "multipart":
            children = part.get_payload()
            if isinstance(children, list):
                kind = part.get_content_type()
                stack.extend((child, kind) for child in reversed(children) if isinstance(child, Message))
