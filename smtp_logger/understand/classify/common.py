"""Safe, bounded reads of headers and MIME parts for the classifiers: never raises on
malformed mail, decodes at most the first few thousand characters of a header."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from email.message import Message
from email.utils import getaddresses
from weakref import WeakKeyDictionary

Check = Callable[[Message], "str | None"]

# --------------------------------------------------------------------------- safe access


def _unfold(value: str) -> str:
    return re.sub(r"\s+", " ", value).strip()


MAX_HEADER_CHARS = 4000  # every verdict we read sits near the start of its header


def _headers(msg: Message, name: str) -> list[str]:
    """All values of header ``name`` as decoded text (first MAX_HEADER_CHARS); never raises.

    policy.default parses headers lazily and raises on some broken ones; we fall back to
    the raw (undecoded) value then. Long values are cut before decoding: a 200 KB
    encoded-word Subject would otherwise cost a second per look. (The parser's policy keeps
    parsed headers, see parse.POLICY; here the fields are only found by name.)
    """
    values: list[str] = []
    for key, raw in _fields_by_name(msg).get(name.lower(), ()):
        try:
            value = str(msg.policy.header_fetch_parse(key, raw))
        except Exception:
            value = raw
        values.append(_unfold(value))
    return values


# The classifiers ask a message for 30-odd header names, most of them absent: its fields are
# indexed by name once per message instead of walked for every name.
_fields: "WeakKeyDictionary[Message, dict[str, list[tuple[str, str]]]]" = WeakKeyDictionary()


def _fields_by_name(msg: Message) -> dict[str, list[tuple[str, str]]]:
    """The message's header fields by lower-cased name, each value cut to MAX_HEADER_CHARS."""
    by_name = _fields.get(msg)
    if by_name is not None:
        return by_name
    by_name = _fields[msg] = {}
    try:
        items = list(msg.raw_items())
    except Exception:
        return by_name
    for key, raw in items:
        if isinstance(key, str):
            by_name.setdefault(key.lower(), []).append((key, str(raw)[:MAX_HEADER_CHARS]))
    return by_name


def _header(msg: Message, name: str) -> str:
    values = _headers(msg, name)
    return values[0] if values else ""


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "text/plain"


def _param(part: Message, param: str) -> str:
    try:
        value = part.get_param(param, header="content-type")
    except Exception:
        return ""
    if isinstance(value, tuple):  # RFC 2231 (charset, language, text)
        value = value[2]
    return str(value or "").strip().strip('"').lower()


def _own_parts(msg: Message, limit: int = 500) -> Iterator[Message]:
    """The message and its MIME parts, without descending into enclosed messages.

    A forward or a bounce carries the original as message/rfc822; what the original is
    says nothing about what the enclosing message is.
    """
    stack = [msg]
    seen = 0
    while stack and seen < limit:
        part = stack.pop(0)
        seen += 1
        yield part
        if _content_type(part).startswith("message/"):
            continue
        try:
            children = part.get_payload() if part.is_multipart() else []
        except Exception:
            children = []
        if isinstance(children, list):
            stack.extend(child for child in children if isinstance(child, Message))


def _sender_addresses(msg: Message) -> list[tuple[str, str]]:
    """(display name, address) pairs of From and Sender, lower-cased; never raises."""
    raw = _headers(msg, "from") + _headers(msg, "sender")
    try:
        pairs = getaddresses(raw)
    except Exception:
        pairs = [("", value) for value in raw]
    return [(name.strip().lower(), addr.strip().lower()) for name, addr in pairs]


def _first_match(msg: Message, checks: list[Check]) -> str | None:
    for check in checks:
        try:
            reason = check(msg)
        except Exception:  # a broken message must not break the decision
            reason = None
        if reason:
            return reason
    return None


