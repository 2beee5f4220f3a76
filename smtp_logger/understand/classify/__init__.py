"""Recognise mail that is not conversation: bounces (DSNs), automatic replies and upstream-marked spam.

Owns the BOUNCE / AUTO_REPLY / SPAM verdicts over one parsed ``EmailMessage``
(``email.policy.default``). Pure functions over headers and MIME structure: no I/O, no
body-text guessing beyond fixed subject phrases, and never raises on malformed mail.
"""

from __future__ import annotations

from email.message import Message

from smtp_logger.understand.classify.autoreplies import detect_auto_reply
from smtp_logger.understand.classify.bounces import detect_bounce
from smtp_logger.understand.classify.common import Check
from smtp_logger.understand.classify.spam import detect_spam

__all__ = ["classify", "detect_auto_reply", "detect_bounce", "detect_spam"]

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
