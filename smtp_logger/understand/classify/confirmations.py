"""Forwarding confirmations: the message a mail provider sends to a new automatic-forwarding
target (here a user's forwarding address) with a code and a link the account owner must use
before any mail is forwarded. Recognised by the provider's sender address and the message's
shape (a confirming link on the provider's own host, or a code); the code, the link and who
asked are read out to be passed on to the user. Nothing here (nor anywhere) follows the link.
Pure; never raises. Outlook.com and Microsoft 365 send no such message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from email.utils import parseaddr
from html import unescape


@dataclass(frozen=True)
class Confirmation:
    provider: str
    code: str | None  # the confirmation code, when the message shows one
    link: str | None  # the confirming link (never the cancelling one), on the provider's host
    requester: str | None  # the mailbox that asked to forward its mail here


@dataclass(frozen=True)
class Provider:
    name: str
    senders: frozenset[str]  # the From: addresses it sends them from
    link: re.Pattern  # its confirming link, and only that
    subject_code: re.Pattern
    body_code: re.Pattern


_ADDRESS = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_TRAILING = ".,;:)]"
TEXT_LIMIT = 200_000  # characters of a part read: these messages are a few KB

PROVIDERS: tuple[Provider, ...] = (
    # "(#123456789) Gmail Forwarding Confirmation - Receive Mail from bob@gmail.com" (older, and
    # in the user's language: "(#…) Confirmación de reenvío de Gmail"); since 2025 often without
    # a code: "(Gmail Forwarding Confirmation - Receive Mail from …". The confirming link is
    # .../mail/vf-<token>; .../mail/uf-<token> cancels and a support.google.com link explains.
    Provider(
        name="Gmail",
        senders=frozenset({"forwarding-noreply@google.com"}),
        link=re.compile(r"https://(?:mail-settings|mail)\.google\.com/mail/(?:u/\d+/)?vf-[A-Za-z0-9%._~-]+"),
        subject_code=re.compile(r"\(#(\d{5,12})\)"),
        body_code=re.compile(r"(?:code|c[óo]digo|codice|kod)\b[^\d\n]{0,30}?(\d{5,12})\b", re.IGNORECASE),
    ),
)


def _from_address(msg: Message) -> str:
    try:
        return parseaddr(str(msg.get("from", "")))[1].strip().lower()
    except Exception:
        return ""


def _texts(msg: Message) -> list[str]:
    """The subject, then the text of each text part (HTML unescaped, so href values read as
    text), without descending into enclosed messages."""
    texts = [str(msg.get("subject", ""))]
    for part in msg.walk():
        if part.get_content_maintype() == "message":
            break
        if part.get_content_type() in ("text/plain", "text/html"):
            try:
                content = part.get_content()
            except Exception:
                continue
            if isinstance(content, str):
                content = content[:TEXT_LIMIT]
                texts.append(unescape(content) if part.get_content_subtype() == "html" else content)
    return texts


def _read(provider: Provider, texts: list[str]) -> Confirmation | None:
    subject, bodies = texts[0], texts[1:]
    link = next((m.group(0).rstrip(_TRAILING) for t in bodies for m in provider.link.finditer(t)), None)
    code = next((m.group(1) for m in [provider.subject_code.search(subject)] if m), None) or next(
        (m.group(1) for t in bodies for m in [provider.body_code.search(t)] if m), None)
    if link is None and code is None:
        return None  # the sender's address alone is not the shape
    asked = _ADDRESS.findall(subject)
    requester = asked[-1] if asked else next((a for t in bodies for a in _ADDRESS.findall(t)[:1]), None)
    return Confirmation(provider.name, code, link, requester.lower() if requester else None)


def find_confirmation(msg: Message) -> Confirmation | None:
    """The forwarding confirmation `msg` is, or None."""
    try:
        sender = _from_address(msg)
        for provider in PROVIDERS:
            if sender in provider.senders:
                return _read(provider, _texts(msg))
    except Exception:  # a broken message is no confirmation
        return None
    return None


def describe(confirmation: Confirmation) -> str:
    """One line for `why` and `held list`: who asked, the code and the link."""
    parts = [f"{confirmation.provider} asks to confirm automatic forwarding"
             + (f" from {confirmation.requester}" if confirmation.requester else "")]
    if confirmation.code:
        parts.append(f"code {confirmation.code}")
    if confirmation.link:
        parts.append(f"link {confirmation.link}")
    return "; ".join(parts)
