"""Sender and recipient values of a forwarded header block, as clients print them.

Owns the cleanup that happens before `smtp_logger.understand.addresses` parses an address: Outlook's
`addr<mailto:addr>` echoes, `[mailto:addr]`, "on behalf of", `(addr)`, unquoted names with
commas, and name-only entries (kept as `Mailbox(name, None)`). Never raises.
"""

from __future__ import annotations

import re

from smtp_logger.understand.addresses import Mailbox, parse_mailbox

_MAILTO_ECHO = re.compile(r"(?<=[^\s<\[])[<\[]mailto:[^<>\[\]\s]{1,300}[>\]]", re.IGNORECASE)
_MAILTO_BRACKET = re.compile(r"[<\[]mailto:([^<>\[\]\s]{1,300})[>\]]", re.IGNORECASE)
_SQUARE_ADDRESS = re.compile(r"\[([^\[\]\s]{1,300}@[^\[\]\s]{1,300})\]")
_PAREN_ADDRESS = re.compile(r"\(\s?<?([^()<>\s]{1,300}@[^()<>\s]{1,300}?)>?\s?\)")
_ON_BEHALF = re.compile(r"\s+(?:on behalf of|im Auftrag von|de la part de|en nombre de|per conto di)\s.*$", re.IGNORECASE)
_BARE_ADDRESS = re.compile(r"^[^\s@<>\"',;]{1,200}@[^\s@<>\"',;]{1,200}\.[^\s@<>\"',;]{1,60}$")
_ANGLE = re.compile(r"^(?P<name>.*?)\s*<(?P<address>[^<>]*@[^<>]*)>\s*$", re.DOTALL)
_NAME_QUOTES = "\"'«»„”“* \t"  # Gmail's text part shows the sender name as *Name*
_MAX_VALUE = 5000


def clean_value(value: str) -> str:
    """Canonical `Name <addr>` spelling for the Outlook/Hungarian/Slovak variants."""
    value = value[:_MAX_VALUE]
    value = _MAILTO_ECHO.sub("", value)
    value = _MAILTO_BRACKET.sub(r"<\1>", value)
    value = _SQUARE_ADDRESS.sub(r"<\1>", value)
    value = _PAREN_ADDRESS.sub(r"<\1>", value)
    return value.strip()


def _mailbox(item: str) -> Mailbox | None:
    item = _ON_BEHALF.sub("", item.strip()).strip().strip(",;").strip()
    if not item:
        return None
    if "@" not in item:
        name = item.strip(_NAME_QUOTES)
        return Mailbox(name, None) if name else None
    angle = _ANGLE.match(item)
    if angle:
        name = angle.group("name").strip(_NAME_QUOTES).replace("\\", "").replace('"', "")
        address = angle.group("address").strip()
        quoted = f'"{name}" <{address}>' if name else f"<{address}>"
        return parse_mailbox(quoted) or parse_mailbox(f"<{address}>")
    if _BARE_ADDRESS.match(item.strip(_NAME_QUOTES)):
        return parse_mailbox(item.strip(_NAME_QUOTES))
    return parse_mailbox(item)


def split_mailboxes(value: str) -> list[str]:
    """Split on ',' / ';' outside quotes and brackets, but only once an entry holds an address.

    "Doe, John <j@x>, Ann <a@x>" gives two entries; a list without any '@' is split on ';' only
    (Outlook prints "Doe, John; Roe, Ann" for address-book names).
    """
    has_address = "@" in value
    items, current, quote, depth = [], [], None, 0
    for char in value:
        if quote:
            quote = None if char == quote else quote
        elif char in "\"“„«":
            quote = {"“": "”", "„": "”", "«": "»"}.get(char, char)
        elif char in "<[(":
            depth += 1
        elif char in ">])":
            depth = max(0, depth - 1)
        elif depth == 0 and char in ",;":
            text = "".join(current)
            if char == ";" or (has_address and "@" in text):
                if text.strip():
                    items.append(text)
                current = []
                continue
        current.append(char)
    if "".join(current).strip():
        items.append("".join(current))
    return items


def parse_sender(value: str | None) -> Mailbox | None:
    if not value or not value.strip():
        return None
    items = split_mailboxes(clean_value(value))
    return _mailbox(items[0]) if items else None


def parse_recipients(value: str | None) -> list[Mailbox]:
    if not value or not value.strip():
        return []
    boxes = (_mailbox(item) for item in split_mailboxes(clean_value(value)))
    return [box for box in boxes if box is not None]
