"""Automatic replies: RFC 3834 Auto-Submitted, X-Autoreply-style headers, Precedence:
auto_reply, read receipts and out-of-office subjects in many languages (AUTO_REPLY). No I/O."""

from __future__ import annotations

import re
from email.message import Message

from smtp_logger.understand.classify.common import Check, first_reason, first_value, own_parts, values
from smtp_logger.understand.mime import content_param, content_type

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


def auto_submitted(msg: Message) -> str | None:
    for value in values(msg, "auto-submitted"):
        keyword = value.split(";", 1)[0].split("(", 1)[0].strip().lower()
        if keyword and keyword != "no":
            return f"Auto-Submitted: {keyword}"
    return None


def _autoreply_headers(msg: Message) -> str | None:
    for name in AUTO_REPLY_HEADERS:
        for value in values(msg, name):
            if value.strip().lower() not in NEGATIVE_VALUES or name == "x-autoreply-from":
                return f"header {name}"
    return None


def _apple_vacation(msg: Message) -> str | None:
    for value in values(msg, "x-apple-action"):
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
    for value in values(msg, "precedence"):
        kind = value.strip().lower()
        if kind in ("auto_reply", "auto-reply", "autoreply"):
            return f"Precedence: {kind}"
    return None


def _read_receipt(msg: Message) -> str | None:
    for part in own_parts(msg):
        ctype = content_type(part)
        if ctype == "message/disposition-notification" or (
            ctype == "multipart/report" and content_param(part, "report-type") == "disposition-notification"
        ):
            return "read receipt (disposition-notification)"
    return None


def _out_of_office_subject(msg: Message) -> str | None:
    subject = first_value(msg, "subject")
    if subject and OOO_SUBJECT.match(subject):
        return f"subject {subject[:80]!r}"
    return None


AUTO_REPLY_CHECKS: list[Check] = [
    auto_submitted,
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
    return first_reason(msg, AUTO_REPLY_CHECKS)


