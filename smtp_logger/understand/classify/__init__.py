"""Recognise mail that is not conversation: our own notices, bounces (DSNs), automatic replies
and upstream-marked spam. Owns the OWN_NOTICE / BOUNCE / AUTO_REPLY / SPAM verdicts over one
parsed ``EmailMessage`` (``email.policy.default``). Pure functions over headers and MIME
structure: no I/O, no body-text guessing beyond fixed subject phrases, and never raises on
malformed mail.
"""

from __future__ import annotations

from email.message import Message

from smtp_logger.understand.classify.autoreplies import detect_auto_reply
from smtp_logger.understand.classify.bounces import detect_bounce
from smtp_logger.understand.classify.common import Check
from smtp_logger.understand.classify.confirmations import Confirmation, find_confirmation
from smtp_logger.understand.classify.notices import NOTICE_HEADER, detect_own_notice
from smtp_logger.understand.classify.spam import detect_spam

__all__ = ["NOTICE_HEADER", "Confirmation", "classify", "detect_auto_reply", "detect_bounce",
           "detect_own_notice", "detect_spam", "find_confirmation"]

# --------------------------------------------------------------------------- verdict

DETECTORS: list[tuple[str, Check]] = [
    ("OWN_NOTICE", detect_own_notice),  # our own notice came back (or is enclosed): never logged
    ("BOUNCE", detect_bounce),
    ("AUTO_REPLY", detect_auto_reply),
    ("SPAM", detect_spam),
]


def classify(msg: Message) -> tuple[str, str] | None:
    """("OWN_NOTICE" | "BOUNCE" | "AUTO_REPLY" | "SPAM", reason) in that precedence, or None
    for conversation."""
    for code, detect in DETECTORS:
        reason = detect(msg)
        if reason:
            return code, reason
    return None
