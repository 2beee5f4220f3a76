"""Bounces: delivery-status notifications, ARF feedback reports and other mail-system notices
(BOUNCE). Small named checks over headers and MIME structure; no I/O."""

from __future__ import annotations

import re
from email.message import Message
from email.utils import getaddresses

from smtp_logger.understand.classify.autoreplies import auto_submitted
from smtp_logger.understand.classify.common import Check, first_reason, first_value, own_parts, sender_addresses, values
from smtp_logger.understand.mime import ENCLOSED_TYPES, content_param, content_type, enclosed_message

# --------------------------------------------------------------------------- bounces

DSN_REPORT_TYPES = {
    "delivery-status": "multipart/report delivery-status",
    "global-delivery-status": "multipart/report global-delivery-status",
    "feedback-report": "ARF feedback report (multipart/report feedback-report)",
}
DSN_PART_TYPES = {
    "message/delivery-status": "message/delivery-status part",
    "message/global-delivery-status": "message/global-delivery-status part",
    "message/feedback-report": "ARF feedback report (message/feedback-report part)",
}
DAEMON_LOCAL_PARTS = {"mailer-daemon", "mailer_daemon", "mailerdaemon", "post_master"}
# People do write from postmaster@ (admins, test fixtures): it needs a machine signal too.
ROLE_LOCAL_PARTS = {"postmaster"}
AUTOMATED_LOCAL_PARTS = re.compile(r"^(no-?reply|do-?not-?reply|donotreply|noreply-\w+|bounces?)$")
BOUNCE_SENDER_NAMES = re.compile(
    r"^(mail delivery (sub)?system|mailer[- _]?daemon|mail administrator|"
    r"internet mail delivery|mail delivery service|"
    r"e-?mail delivery (sub)?system)$"
)
# Subjects that MTAs put on DSNs, anchored at the start: a "Fwd: Undeliverable: ..."
# sent by a person is a forward, not a bounce. Only mail-specific wording: a customer's
# "Delivery problem with order 42" is conversation.
BOUNCE_SUBJECTS = re.compile(
    r"^\s*("
    r"undelivered mail returned to sender|undeliverable( mail| message)?\b|"
    r"undelivered mail\b|(mail )?delivery status notification|"
    r"delivery notification: delivery has failed|returned mail\s*:|mail delivery failed|"
    r"failure notice|mail system error - returned mail|non-?delivery report|"
    r"delayed mail \(still being retried\)|warning: could not send message|"
    r"warning: message .{0,80} delayed|message delivery failure|"
    r"(unzustellbar|onbestelbaar|non remis|non distribuable|no se puede entregar|"
    r"não entregue|non recapitabile|kan inte levereras|kunne ikke leveres|"
    r"toimittamaton|niedostarczalne)\s*:|"
    r"complaint about message from|email feedback report for ip|"
    r"メッセージを配信できません|配信できませんでした|メールエラー通知"
    r")",
    re.IGNORECASE,
)


# Wording that is only a bounce when the sender is a mail-system role address too.
WEAK_BOUNCE_SUBJECTS = re.compile(
    r"\b(deliver(y|ed)|undeliver\w*|returned|bounce[ds]?|fail(ed|ure)?|error)\b", re.IGNORECASE
)


def _report_multipart(msg: Message) -> str | None:
    for part in own_parts(msg):
        if content_type(part) == "multipart/report":
            reason = DSN_REPORT_TYPES.get(content_param(part, "report-type"))
            if reason:
                return reason
    return None


def _status_part(msg: Message) -> str | None:
    for part in own_parts(msg):
        reason = DSN_PART_TYPES.get(content_type(part))
        if reason:
            return reason
    return None


def _failed_recipients_header(msg: Message) -> str | None:
    if values(msg, "x-failed-recipients"):
        return "header X-Failed-Recipients"
    return None


def _returned_own_message(msg: Message) -> str | None:
    """An automated sender returning the recipient's own message (KDDI-style bounces).

    A bounce encloses the message the recipient sent: the enclosed From is the outer To.
    A forward encloses someone else's message and comes from a person, so both an
    automated sender (null Return-Path or a no-reply address) and the match are needed.
    """
    senders = [addr for _, addr in sender_addresses(msg)]
    null_return_path = any(value.strip() in ("<>", "") for value in values(msg, "return-path"))
    no_reply = any(AUTOMATED_LOCAL_PARTS.match(addr.rpartition("@")[0]) for addr in senders)
    if not (null_return_path or no_reply):
        return None
    try:
        recipients = {addr.lower() for _, addr in getaddresses(values(msg, "to")) if addr}
    except Exception:
        return None
    for part in own_parts(msg):
        if part is msg or content_type(part) not in ENCLOSED_TYPES:
            continue
        enclosed = enclosed_message(part)
        if enclosed is None:
            continue
        # A bounce goes to the envelope sender: the enclosed Return-Path, else its From.
        enclosed_from = {addr for _, addr in sender_addresses(enclosed)}
        enclosed_from |= _return_path_addresses(enclosed)
        if recipients & enclosed_from and not recipients & set(senders):
            return "automated sender returned the recipient's own message"
    return None


def _return_path_addresses(msg: Message) -> set[str]:
    try:
        return {addr.lower() for _, addr in getaddresses(values(msg, "return-path")) if addr}
    except Exception:
        return set()


def _amazon_sns_notification(msg: Message) -> str | None:
    # SES delivers its bounce/complaint/delivery events as SNS mails ("AWS Notification
    # Message", a JSON body): machine reports, never conversation.
    if values(msg, "x-amz-sns-message-id"):
        return "Amazon SNS notification (SES bounce/complaint/delivery feed)"
    return None


def _list_manager_notice(msg: Message) -> str | None:
    # fml stamps X-MLServer on list posts (with X-Mail-Count) and on its own error notices
    # ("you are not a member", "Loop Alert") that reject the mail we sent (without).
    if values(msg, "x-mlserver") and not values(msg, "x-mail-count"):
        return "mailing-list manager notice (X-MLServer without X-Mail-Count)"
    return None


def _unsubscribe_request(msg: Message) -> str | None:
    # Apple Mail's one-click unsubscribe: a feedback report like ARF, sent by the client.
    for value in values(msg, "x-apple-unsubscribe"):
        if value.strip().lower() == "true":
            return "unsubscribe request (X-Apple-Unsubscribe), a feedback report"
    return None


def _machine_headers(msg: Message) -> bool:
    """Null or daemon Return-Path, Auto-Submitted, or bounce wording in the subject."""
    for value in values(msg, "return-path"):
        if value.strip() in ("<>", "") or "mailer-daemon" in value.lower():
            return True
    return bool(auto_submitted(msg) or WEAK_BOUNCE_SUBJECTS.search(first_value(msg, "subject")))


def _machine_signal(msg: Message) -> bool:
    """The machine headers, or an enclosed original."""
    if _machine_headers(msg):
        return True
    return any(content_type(part) in ENCLOSED_TYPES for part in own_parts(msg) if part is not msg)


def _daemon_sender(msg: Message) -> str | None:
    for name, addr in sender_addresses(msg):
        local = addr.rpartition("@")[0] if "@" in addr else addr
        if local in DAEMON_LOCAL_PARTS:
            return f"sender {local.upper() if 'daemon' in local else local}"
        if local in ROLE_LOCAL_PARTS and _machine_signal(msg):
            return f"sender {local} (with a machine signal)"
        # Anyone can type a display name (CPython's msg_42.txt, a forward, comes from
        # "Mail Delivery Subsystem <xxx@example.com>"): it counts with postmaster@ or a machine header.
        if name and BOUNCE_SENDER_NAMES.match(name) and (local in ROLE_LOCAL_PARTS or _machine_headers(msg)):
            return f"sender name {name!r}"
    return None


def _bounce_subject(msg: Message) -> str | None:
    subject = first_value(msg, "subject")
    if subject and BOUNCE_SUBJECTS.match(subject):
        return f"subject {subject[:80]!r}"
    return None


BOUNCE_CHECKS: list[Check] = [
    _report_multipart,
    _status_part,
    _failed_recipients_header,
    _amazon_sns_notification,
    _list_manager_notice,
    _unsubscribe_request,
    _daemon_sender,
    _bounce_subject,
    _returned_own_message,
]


def detect_bounce(msg: Message) -> str | None:
    """A short reason when ``msg`` is a delivery-status notification, else None.

    ARF feedback reports (abuse/complaint loops, multipart/report;
    report-type=feedback-report) count as bounces too: machine reports about mail we
    sent, never conversation. A forward is not a bounce: enclosed messages (message/rfc822)
    are not looked into, and bounce subjects count only at the start ("Fwd: ..." does not).
    """
    return first_reason(msg, BOUNCE_CHECKS)


