"""Who is told about what: a decision and the facts around it -> a notice to the owner of the
logging address (now, or in the daily digest), or none. The owner is the only one ever mailed
(no backscatter), never about mail that is itself automatic (no loops), and only for reasons
the salesperson can act on. Pure: the store gathers the facts, counts and writes; no I/O here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from smtp_logger.decide.reasons import LOGGED

NOTIFY_MODES = ("off", "immediate", "daily")
DEFAULT_NOTIFY = "immediate"  # when a relay is configured (without one there are no notices)


@dataclass(frozen=True)
class Situation:
    """What the policy reads about one decision (plain data the store gathered)."""

    reason: str
    notify: str = DEFAULT_NOTIFY  # the user's setting, resolved: off | immediate | daily
    automatic: bool = False  # the message is itself automatic: a bounce, an auto-reply, our own notice
    sender: str | None = None  # its From: address
    own_domains: frozenset[str] = frozenset()  # the domains of the user's addresses, free mail left out
    sender_was_envelope: bool = False  # the envelope sender of earlier logged mail of this user
    sender_other_user: bool = False  # an address of another user or team of the account
    attachments_left_out: int = 0  # of the logged engagement
    sent_last_hour: int = 0  # immediate notices this user was sent in the last hour
    same_reason_last_hour: int = 0  # notices with this reason for this user in the last hour
    max_per_hour: int = 10


@dataclass(frozen=True)
class Plan:
    reason: str
    mode: str  # "immediate" | "digest"


def _always(s: Situation) -> bool:
    return True


def _unregistered_alias(s: Situation) -> bool:
    """Mail from an address that is probably the user's own: on their company's domain, or the
    envelope sender of mail of theirs we logged. A stranger's mail is never answered."""
    if not s.sender or s.sender_other_user:
        return False
    return s.sender.rpartition("@")[2] in s.own_domains or s.sender_was_envelope


def _attachment_left_out(s: Situation) -> bool:
    return s.attachments_left_out > 0


def _first_of_the_hour(s: Situation) -> bool:
    """A flood is told once an hour, not once a message."""
    return s.same_reason_last_hour == 0


# reason -> when its owner is told (the README's table). Reasons that are not the user's doing
# (OWN_NOTICE above all: a notice about a notice would start a loop; BOUNCE, AUTO_REPLY, SPAM,
# NEVER_LOG, NO_EXTERNAL_RECIPIENTS, NOT_IN_LOGGED_THREAD, SENDER_NOT_CONTACT, DUPLICATE, ...)
# are not here: never notified. PROCESSING_FAILED and FLOOD
# are recorded by the quarantine and the flood check.
NOTIFIED: dict[str, Callable[[Situation], bool]] = {
    "ORIGINAL_NOT_FOUND": _always,
    "ORIGINAL_SENDER_UNKNOWN": _always,
    "SENDER_NOT_ALLOWED": _unregistered_alias,
    LOGGED: _attachment_left_out,
    "AUTH_FAILED": _always,
    "FORWARDING_CONFIRMATION": _always,
    "PROCESSING_FAILED": _always,
    "FLOOD": _first_of_the_hour,
}

# Sent whatever the notify setting (the user is waiting for it), though within the hourly cap.
URGENT = frozenset({"FORWARDING_CONFIRMATION"})


def may_notify(reason: str) -> bool:
    """Whether a decision with this reason can lead to a notice at all (before any facts)."""
    return reason in NOTIFIED


def resolve_notify(user_setting: str | None, account_setting: str | None) -> str:
    """The user's own setting, else the account's, else the default."""
    for value in (user_setting, account_setting):
        if value in NOTIFY_MODES:
            return value
    return DEFAULT_NOTIFY


def notice_for(s: Situation) -> Plan | None:
    """The notice this decision deserves, or None."""
    applies = NOTIFIED.get(s.reason)
    if applies is None or not applies(s):
        return None
    if s.automatic and s.reason not in URGENT:
        return None
    if s.reason in URGENT or s.notify == "immediate":
        mode = "immediate"
    elif s.notify == "daily":
        mode = "digest"
    else:
        return None
    if mode == "immediate" and s.sent_last_hour >= s.max_per_hour:
        mode = "digest"
    return Plan(s.reason, mode)
