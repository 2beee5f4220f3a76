"""The one place that sets a received message's status (held -> logged, and so on).

    received --decide--> logged | held | not_logged
    held --retry--> logged | held | not_logged,   held --retention--> expired (recorded as HELD_EXPIRED)
    logged --never-log purge--> purged

Every decision is appended to `decisions` here too, so a status never changes without a
recorded reason. SQL writes only; the caller owns the transaction.
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm import Session

from .models import Decision as DecisionRow, HeldWait, ReceivedMessage
from .reasons import HELD_EXPIRED
from .rules import Decision

ALLOWED = {
    "received": {"logged", "held", "not_logged"},
    "held": {"logged", "held", "not_logged", "expired"},
    "logged": {"purged"},
    "not_logged": set(),
    "expired": set(),
    "purged": set(),
}


class InvalidTransition(RuntimeError):
    pass


def status_for(decision: Decision) -> str:
    if decision.logged:
        return "logged"
    return "held" if decision.held else "not_logged"


def _move(message: ReceivedMessage, status: str) -> None:
    current = message.status or "received"
    if status not in ALLOWED[current]:
        raise InvalidTransition(f"{current} -> {status}")
    message.status = status


def record(session: Session, message: ReceivedMessage, decision: Decision,
           engagement_id: int | None = None) -> None:
    """Apply a decision: new status, the decision row, and what a held message waits for.
    A held message retried with the same outcome gets no second decision row."""
    was_held = message.status == "held"
    unchanged = was_held and status_for(decision) == "held" \
        and message.reason == decision.reason
    _move(message, status_for(decision))
    message.reason = decision.reason
    if unchanged:
        return
    session.add(DecisionRow(account_id=message.account_id, received_message_id=message.id,
                            message_id=message.message_id, logging_address=message.logging_address,
                            reason=decision.reason, detail=decision.detail,
                            engagement_id=engagement_id))
    if was_held:
        session.execute(delete(HeldWait).where(HeldWait.received_message_id == message.id))
    if message.status == "held":
        for kind, value in dict.fromkeys(decision.waits):
            if value:
                session.add(HeldWait(account_id=message.account_id, received_message_id=message.id,
                                     kind=kind, value=value[:998]))
    session.flush()


def expire(session: Session, message: ReceivedMessage, retention_days: int) -> None:
    """A held message past retention: no longer retried; `why` says so."""
    _move(message, "expired")
    session.add(DecisionRow(account_id=message.account_id, received_message_id=message.id,
                            message_id=message.message_id, logging_address=message.logging_address,
                            reason=HELD_EXPIRED, detail=f"held since {message.received_at:%Y-%m-%d}, "
                            f"retention {retention_days} days; it was {message.reason}"))
    session.execute(delete(HeldWait).where(HeldWait.received_message_id == message.id))


def purge(message: ReceivedMessage) -> None:
    _move(message, "purged")
