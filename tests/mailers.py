"""Helpers that write test emails (our own, not third-party samples) and send them with
Python's real SMTP clients."""

from __future__ import annotations

import smtplib
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid


def message(sender: str, to: list[str] | str, subject: str = "Proposal", body: str = "Hello,\n\nsee attached.\n",
            cc: list[str] | str | None = None, message_id: str | None = None,
            in_reply_to: str | None = None, references: str | None = None,
            date: datetime | None = None, html: str | None = None, headers: dict | None = None) -> EmailMessage:
    m = EmailMessage()
    m["From"] = sender
    m["To"] = to if isinstance(to, str) else ", ".join(to)
    if cc:
        m["Cc"] = cc if isinstance(cc, str) else ", ".join(cc)
    m["Subject"] = subject
    m["Date"] = format_datetime(date or datetime(2026, 11, 23, 10, 15, tzinfo=timezone.utc))
    m["Message-ID"] = message_id or make_msgid(domain="test.example")
    if in_reply_to:
        m["In-Reply-To"] = in_reply_to
        m["References"] = references or in_reply_to
    for key, value in (headers or {}).items():
        m[key] = value
    m.set_content(body)
    if html:
        m.add_alternative(html, subtype="html")
    return m


def send(port: int, msg: EmailMessage | bytes, rcpts: list[str], mail_from: str = "sender@test.example"):
    """Send over real SMTP; returns smtplib's refused dict (raises on a refused DATA)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        if isinstance(msg, bytes):
            return client.sendmail(mail_from, rcpts, msg)
        return client.send_message(msg, from_addr=mail_from, to_addrs=rcpts)


def msgid(m: EmailMessage) -> str:
    return m["Message-ID"].strip("<>")
