"""Email addresses: parsing messy To/Cc/From lines into `Mailbox` values.

The one place that knows about flanker (barely maintained, noisy at import); everything else
uses `Mailbox`, `parse_mailbox` and `parse_mailbox_list`, so the parser stays swappable.
Never raises on bad input: what cannot be parsed is dropped (lists) or returned as None.
"""

from __future__ import annotations

import logging
import re
import warnings
from dataclasses import dataclass
from email.utils import getaddresses
from functools import lru_cache

# flanker warns on every unparseable token, and at import its PLY grammar reports ~28 "Symbol
# ... is unreachable" lines whenever it (re)builds its parse tables: on a first start, or on
# every start where site-packages is read-only. Those go to its loggers before any logging is
# set up, which Python then prints on stderr. Silence them before the import (a NullHandler, so
# Python's last-resort handler is not used) and again after it (the lexer resets its level).
_FLANKER_LOGGERS = ("flanker", "flanker.addresslib._parser.lexer", "flanker.addresslib._parser.parser",
                    "flanker.addresslib.address")


def _silence_flanker() -> None:
    for name in _FLANKER_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(logging.CRITICAL)
        logger.propagate = False
        if not logger.handlers:
            logger.addHandler(logging.NullHandler())


@lru_cache(maxsize=1)
def _flanker():
    """flanker's address module, imported on first use (0.3 s and 20 MB: a process that only
    answers SMTP never needs it). `warm()` imports it ahead, as a worker process does."""
    _silence_flanker()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from flanker.addresslib import address
    _silence_flanker()
    return address


def warm() -> None:
    _flanker()

_LIST_SPLIT = re.compile(r"""[,;](?=(?:[^"]*"[^"]*")*[^"]*$)""")


@dataclass(frozen=True, slots=True)
class Mailbox:
    """A display name (or None) and an address (lower-cased domain; None when only a name was given)."""

    name: str | None
    address: str | None

    def __str__(self) -> str:
        if self.name and self.address:
            return f"{self.name} <{self.address}>"
        return self.address or self.name or ""


def normalize_address(address: str) -> str:
    """Lower-case an address for comparison and storage (local parts are case-insensitive in practice)."""
    return address.strip().strip("<>").strip().lower()


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


def is_valid_address(text: str) -> bool:
    return parse_mailbox(text) is not None and "@" in text


def _mailbox_from_flanker(parsed) -> Mailbox | None:
    if getattr(parsed, "addr_type", "email") != "email":
        return None
    address = normalize_address(parsed.address)
    name = (parsed.display_name or "").strip().strip('"').strip() or None
    if name and normalize_address(name) == address:
        name = None
    return Mailbox(name=name, address=address)


def _fallback(text: str) -> list[Mailbox]:
    boxes = []
    for name, addr in getaddresses([text]):
        if "@" in addr:
            nm = name.strip() or None
            address = normalize_address(addr)
            boxes.append(Mailbox(None if nm and normalize_address(nm) == address else nm, address))
    return boxes


# Parsing is pure and flanker's parser costs ~0.2 ms a line, while the same From and To lines
# come back message after message (a salesperson, their customers): results are remembered,
# for lines up to CACHED_LINE_CHARS (so hostile mail cannot fill memory with huge ones).
CACHED_LINES = 4096
CACHED_LINE_CHARS = 2000


def parse_mailbox(text: str | None) -> Mailbox | None:
    """One address with optional display name, or None."""
    if not text or not text.strip():
        return None
    return _cached_mailbox(text) if len(text) <= CACHED_LINE_CHARS else _mailbox(text)


def parse_mailbox_list(text: str | None) -> list[Mailbox]:
    """Every parseable mailbox in a To/Cc-like line, in order; unparseable items are skipped."""
    if not text or not text.strip():
        return []
    return list(_cached_mailboxes(text) if len(text) <= CACHED_LINE_CHARS else _mailboxes(text))


def _mailbox(text: str) -> Mailbox | None:
    try:
        parsed = _flanker().parse(text.strip())
    except Exception:  # flanker may raise on pathological input
        parsed = None
    if parsed is not None:
        return _mailbox_from_flanker(parsed)
    fallback = _fallback(text)
    return fallback[0] if fallback else None


def _mailboxes(text: str) -> tuple[Mailbox, ...]:
    try:
        parsed, unparsed = _flanker().parse_list(text, as_tuple=True)
    except Exception:
        parsed, unparsed = [], [text]
    if not unparsed:
        boxes = [_mailbox_from_flanker(p) for p in parsed]
        return tuple(b for b in boxes if b is not None)
    boxes = []
    for item in _LIST_SPLIT.split(text):
        box = parse_mailbox(item)
        if box is not None:
            boxes.append(box)
    return tuple(boxes)


_cached_mailbox = lru_cache(maxsize=CACHED_LINES)(_mailbox)
_cached_mailboxes = lru_cache(maxsize=CACHED_LINES)(_mailboxes)


# The header lines most mail carries, 'Jane Roe <jane@x.example>, bob@y.example', as a header's
# raw value: plain ASCII names and addresses, whose parse is known without flanker or the email
# package's header parser (which renders the line for flanker to parse again). Anything else
# (quotes, comments, encoded words, folding, other characters) is parsed as before.
_ATOM = r"[A-Za-z0-9_+-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_SIMPLE_ADDRESS = rf"{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}"
_SIMPLE_ITEM = re.compile(
    rf"(?:(?P<name>[A-Za-z0-9]+(?: [A-Za-z0-9]+)*) <(?P<named>{_SIMPLE_ADDRESS})>"
    rf"|<(?P<angled>{_SIMPLE_ADDRESS})>|(?P<bare>{_SIMPLE_ADDRESS}))")
SIMPLE_LINE_CHARS = 1000


def simple_mailboxes(raw: str) -> tuple[Mailbox, ...] | None:
    """The mailboxes of a raw From/To/Cc value in the plain form above, as `parse_mailbox_list`
    gives them for the header's decoded text; None when the value has any other form."""
    if len(raw) > SIMPLE_LINE_CHARS or not raw.isascii():
        return None
    boxes = []
    for item in raw.split(", "):
        match = _SIMPLE_ITEM.fullmatch(item)
        if match is None:
            return None
        address = match.group("named") or match.group("angled") or match.group("bare")
        if len(address.partition("@")[0]) > 64 or len(address) > 254:
            return None
        address = address.lower()
        name = match.group("name")
        boxes.append(Mailbox(None if name and name.lower() == address else name, address))
    return tuple(boxes)
