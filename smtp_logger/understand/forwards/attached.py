"""`find_original` and `read_original`: the original message of a whole forwarded email.

Owns the order of attempts (an enclosed message/rfc822 first, then the inline block of the
text/plain body, then of the HTML body as text) and asks `classify` what the carrier and the
original are: bounces and automatic replies also carry originals but are not forwards of
conversation. Reads only the message object (through `understand.mime`).
"""

from __future__ import annotations

from email.message import EmailMessage, Message
from email.utils import formataddr

from smtp_logger.understand import mime
from smtp_logger.understand.addresses import Mailbox, parse_mailbox
from smtp_logger.understand.classify import classify, classify_shown, is_machine_made
from smtp_logger.understand.forwards.dates import parse_date
from smtp_logger.understand.forwards.inline import extract_inline_forward
from smtp_logger.understand.forwards.mailboxes import parse_recipients, parse_sender
from smtp_logger.understand.forwards.model import OriginalMessage
from smtp_logger.understand.htmltext import html_to_text

_BROKEN = (ValueError, TypeError, LookupError, AttributeError, IndexError, RecursionError)


def _first_id(value: str) -> str | None:
    ids = mime.message_ids(value)
    return ids[0] if ids else None


def _sender(value: str):
    if not value:
        return None
    return parse_mailbox(value) or parse_sender(value)


def _from_attachment(msg: Message, inner: Message) -> OriginalMessage:
    """The enclosed message, read as parse reads a message (its body the same text a BCC gives)."""
    own = mime.bodies(inner, into_messages=True)
    outer = mime.bodies(msg, into_messages=False)
    date_raw = mime.header_text(inner, "date") or None
    return OriginalMessage(
        source="attachment",
        from_=_sender(mime.header_text(inner, "from")),
        to=parse_recipients(mime.header_text(inner, "to")),
        cc=parse_recipients(mime.header_text(inner, "cc")),
        subject=mime.header_text(inner, "subject"),
        date_raw=date_raw,
        date=parse_date(date_raw),
        body_text=own.text.strip(),
        body_html=own.html,
        note=(outer.text if outer.text.strip() else html_to_text(outer.html or "")).strip() or None,
        message_id=_first_id(mime.raw_header(inner, "message-id")),
        in_reply_to=_first_id(mime.raw_header(inner, "in-reply-to")),
        references=mime.message_ids(mime.raw_header(inner, "references")),
        automatic=classify(inner),
    )


def _shown(sender: Mailbox | None) -> str:
    """The sender as the forwarded header block showed it, as a From value for classify."""
    if sender is None:
        return ""
    return formataddr((sender.name or "", sender.address)) if sender.address else sender.name or ""


def _from_inline(msg: Message) -> OriginalMessage | None:
    subjects = mime.header_values(msg, "subject")
    subject = subjects[0].strip() if subjects else None
    own = mime.bodies(msg, into_messages=False)
    original = None
    if own.texts:
        original = extract_inline_forward("\n".join(own.texts), subject)
    if original is None and own.htmls:
        original = extract_inline_forward(html_to_text(own.html), subject)
    if original is None:
        return None
    return original.with_verdict(classify_shown(_shown(original.from_), original.subject))


def read_original(msg: Message) -> OriginalMessage | None:
    """The original in `msg` (attachment first, then inline) with classify's verdict on it, or None.

    A forwarded bounce or automatic reply is returned too (its `automatic` says so): the rules
    decide it as BOUNCE / AUTO_REPLY, as when it arrives by itself. Never raises on junk.
    """
    if not isinstance(msg, Message):
        return None
    try:
        inner = mime.first_enclosed_message(msg)
        return _from_attachment(msg, inner) if inner is not None else _from_inline(msg)
    except _BROKEN:
        return None  # a broken message is "no original found", never a crash in intake


def find_original(msg: EmailMessage) -> OriginalMessage | None:
    """The forwarded original of a conversation in `msg`, or None.

    None too for mail a machine wrote (delivery reports, automatic replies: they enclose
    originals but forward nothing) and for a forward whose original a machine wrote.
    """
    if not isinstance(msg, Message) or is_machine_made(classify(msg)):
        return None
    original = read_original(msg)
    return None if original is None or is_machine_made(original.automatic) else original
