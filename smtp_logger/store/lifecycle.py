"""The one place that sets a received message's status (held -> logged, and so on).

    received --decide--> logged | held | not_logged
    held --retry--> logged | held | not_logged,   held --retention--> expired (recorded as HELD_EXPIRED)
    received --processing kept failing--> failed (recorded as PROCESSING_FAILED)
    failed --spool retry--> logged | held | not_logged
    logged --never-log purge--> purged

Every decision is appended to `decisions` here too, so a status never changes without a
recorded reason. SQL writes only; the caller owns the transaction.
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm import Session

from smtp_logger.decide.reasons import HELD_EXPIRED, PROCESSING_FAILED, explain
from smtp_logger.decide.rules import Decision
from smtp_logger.store import events
from smtp_logger.store.models import Decision as DecisionRow
from smtp_logger.store.models import HeldWait, ReceivedMessage
from smtp_logger.store.rows import defer_rows, insert_id

ALLOWED = {
    "received": {"logged", "held", "not_logged", "failed"},
    "held": {"logged", "held", "not_logged", "expired"},
    "failed": {"logged", "held", "not_logged"},
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


def receive(session: Session, decision: Decision, **fields) -> int:
    """A new received message, inserted with the status its first decision gives it (the
    `received` state never reaches the database). Returns its id; `decided` must follow."""
    status = status_for(decision)
    if status not in ALLOWED["received"]:
        raise InvalidTransition(f"received -> {status}")
    return insert_id(session, ReceivedMessage, status=status, reason=decision.reason, **fields)


def decided(session: Session, account_id: int, received_id: int, message_id: str | None,
            logging_address: str, decision: Decision, engagement_id: int | None = None) -> None:
    """Append the decision row, and what the message waits for if it is held. Both are written
    at commit with the batch's others: nothing reads them before (held messages are looked for
    after the commit)."""
    defer_rows(session, DecisionRow, [dict(
        account_id=account_id, received_message_id=received_id, message_id=message_id,
        logging_address=logging_address, reason=decision.reason, detail=decision.detail,
        engagement_id=engagement_id)])
    if status_for(decision) == "held":
        defer_rows(session, HeldWait, [dict(account_id=account_id, received_message_id=received_id,
                                            kind=kind, value=value[:998])
                                       for kind, value in dict.fromkeys(decision.waits) if value])
    if not decision.logged:
        events.message_decided(session, account_id, received_id, message_id, logging_address,
                               status_for(decision), decision.reason, explain(decision.reason, decision.detail))


def record(session: Session, message: ReceivedMessage, decision: Decision,
           engagement_id: int | None = None) -> None:
    """Apply a new decision to a message decided before (a held one retried): new status, the
    decision row, and what it waits for now. The same outcome again gets no second row."""
    was_held = message.status == "held"
    unchanged = was_held and status_for(decision) == "held" \
        and message.reason == decision.reason
    _move(message, status_for(decision))
    message.reason = decision.reason
    if unchanged:
        return
    if was_held:
        session.execute(delete(HeldWait).where(HeldWait.received_message_id == message.id))
    session.flush()
    decided(session, message.account_id, message.id, message.message_id, message.logging_address,
            decision, engagement_id)
    if was_held and decision.logged:
        events.message_decided(session, message.account_id, message.id, message.message_id,
                               message.logging_address, "released", decision.reason,
                               explain(decision.reason, decision.detail), engagement_id)


def expire(session: Session, message: ReceivedMessage, retention_days: int) -> None:
    """A held message past retention: no longer retried; `why` says so."""
    _move(message, "expired")
    session.add(DecisionRow(account_id=message.account_id, received_message_id=message.id,
                            message_id=message.message_id, logging_address=message.logging_address,
                            reason=HELD_EXPIRED, detail=f"held since {message.received_at:%Y-%m-%d}, "
                            f"retention {retention_days} days; it was {message.reason}"))
    session.execute(delete(HeldWait).where(HeldWait.received_message_id == message.id))
    events.message_decided(session, message.account_id, message.id, message.message_id, message.logging_address,
                           "not_logged", HELD_EXPIRED, explain(HELD_EXPIRED))


def processing_failed(session: Session, detail: str, **fields) -> int:
    """A delivery quarantined after its processing kept failing, for one logging address: the
    received message with status `failed` and its PROCESSING_FAILED decision (not a rule's
    verdict). A retry that succeeds moves it on with `record`. Returns its id."""
    received_id = insert_id(session, ReceivedMessage, status="failed", reason=PROCESSING_FAILED, **fields)
    session.add(DecisionRow(account_id=fields["account_id"], received_message_id=received_id,
                            message_id=fields.get("message_id"), logging_address=fields["logging_address"],
                            reason=PROCESSING_FAILED, detail=detail))
    return received_id


def purge(message: ReceivedMessage) -> None:
    _move(message, "purged")
