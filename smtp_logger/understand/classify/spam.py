"""Spam verdicts of upstream filters (SpamAssassin, Exchange SCL, Forefront, provider junk
markers, subject tags): SPAM. Only a filter's verdict counts, never our own guess. No I/O."""

from __future__ import annotations

import re
from email.message import Message

from smtp_logger.understand.classify.common import Check, first_reason, first_value, values

# --------------------------------------------------------------------------- spam

# Subject tags that filters write ([SPAM], ***SPAM***, *****SPAM*****, {Spam?}).
SPAM_SUBJECT = re.compile(r"^\s*(\[spam\]|\*+\s*spam\s*\*+|\{spam\??\})", re.IGNORECASE)
FOREFRONT_SPAM_VERDICTS = {"SPM", "SKS", "BLK"}  # spam, spam by mail-flow rule, blocked sender


def _spamassassin(msg: Message) -> str | None:
    for name in ("x-spam-flag", "x-spam-status", "x-spam", "x-barracuda-spam-flag",
                 "x-barracuda-spam-status", "x-clx-spam", "x-ovh-spam"):
        for value in values(msg, name):
            first = value.strip().lower()
            if first.startswith(("yes", "true")) or first == "spam":
                return f"{name}: {value[:40]}"
    return None


def _exchange_scl(msg: Message) -> str | None:
    for value in values(msg, "x-ms-exchange-organization-scl"):
        match = re.match(r"\s*(-?\d+)", value)
        if match and int(match.group(1)) >= 5:
            return f"X-MS-Exchange-Organization-SCL: {match.group(1)}"
    return None


def _forefront(msg: Message) -> str | None:
    # The "-Untrusted" copies come from another tenant and are not our upstream's verdict.
    for name in ("X-Forefront-Antispam-Report", "X-Microsoft-Antispam"):
        for value in values(msg, name):
            fields = dict(
                item.split(":", 1) for item in value.replace(" ", "").split(";") if ":" in item
            )
            sfv = fields.get("SFV", "").upper()
            if sfv in FOREFRONT_SPAM_VERDICTS:
                return f"{name} SFV:{sfv}"
            scl = fields.get("SCL", "")
            if re.fullmatch(r"\d+", scl) and int(scl) >= 5:
                return f"{name} SCL:{scl}"
    for value in values(msg, "x-microsoft-antispam-mailbox-delivery"):
        if re.search(r"(^|;)\s*dest:J\s*(;|$)", value):
            return "X-Microsoft-Antispam-Mailbox-Delivery dest:J (junk folder)"
    return None


def _provider_junk_markers(msg: Message) -> str | None:
    for value in values(msg, "x-apple-action"):
        if value.strip().upper().startswith("JUNK"):
            return "X-Apple-Action: JUNK"
    for value in values(msg, "x-apple-movetofolder"):
        if value.strip().lower() == "junk":
            return "X-Apple-Movetofolder: Junk"
    for value in values(msg, "x-gmail-labels"):
        if "spam" in [label.strip().lower() for label in value.split(",")]:
            return "X-Gmail-Labels: Spam"
    for value in values(msg, "x-proofpoint-spam-details"):
        rule = re.search(r"\brule=([\w-]+)", value)
        if rule and rule.group(1).lower().endswith("spam") and "notspam" not in rule.group(1).lower():
            return f"X-Proofpoint-Spam-Details rule={rule.group(1)}"
    for value in values(msg, "x-rspamd-action"):
        if value.strip().lower() in ("add header", "rewrite subject", "reject"):
            return f"X-Rspamd-Action: {value.strip()}"
    for value in values(msg, "x-yandex-spam"):
        if value.strip() == "4":
            return "X-Yandex-Spam: 4"
    for value in values(msg, "x-ses-spam-verdict"):
        if value.strip().upper() == "FAIL":
            return "X-SES-Spam-Verdict: FAIL"
    return None


def _spam_subject_tag(msg: Message) -> str | None:
    subject = first_value(msg, "subject")
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
    return first_reason(msg, SPAM_CHECKS)


