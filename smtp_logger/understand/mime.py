"""Safe reads from `email.message` objects: the one header reader, part walker, body/attachment
split and enclosed-message extractor that parse, forwards and classify all use.

Owns the defensive side of MIME (headers the email package cannot parse, unknown charsets, bad
transfer encodings, endless nesting): callers never see an exception from the email package, and
a walk never visits more than MAX_PARTS parts. Reads the message object only; no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.headerregistry import HeaderRegistry, UnstructuredHeader
from email.message import Message
from email.utils import parsedate_to_datetime
from functools import lru_cache
from weakref import WeakKeyDictionary, ref

from smtp_logger.understand.htmltext import html_to_text
from smtp_logger.understand.largeparts import BLOB_HEADER

MAX_PARTS = 500  # a verdict or an enclosed original sits near the top: walks for them stop here
WHOLE_MESSAGE_TYPES = ("message/rfc822", "message/global")
HEADER_BLOCK_TYPES = ("text/rfc822-headers", "message/global-headers")
ENCLOSED_TYPES = WHOLE_MESSAGE_TYPES + HEADER_BLOCK_TYPES
_MSGID = re.compile(r"<([^<>\s]+)>")


class CachingHeaderRegistry(HeaderRegistry):
    """policy.default parses a header again on every access (classify, forwards and the rules
    read the same few headers many times): keep the parsed (immutable) header objects."""

    def __init__(self):
        super().__init__()
        self.cache: dict[tuple[str, str], object] = {}

    def __call__(self, name, value):
        key = (name.lower(), value)
        header = self.cache.get(key)
        if header is None:
            if len(self.cache) > 20_000:
                self.cache.clear()
            header = self.cache[key] = super().__call__(name, value)
        return header


POLICY = policy.default.clone(header_factory=CachingHeaderRegistry())  # every message is parsed with it

# --------------------------------------------------------------------------- headers

# Readers ask a message for 30-odd header names, most of them absent: its fields are indexed by
# name once per message instead of walked for every name (so a message is read as it was when
# first read: nothing here changes one).
_fields: WeakKeyDictionary[Message, dict[str, list[tuple[str, str]]]] = WeakKeyDictionary()
_last: tuple = (lambda: None, {})  # (weak reference to the message read last, its index): no lookup


def _fields_by_name(msg: Message) -> dict[str, list[tuple[str, str]]]:
    global _last
    last_ref, last_index = _last
    if last_ref() is msg:
        return last_index
    try:
        by_name = _fields.get(msg)
    except TypeError:  # not weakly referenceable: not a Message
        return _index(msg)
    if by_name is None:
        by_name = _fields[msg] = _index(msg)
    _last = (ref(msg), by_name)
    return by_name


def _index(msg: Message) -> dict[str, list[tuple[str, str]]]:
    by_name: dict[str, list[tuple[str, str]]] = {}
    try:
        items = list(msg.raw_items())
    except Exception:  # not a Message, or one without raw items
        return by_name
    for key, raw in items:
        if isinstance(key, str):
            by_name.setdefault(key.lower(), []).append((key, str(raw)))
    return by_name


_PLAIN_TEXT = re.compile(r"[\t\x20-\x7e]*")  # printable ASCII: no encoded word, folding or 8-bit text


@lru_cache(maxsize=256)
def _is_unstructured(key: str) -> bool:
    """Header `key` is parsed by POLICY as unstructured text (Subject, X-…, and the like)."""
    registry = POLICY.header_factory
    return issubclass(registry.registry.get(key.lower(), registry.default_class), UnstructuredHeader)


def _decoded(msg: Message, key: str, raw: str) -> str:
    if msg.policy is POLICY and "=?" not in raw and _PLAIN_TEXT.fullmatch(raw) and _is_unstructured(key):
        return raw  # what the header parser would give back, without parsing it
    try:
        return str(msg.policy.header_fetch_parse(key, raw))
    except Exception:  # policy.default's header classes raise on some malformed values
        pass
    try:
        return str(make_header(decode_header(raw)))
    except Exception:
        return raw


def header_values(msg: Message, name: str, max_chars: int | None = None) -> list[str]:
    """Every value of header `name` as decoded text, in order; never raises.

    A value the email package cannot parse is decoded from its raw text (encoded words) instead.
    `max_chars` cuts a value before it is decoded (a 200 KB Subject would cost a second a look).
    """
    fields = _fields_by_name(msg).get(name.lower())
    if not fields:
        return []
    if max_chars is None:
        return [_decoded(msg, key, raw) for key, raw in fields]
    return [_decoded(msg, key, raw[:max_chars]) for key, raw in fields]


def header_text(msg: Message, name: str) -> str:
    """The first value of header `name`, decoded and stripped; '' when absent."""
    values = header_values(msg, name)
    return values[0].strip() if values else ""


def raw_header(msg: Message, name: str) -> str:
    """The first value of header `name` exactly as it came (not decoded); '' when absent."""
    fields = _fields_by_name(msg).get(name.lower())
    return fields[0][1] if fields else ""


def message_ids(text: str | None) -> list[str]:
    """The Message-IDs in a Message-ID / In-Reply-To / References value, without <>, in order."""
    found = _MSGID.findall(text or "")
    if not found and text and text.strip() and " " not in text.strip():
        found = [text.strip().strip("<>")]
    return list(dict.fromkeys(found))


@lru_cache(maxsize=1024)  # parse and the content hash read the same Date one after the other
def header_date(text: str) -> datetime | None:
    """An RFC 5322 date (a Date header's value): aware when it names a zone, None if unreadable."""
    try:
        return parsedate_to_datetime(text) if text else None
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "text/plain"


def content_param(part: Message, param: str) -> str:
    """A Content-Type parameter, unquoted and lower-cased ('' when absent or unreadable)."""
    try:
        value = part.get_param(param, header="content-type")
    except Exception:
        return ""
    if isinstance(value, tuple):  # RFC 2231 (charset, language, text)
        value = value[2]
    return str(value or "").strip().strip('"').lower()


# --------------------------------------------------------------------------- parts


def walk(msg: Message, into_messages: bool = False,
         limit: int | None = MAX_PARTS) -> Iterator[tuple[Message, str | None]]:
    """(part, parent content type) depth first, the message itself first, at most `limit` parts.

    Enclosed messages (message/rfc822, message/global, a delivery-status's header blocks) are
    entered only with `into_messages`: what a forward or a bounce encloses says nothing about the
    enclosing message, but its text is part of the message's own body.
    """
    stack: list[tuple[Message, str | None]] = [(msg, None)]
    seen = 0
    while stack and (limit is None or seen < limit):
        part, parent = stack.pop()
        seen += 1
        yield part, parent
        if not part.is_multipart():
            continue
        kind = content_type(part)
        if not into_messages and kind.startswith("message/"):
            continue
        children = part.get_payload()
        if isinstance(children, list):
            stack.extend((child, kind) for child in reversed(children) if isinstance(child, Message))


def part_text(part: Message) -> str:
    """The decoded text of a text/* part whatever its declared charset, with LF line ends."""
    try:
        content = part.get_content()
    except Exception:  # unknown charset, bad base64, ...
        content = None
    if not isinstance(content, str):
        content = _payload_text(part)
    return content.replace("\r\n", "\n").replace("\r", "\n")


def _payload_text(part: Message) -> str:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if not isinstance(payload, bytes):
        return payload if isinstance(payload, str) else ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def is_attachment(part: Message) -> bool:
    """A leaf part that is a file, not body text: moved out (large), disposition attachment, or
    anything but text without a file name."""
    if part.get(BLOB_HEADER):
        return True
    if (part.get_content_disposition() or "").lower() == "attachment":
        return True
    maintype = part.get_content_maintype()
    if maintype == "text" and not part.get_filename():
        return False
    return maintype not in ("multipart", "text") or bool(part.get_filename())


@dataclass
class Bodies:
    """A message's leaf parts split into body text, HTML body and attachments."""

    texts: list[str] = field(default_factory=list)
    htmls: list[str] = field(default_factory=list)
    attachments: list[Message] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)

    @property
    def html(self) -> str | None:
        return "\n".join(self.htmls) if self.htmls else None

    @property
    def text(self) -> str:
        """The text/plain parts joined, or the HTML body as text when there is none."""
        if self.texts:
            return "\n".join(self.texts)
        return html_to_text(self.html) if self.htmls else ""


def bodies(msg: Message, into_messages: bool = True) -> Bodies:
    """Every leaf part of `msg` as body text, HTML body or attachment, in order.

    text/plain and text/html parts are bodies, other text/* parts and everything with a file
    name or `attachment` disposition are attachments. With `into_messages` (what parse does) an
    enclosed message's text joins the body and its files the attachments; the enclosed message
    itself is not an attachment then, unless it could not be parsed as a message.
    """
    found = Bodies()
    # Every part: the email package has built them all already (largeparts bounds stored mail).
    for part, _parent in walk(msg, into_messages, limit=None):
        if part.is_multipart():
            continue
        kind = content_type(part)
        try:
            if is_attachment(part) or (part.get_content_maintype() == "text"
                                       and kind not in ("text/plain", "text/html")):
                found.attachments.append(part)
            elif kind == "text/plain":
                found.texts.append(part_text(part))
            elif kind == "text/html":
                found.htmls.append(part_text(part))
        except Exception as exc:
            found.defects.append(f"part {kind}: {exc.__class__.__name__}")
    return found


# --------------------------------------------------------------------------- enclosed messages


def enclosed_message(part: Message) -> Message | None:
    """The message inside a message/rfc822 or message/global part, or the header block of a
    text/rfc822-headers / message/global-headers part; None when there is none."""
    try:
        payload = part.get_payload()
        if isinstance(payload, list):
            inner = payload[0] if payload else None
            return inner if isinstance(inner, Message) else None
        raw = part.get_payload(decode=True)  # base64 message/global, the *-headers types
        if isinstance(raw, bytes) and raw.strip():
            return message_from_bytes(raw, policy=part.policy)
    except Exception:
        pass
    return None


def first_enclosed_message(msg: Message) -> Message | None:
    """The first whole message enclosed in `msg` (message/rfc822 or message/global; `msg` may be
    one itself), not the items of a multipart/digest (a list of messages, not a forward of one)."""
    for part, parent in walk(msg):
        if content_type(part) in WHOLE_MESSAGE_TYPES and parent != "multipart/digest":
            inner = enclosed_message(part)
            if inner is not None:
                return inner
    return None
