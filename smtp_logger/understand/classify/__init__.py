"""classify: the one owner of the OWN_NOTICE / BOUNCE / AUTO_REPLY / SPAM verdicts, over a parsed
message or over the headers a forward shows of its original. Pure functions over headers and
MIME structure (no body guessing beyond fixed subject phrases); never raises. Imports only understand/."""

from __future__ import annotations

from email import message_from_string
from email.message import Message

from smtp_logger.understand.classify.autoreplies import detect_auto_reply
from smtp_logger.understand.classify.bounces import detect_bounce
from smtp_logger.understand.classify.common import Check
from smtp_logger.understand.classify.confirmations import Confirmation, find_confirmation
from smtp_logger.understand.classify.notices import NOTICE_HEADER, detect_own_notice
from smtp_logger.understand.classify.spam import detect_spam
from smtp_logger.understand.mime import POLICY

__all__ = ["NOTICE_HEADER", "Confirmation", "classify", "classify_shown", "detect_auto_reply", "detect_bounce",
           "detect_own_notice", "detect_spam", "find_confirmation", "is_machine_made"]

MACHINE_MADE = ("BOUNCE", "AUTO_REPLY")  # written by a machine: never conversation, however it came in

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


def is_machine_made(verdict: tuple[str, str] | None) -> bool:
    """True for a BOUNCE or AUTO_REPLY verdict (SPAM is a filter's opinion of a conversation)."""
    return verdict is not None and verdict[0] in MACHINE_MADE


def classify_shown(sender: str, subject: str) -> tuple[str, str] | None:
    """classify() over the only headers an inline forward shows of its original: From and Subject."""
    head = "".join(f"{name}: {' '.join(value.split())}\n"
                   for name, value in (("From", sender), ("Subject", subject)) if value and value.strip())
    return classify(message_from_string(head + "\n", policy=POLICY)) if head else None
