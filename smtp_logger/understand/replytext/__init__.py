"""replytext: the new content of a logged email, without quoted history or signature, from its text
(`reply_text`) or HTML (`reply_text_from_html`) body; trimmed, linear time, never raises. Pure: no
I/O, no logging, no CRM. Imports only understand.htmltext."""

from __future__ import annotations

from smtp_logger.understand.htmltext import html_to_text
from smtp_logger.understand.replytext.html import strip_html_quotes
from smtp_logger.understand.replytext.quotes import strip_quotes
from smtp_logger.understand.replytext.signature import strip_signature

__all__ = ["reply_text", "reply_text_from_html", "html_to_text"]

MAX_BODY_CHARS = 1_000_000  # beyond this the tail is history or an attachment dump anyway


def reply_text(body_text: str) -> str:
    """The new content of a plain-text email body, trimmed ('' when there is none)."""
    try:
        lines = _lines(body_text)
        return "\n".join(strip_signature(strip_quotes(lines))).strip()
    except Exception:  # noqa: BLE001 - a reply we cannot parse is logged whole, never lost
        return (body_text or "").strip() if isinstance(body_text, str) else ""


def reply_text_from_html(html: str) -> str:
    """The new content of an HTML email body as text, trimmed."""
    try:
        return reply_text(_unindent(html_to_text(strip_html_quotes(html))))
    except Exception:  # noqa: BLE001
        try:
            return reply_text(_unindent(html_to_text(html)))
        except Exception:  # noqa: BLE001
            return ""


def _unindent(text: str) -> str:
    """HTML-to-text indents by element nesting, which carries no meaning in a mail body."""
    return "\n".join(line.strip() for line in text.splitlines())


def _lines(body_text: str) -> list[str]:
    text = (body_text or "")[:MAX_BODY_CHARS].lstrip("\ufeff")
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
