"""Recognise mail that is not conversation: bounces (DSNs), automatic replies and upstream-marked spam.

Owns the BOUNCE / AUTO_REPLY / SPAM verdicts over one parsed ``EmailMessage``
(``email.policy.default``). Pure functions over headers and MIME structure: no I/O, no
body-text guessing beyond fixed subject phrases, and never raises on malformed mail.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from email import message_from_bytes
from email.message import Message
from email.utils import getaddresses

Check = Callable[[Message], "str | None"]

# --------------------------------------------------------------------------- safe access


def _unfold(value: str) -> str:
    return re.sub(r"\s+", " ", value).strip()


MAX_HEADER_CHARS = 4000  # every verdict we read sits near the start of its header


def _headers(msg: Message, name: str) -> list[str]:
    """All values of header ``name`` as decoded text (first MAX_HEADER_CHARS); never raises.

    policy.default parses headers lazily and raises on some broken ones; we fall back to
    the raw (undecoded) value then. Long values are cut before decoding: a 200 KB
    encoded-word Subject would otherwise cost a second per look.
    """
    values: list[str] = []
    try:
        items = list(msg.raw_items())
    except Exception:
        return values
    wanted = name.lower()
    for key, raw in items:
        if not isinstance(key, str) or key.lower() != wanted:
            continue
        raw = str(raw)[:MAX_HEADER_CHARS]
        try:
            value = str(msg.policy.header_fetch_parse(key, raw))
        except Exception:
            value = raw
        values.append(_unfold(value))
    return values


def _header(msg: Message, name: str) -> str:
    values = _headers(msg, name)
    return values[0] if values else ""


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "text/plain"


def _param(part: Message, param: str) -> str:
    try:
        value = part.get_param(param, header="content-type")
    except Exception:
        return ""
    if isinstance(value, tuple):  # RFC 2231 (charset, language, text)
        value = value[2]
    return str(value or "").strip().strip('"').lower()


def _own_parts(msg: Message, limit: int = 500) -> Iterator[Message]:
    """The message and its MIME parts, without descending into enclosed messages.

    A forward or a bounce carries the original as message/rfc822; what the original is
    says nothing about what the enclosing message is.
    """
    stack = [msg]
    seen = 0
    while stack and seen < limit:
        part = stack.pop(0)
        seen += 1
        yield part
        if _content_type(part).startswith("message/"):
            continue
        try:
            children = part.get_payload() if part.is_multipart() else []
        except Exception:
            children = []
        if isinstance(children, list):
            stack.extend(child for child in children if isinstance(child, Message))


def _sender_addresses(msg: Message) -> list[tuple[str, str]]:
    """(display name, address) pairs of From and Sender, lower-cased; never raises."""
    raw = _headers(msg, "from") + _headers(msg, "sender")
    try:
        pairs = getaddresses(raw)
    except Exception:
        pairs = [("", value) for value in raw]
    return [(name.strip().lower(), addr.strip().lower()) for name, addr in pairs]


def _first_match(msg: Message, checks: list[Check]) -> str | None:
    for check in checks:
        try:
            reason = check(msg)
        except Exception:  # a broken message must not break the decision
            reason = None
        if reason:
            return reason
    return None


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
    for part in _own_parts(msg):
        if _content_type(part) == "multipart/report":
            reason = DSN_REPORT_TYPES.get(_param(part, "report-type"))
            if reason:
                return reason
    return None


def _status_part(msg: Message) -> str | None:
    for part in _own_parts(msg):
        reason = DSN_PART_TYPES.get(_content_type(part))
        if reason:
            return reason
    return None


def _failed_recipients_header(msg: Message) -> str | None:
    if _headers(msg, "x-failed-recipients"):
        return "header X-Failed-Recipients"
    return None


def _returned_own_message(msg: Message) -> str | None:
    """An automated sender returning the recipient's own message (KDDI-style bounces).

    A bounce encloses the message the recipient sent: the enclosed From is the outer To.
    A forward encloses someone else's message and comes from a person, so both an
    automated sender (null Return-Path or a no-reply address) and the match are needed.
    """
    senders = [addr for _, addr in _sender_addresses(msg)]
    null_return_path = any(value.strip() in ("<>", "") for value in _headers(msg, "return-path"))
    no_reply = any(AUTOMATED_LOCAL_PARTS.match(addr.rpartition("@")[0]) for addr in senders)
    if not (null_return_path or no_reply):
        return None
    try:
        recipients = {addr.lower() for _, addr in getaddresses(_headers(msg, "to")) if addr}
    except Exception:
        return None
    for part in _own_parts(msg):
        if part is msg or _content_type(part) not in ("message/rfc822", "text/rfc822-headers"):
            continue
        enclosed = _enclosed_headers(part)
        if enclosed is None:
            continue
        # A bounce goes to the envelope sender: the enclosed Return-Path, else its From.
        enclosed_from = {addr for _, addr in _sender_addresses(enclosed)}
        enclosed_from |= _return_path_addresses(enclosed)
        if recipients & enclosed_from and not recipients & set(senders):
            return "automated sender returned the recipient's own message"
    return None


def _return_path_addresses(msg: Message) -> set[str]:
    try:
        return {addr.lower() for _, addr in getaddresses(_headers(msg, "return-path")) if addr}
    except Exception:
        return set()


def _enclosed_headers(part: Message) -> Message | None:
    try:
        if _content_type(part) == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            return inner if isinstance(inner, Message) else None
        text = part.get_payload(decode=True) or b""  # text/rfc822-headers
        return message_from_bytes(bytes(text), policy=part.policy)
    except Exception:
        return None


def _amazon_sns_notification(msg: Message) -> str | None:
    # SES delivers its bounce/complaint/delivery events as SNS mails ("AWS Notification
    # Message", a JSON body): machine reports, never conversation.
    if _headers(msg, "x-amz-sns-message-id"):
        return "Amazon SNS notification (SES bounce/complaint/delivery feed)"
    return None


def _list_manager_notice(msg: Message) -> str | None:
    # fml stamps X-MLServer on list posts (with X-Mail-Count) and on its own error notices
    # ("you are not a member", "Loop Alert") that reject the mail we sent (without).
    if _headers(msg, "x-mlserver") and not _headers(msg, "x-mail-count"):
        return "mailing-list manager notice (X-MLServer without X-Mail-Count)"
    return None


def _unsubscribe_request(msg: Message) -> str | None:
    # Apple Mail's one-click unsubscribe: a feedback report like ARF, sent by the client.
    for value in _headers(msg, "x-apple-unsubscribe"):
        if value.strip().lower() == "true":
            return "unsubscribe request (X-Apple-Unsubscribe), a feedback report"
    return None


def _machine_signal(msg: Message) -> bool:
    """Null or daemon Return-Path, Auto-Submitted, bounce wording, or an enclosed original."""
    for value in _headers(msg, "return-path"):
        if value.strip() in ("<>", "") or "mailer-daemon" in value.lower():
            return True
    if _auto_submitted(msg) or WEAK_BOUNCE_SUBJECTS.search(_header(msg, "subject")):
        return True
    return any(
        _content_type(part) in ("message/rfc822", "text/rfc822-headers")
        for part in _own_parts(msg)
        if part is not msg
    )


def _daemon_sender(msg: Message) -> str | None:
    for name, addr in _sender_addresses(msg):
        local = addr.rpartition("@")[0] if "@" in addr else addr
        if local in DAEMON_LOCAL_PARTS:
            return f"sender {local.upper() if 'daemon' in local else local}"
        if local in ROLE_LOCAL_PARTS and _machine_signal(msg):
            return f"sender {local} (with a machine signal)"
        if name and BOUNCE_SENDER_NAMES.match(name):
            return f"sender name {name!r}"
    return None


def _bounce_subject(msg: Message) -> str | None:
    subject = _header(msg, "subject")
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
    return _first_match(msg, BOUNCE_CHECKS)


# --------------------------------------------------------------------------- auto-replies

AUTO_REPLY_HEADERS = ("x-autoreply", "x-autorespond", "x-autoresponder", "x-autoreply-from",
                      "x-mail-autoreply")
NEGATIVE_VALUES = {"", "no", "false", "0", "off"}

# Out-of-office subjects as responders write them: the phrase opens the subject and is
# followed by ":" / "-" / "(" or ends it ("Out of Office AutoReply"). A person writing
# "Out of office next week?" or "Re: automatic reply settings" is not matched.
OOO_PHRASES = [
    # en
    r"automatic reply", r"auto[- ]?reply", r"auto[- ]?response", r"auto[- ]?respons",
    r"autoresponder", r"out of (the )?office( auto ?reply| reply)?", r"vacation reply",
    r"away from (the )?office", r"absence notice",
    # nl
    r"automatisch antwoord", r"automatisch bericht", r"afwezig(heid)?",
    r"afwezigheidsbericht", r"niet aanwezig", r"buiten kantoor",
    # de
    r"automatische antwort", r"abwesenheitsnotiz",
    r"automatische rückantwort", r"nicht im büro",
    # fr
    r"réponse automatique", r"reponse automatique", r"absence du bureau",
    r"absent\(e\)? du bureau", r"message d'absence",
    # es
    r"respuesta automática", r"respuesta automatica", r"fuera de la oficina",
    r"ausente de la oficina",
    # pt
    r"resposta automática", r"resposta automatica", r"ausente do escritório",
    r"fora do escritório", r"fora do escritorio",
    # it
    r"risposta automatica", r"fuori sede", r"fuori ufficio", r"assenza dall'ufficio",
    r"risposta di assenza",
    # sv
    r"automatiskt svar", r"frånvaro(meddelande)?", r"frånvarande", r"inte på kontoret",
    # da / no
    r"automatisk svar", r"autosvar", r"fraværende", r"fravær(smelding|sbesked)?",
    r"ikke på kontoret", r"ikke til stede",
    # fi
    r"automaattinen vastaus", r"poissa toimistolta", r"poissaoloviesti",
    # pl
    r"automatyczna odpowiedź", r"odpowiedź automatyczna", r"poza biurem",
    r"autoodpowiedź",
]
OOO_SUBJECT = re.compile(
    r"^\s*(" + "|".join(OOO_PHRASES) + r")\s*(?::|-|–|\(|\[|$)", re.IGNORECASE
)


def _auto_submitted(msg: Message) -> str | None:
    for value in _headers(msg, "auto-submitted"):
        keyword = value.split(";", 1)[0].split("(", 1)[0].strip().lower()
        if keyword and keyword != "no":
            return f"Auto-Submitted: {keyword}"
    return None


def _autoreply_headers(msg: Message) -> str | None:
    for name in AUTO_REPLY_HEADERS:
        for value in _headers(msg, name):
            if value.strip().lower() not in NEGATIVE_VALUES or name == "x-autoreply-from":
                return f"header {name}"
    return None


def _apple_vacation(msg: Message) -> str | None:
    for value in _headers(msg, "x-apple-action"):
        if "vacation" in value.lower():
            return "header X-Apple-Action: VACATION"
    return None


def _precedence(msg: Message) -> str | None:
    """Precedence: auto_reply only.

    "bulk", "junk" and "list" are not auto-replies: mailing lists (old Majordomo lists
    without List-* headers included), newsletters and spam use them, and every real
    responder that sets "bulk" also sets Auto-Submitted or an autoreply subject. Whether
    list mail is logged is decided elsewhere.
    """
    for value in _headers(msg, "precedence"):
        kind = value.strip().lower()
        if kind in ("auto_reply", "auto-reply", "autoreply"):
            return f"Precedence: {kind}"
    return None


def _read_receipt(msg: Message) -> str | None:
    for part in _own_parts(msg):
        ctype = _content_type(part)
        if ctype == "message/disposition-notification" or (
            ctype == "multipart/report" and _param(part, "report-type") == "disposition-notification"
        ):
            return "read receipt (disposition-notification)"
    return None


def _out_of_office_subject(msg: Message) -> str | None:
    subject = _header(msg, "subject")
    if subject and OOO_SUBJECT.match(subject):
        return f"subject {subject[:80]!r}"
    return None


AUTO_REPLY_CHECKS: list[Check] = [
    _auto_submitted,
    _autoreply_headers,
    _apple_vacation,
    _precedence,
    _read_receipt,
    _out_of_office_subject,
]


def detect_auto_reply(msg: Message) -> str | None:
    """A short reason when ``msg`` is an automatic reply (RFC 3834, out-of-office), else None.

    Not signals on their own: X-Auto-Response-Suppress (a request not to be answered,
    set on ordinary Outlook and notification mail), X-MS-Exchange-Inbox-Rules-Loop (set
    by mailbox forwarding rules, our automatic copies), Precedence: list, and
    out-of-office words in the body or later in the subject.
    """
    return _first_match(msg, AUTO_REPLY_CHECKS)


# --------------------------------------------------------------------------- spam

# Subject tags that filters write ([SPAM], ***SPAM***, *****SPAM*****, {Spam?}).
SPAM_SUBJECT = re.compile(r"^\s*(\[spam\]|\*+\s*spam\s*\*+|\{spam\??\})", re.IGNORECASE)
FOREFRONT_SPAM_VERDICTS = {"SPM", "SKS", "BLK"}  # spam, spam by mail-flow rule, blocked sender


def _spamassassin(msg: Message) -> str | None:
    for name in ("x-spam-flag", "x-spam-status", "x-spam", "x-barracuda-spam-flag",
                 "x-barracuda-spam-status", "x-clx-spam", "x-ovh-spam"):
        for value in _headers(msg, name):
            first = value.strip().lower()
            if first.startswith(("yes", "true")) or first == "spam":
                return f"{name}: {value[:40]}"
    return None


def _exchange_scl(msg: Message) -> str | None:
    for value in _headers(msg, "x-ms-exchange-organization-scl"):
        match = re.match(r"\s*(-?\d+)", value)
        if match and int(match.group(1)) >= 5:
            return f"X-MS-Exchange-Organization-SCL: {match.group(1)}"
    return None


def _forefront(msg: Message) -> str | None:
    # The "-Untrusted" copies come from another tenant and are not our upstream's verdict.
    for name in ("X-Forefront-Antispam-Report", "X-Microsoft-Antispam"):
        for value in _headers(msg, name):
            fields = dict(
                item.split(":", 1) for item in value.replace(" ", "").split(";") if ":" in item
            )
            sfv = fields.get("SFV", "").upper()
            if sfv in FOREFRONT_SPAM_VERDICTS:
                return f"{name} SFV:{sfv}"
            scl = fields.get("SCL", "")
            if re.fullmatch(r"\d+", scl) and int(scl) >= 5:
                return f"{name} SCL:{scl}"
    for value in _headers(msg, "x-microsoft-antispam-mailbox-delivery"):
        if re.search(r"(^|;)\s*dest:J\s*(;|$)", value):
            return "X-Microsoft-Antispam-Mailbox-Delivery dest:J (junk folder)"
    return None


def _provider_junk_markers(msg: Message) -> str | None:
    for value in _headers(msg, "x-apple-action"):
        if value.strip().upper().startswith("JUNK"):
            return "X-Apple-Action: JUNK"
    for value in _headers(msg, "x-apple-movetofolder"):
        if value.strip().lower() == "junk":
            return "X-Apple-Movetofolder: Junk"
    for value in _headers(msg, "x-gmail-labels"):
        if "spam" in [label.strip().lower() for label in value.split(",")]:
            return "X-Gmail-Labels: Spam"
    for value in _headers(msg, "x-proofpoint-spam-details"):
        rule = re.search(r"\brule=([\w-]+)", value)
        if rule and rule.group(1).lower().endswith("spam") and "notspam" not in rule.group(1).lower():
            return f"X-Proofpoint-Spam-Details rule={rule.group(1)}"
    for value in _headers(msg, "x-rspamd-action"):
        if value.strip().lower() in ("add header", "rewrite subject", "reject"):
            return f"X-Rspamd-Action: {value.strip()}"
    for value in _headers(msg, "x-yandex-spam"):
        if value.strip() == "4":
            return "X-Yandex-Spam: 4"
    for value in _headers(msg, "x-ses-spam-verdict"):
        if value.strip().upper() == "FAIL":
            return "X-SES-Spam-Verdict: FAIL"
    return None


def _spam_subject_tag(msg: Message) -> str | None:
    subject = _header(msg, "subject")
    if subject and SPAM_SUBJECT.match(subject):
        return f"subject tagged {subject[:40]!r}"
    return None


SPAM_CHECKS: list[Check] = [
    _spamassassin,
    _exchange_scl,
    _forefront,
    _provider_junk_markers,
    _spam_subject_tag,
]


def detect_spam(msg: Message) -> str | None:
    """A short reason when an upstream filter marked ``msg`` as spam/junk, else None.

    Only verdicts written in the top-level headers count (SpamAssassin, Exchange/EOP,
    Barracuda, Apple, Gmail export labels, Proofpoint, Rspamd, Yandex, SES, subject tags);
    scores without a verdict and content that merely looks like spam do not.
    """
    return _first_match(msg, SPAM_CHECKS)


# --------------------------------------------------------------------------- verdict

DETECTORS: list[tuple[str, Check]] = [
    ("BOUNCE", detect_bounce),
    ("AUTO_REPLY", detect_auto_reply),
    ("SPAM", detect_spam),
]


def classify(msg: Message) -> tuple[str, str] | None:
    """("BOUNCE" | "AUTO_REPLY" | "SPAM", reason) in that precedence, or None for conversation."""
    for code, detect in DETECTORS:
        reason = detect(msg)
        if reason:
            return code, reason
    return None
