"""Mail that carries an original message but is not a forward: bounces, DSNs, complaints, auto-replies.

Owns the checks `find_original` runs first (report MIME types, null sender, mailer-daemon senders,
bounce subjects, `Auto-Submitted`). It only says "not a forward"; classifying bounces is elsewhere.
"""

from __future__ import annotations

import re
from email.message import Message

from smtp_logger.understand.forwards.mime import header_text, iter_parts

REPORT_TYPES = frozenset({
    "multipart/report", "message/delivery-status", "message/global-delivery-status",
    "text/rfc822-headers", "message/feedback-report", "message/disposition-notification",
    "message/global-headers", "message/global-disposition-notification",
})
_DAEMON_SENDER = re.compile(
    r"(?:^|[<\s\"])(?:mailer-daemon|mailer_daemon|mail-daemon|postmaster|mdaemon)(?:@|>|\s|$)",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(?:\[[^\]]*\]\s*)?(?:undeliver|undelivered mail|delivery status notification|returned mail"
    r"|mail delivery (?:failed|failure)|failure notice|delivery failure|non[- ]?delivery|delivery has failed"
    r"|message (?:not delivered|delivery failure)|could not send message|mail system error"
    r"|returned to sender|delivery notification|unzustellbar|non remis|no entregado|não entregue"
    r"|onbestelbaar|olevererbart|message undeliverable|warning: message|delayed mail|mail delivery warning"
    r"|complaint about message|abuse report|spam report|\S*(?:エラー通知|配信エラー|送信エラー|不達|未達))",
    re.IGNORECASE,
)
_AUTOMATIC = re.compile(r"^\s*auto-(?:replied|generated|notified)", re.IGNORECASE)


def _has_report_part(msg: Message) -> bool:
    return any(part.get_content_type() in REPORT_TYPES for part, _ in iter_parts(msg))


def is_report_or_automatic(msg: Message) -> bool:
    """True for delivery/feedback reports and machine-generated mail (never a manual forward)."""
    if _has_report_part(msg):
        return True
    if (header_text(msg, "return-path") or "").strip() == "<>":
        return True
    if header_text(msg, "x-failed-recipients"):
        return True
    if _AUTOMATIC.match(header_text(msg, "auto-submitted") or ""):
        return True
    if _DAEMON_SENDER.search(header_text(msg, "from") or ""):
        return True
    return bool(_BOUNCE_SUBJECT.match(header_text(msg, "subject") or ""))


def is_daemon_sender(sender: str | None) -> bool:
    """True for mailer-daemon/postmaster senders (an "original" from them is a bounce)."""
    return bool(sender) and _DAEMON_SENDER.search(f" {sender}") is not None
