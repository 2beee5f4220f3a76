"""What every classifier reads a message with: bounded, unfolded header values, the sender
addresses, and the first check that gives a reason. Built on `understand.mime` (the one header
reader and part walker); never raises on malformed mail."""

from __future__ import annotations

from collections.abc import Callable
from email.message import Message
from email.utils import getaddresses
from functools import lru_cache
from weakref import ref

from smtp_logger.understand import mime

Check = Callable[[Message], "str | None"]

MAX_HEADER_CHARS = 4000  # every verdict we read sits near the start of its header


def values(msg: Message, name: str) -> list[str]:
    """All values of header ``name`` as decoded text with whitespace runs as one space.

    Only the first MAX_HEADER_CHARS of a value are decoded: a 200 KB encoded-word Subject would
    otherwise cost a second per look.
    """
    found = mime.header_values(msg, name, MAX_HEADER_CHARS)
    return [" ".join(value.split()) for value in found] if found else found


def first_value(msg: Message, name: str) -> str:
    found = values(msg, name)
    return found[0] if found else ""


_last_senders: tuple = (lambda: None, [])  # two checks ask for the same message's senders


def sender_addresses(msg: Message) -> list[tuple[str, str]]:
    """(display name, address) pairs of From and Sender, lower-cased; never raises."""
    global _last_senders
    last_ref, last = _last_senders
    if last_ref() is msg:
        return last
    found = _sender_addresses(msg)
    try:
        _last_senders = (ref(msg), found)
    except TypeError:  # not weakly referenceable: not a Message
        pass
    return found


def _sender_addresses(msg: Message) -> list[tuple[str, str]]:
    raw = tuple(values(msg, "from") + values(msg, "sender"))
    if sum(map(len, raw)) > CACHED_SENDER_CHARS:
        return _pairs(raw)
    return list(_cached_pairs(raw))


def _pairs(raw: tuple[str, ...]) -> list[tuple[str, str]]:
    try:
        pairs = getaddresses(raw)
    except Exception:
        pairs = [("", value) for value in raw]
    return [(name.strip().lower(), addr.strip().lower()) for name, addr in pairs]


# The same senders write message after message: their From lines' pairs are remembered (the
# lines up to CACHED_SENDER_CHARS, so hostile mail cannot fill memory with huge ones).
CACHED_SENDER_CHARS = 2000
_cached_pairs = lru_cache(maxsize=1024)(lambda raw: tuple(_pairs(raw)))


def own_parts(msg: Message):
    """The message and its MIME parts, without entering enclosed messages (a forward or a bounce
    carries the original as message/rfc822: what the original is says nothing of the carrier)."""
    return (part for part, _parent in mime.walk(msg))


def first_reason(msg: Message, checks: list[Check]) -> str | None:
    for check in checks:
        try:
            reason = check(msg)
        except Exception:  # a broken message must not break the decision
            reason = None
        if reason:
            return reason
    return None
