"""`find_original`: the original message of a whole forwarded email.

Owns the order of attempts (an attached message/rfc822 first, then the inline block of the
text/plain body, then of the HTML body converted to text) and refuses delivery reports and
auto-generated mail, which also carry originals but are not forwards. Reads only the message object.
"""

from __future__ import annotations

import email
from email import policy
from email.message import EmailMessage, Message

from smtp_logger.understand.addresses import parse_mailbox
from smtp_logger.understand.forwards.dates import parse_date
from smtp_logger.understand.forwards.inline import extract_inline_forward
from smtp_logger.understand.forwards.mailboxes import parse_recipients, parse_sender
from smtp_logger.understand.forwards.mime import header_text, iter_parts, part_text
from smtp_logger.understand.forwards.model import OriginalMessage
from smtp_logger.understand.forwards.reports import is_daemon_sender, is_report_or_automatic
from smtp_logger.understand.htmltext import html_to_text


def _message_ids(value: str | None) -> list[str]:
    return [token.strip("<>") for token in (value or "").split() if token.strip("<>")]


def _first_id(value: str | None) -> str | None:
    ids = _message_ids(value)
    return ids[0] if ids else None


def _body_parts(msg: Message) -> tuple[str | None, str | None]:
    """(text/plain, text/html) of a message, attachments and enclosed messages skipped."""
    plain = html = None
    for part, _parent in iter_parts(msg):
        if part.get_content_disposition() == "attachment":
            continue
        kind = part.get_content_type()
        if kind == "text/plain" and plain is None:
            plain = part_text(part)
        elif kind == "text/html" and html is None:
            html = part_text(part)
        if plain is not None and html is not None:
            break
    return plain, html


_ENCLOSED_TYPES = ("message/rfc822", "message/global")


def _as_message(part: Message) -> Message | None:
    payload = part.get_payload()
    if isinstance(payload, list):
        inner = payload[0] if payload else None
        return inner if isinstance(inner, Message) else None
    raw = part.get_payload(decode=True)  # message/global arrives as an unparsed payload
    if isinstance(raw, bytes) and raw.strip():
        return email.message_from_bytes(raw, policy=policy.default)
    return None


def _enclosed_message(msg: Message) -> Message | None:
    """The first enclosed message (message/rfc822 or message/global), not multipart/digest items."""
    for part, parent in iter_parts(msg):
        if part.get_content_type() in _ENCLOSED_TYPES and parent != "multipart/digest":
            inner = _as_message(part)
            if inner is not None:
                return inner
    return None


def _sender(value: str | None):
    if not value:
        return None
    return parse_mailbox(value) or parse_sender(value)


def _from_attachment(msg: Message, inner: Message) -> OriginalMessage:
    plain, html = _body_parts(inner)
    note_text, note_html = _body_parts(msg)
    note = note_text if note_text and note_text.strip() else html_to_text(note_html or "")
    date_raw = header_text(inner, "date")
    return OriginalMessage(
        source="attachment",
        from_=_sender(header_text(inner, "from")),
        to=parse_recipients(header_text(inner, "to")),
        cc=parse_recipients(header_text(inner, "cc")),
        subject=(header_text(inner, "subject") or "").strip(),
        date_raw=date_raw,
        date=parse_date(date_raw),
        body_text=(plain if plain is not None else html_to_text(html or "")).strip(),
        body_html=html,
        note=(note or "").strip() or None,
        message_id=_first_id(header_text(inner, "message-id")),
        in_reply_to=_first_id(header_text(inner, "in-reply-to")),
        references=_message_ids(header_text(inner, "references")),
    )


def _from_inline(msg: Message) -> OriginalMessage | None:
    subject = header_text(msg, "subject")
    plain, html = _body_parts(msg)
    if plain:
        original = extract_inline_forward(plain, subject)
        if original is not None:
            return original
    if html:
        return extract_inline_forward(html_to_text(html), subject)
    return None


def find_original(msg: EmailMessage) -> OriginalMessage | None:
    """The forwarded original in `msg` (attachment first, then inline), or None."""
    if not isinstance(msg, Message):
        return None
    try:
        if is_report_or_automatic(msg):
            return None
        inner = _enclosed_message(msg)
        original = _from_attachment(msg, inner) if inner is not None else _from_inline(msg)
    except (ValueError, TypeError, LookupError, AttributeError, IndexError, RecursionError):
        return None  # a broken message is "no original found", never a crash in intake
    sender = original.from_ if original is not None else None
    if sender is not None and is_daemon_sender(sender.address or sender.name):
        return None  # a forwarded bounce: its "original" is a delivery report, not a customer
    return original

