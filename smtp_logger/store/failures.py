"""Deliveries whose processing kept failing (quarantined by run/quarantine.py): PROCESSING_FAILED
is recorded once for each of their logging addresses that has no decision yet (through
store.lifecycle, and told to the owner through store.notices like any decision); a retried one
is found again by store.received. SQL only; the caller owns the transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from smtp_logger.decide.reasons import PROCESSING_FAILED
from smtp_logger.decide.rules import Decision
from smtp_logger.store import accounts, deals, lifecycle, notices, received


def record_processing_failed(session: Session, settings, *, spool_id: str, recipients: dict[str, list[str]],
                             mail_from: str, message_id: str | None, raw_sha256: str, size: int,
                             received_at: datetime, detail: str) -> int:
    """PROCESSING_FAILED for every logging address of the delivery not decided yet (one that
    was decided before another address failed keeps its decision). `recipients`: each logging
    address with the deal ids its record addresses named (kept for the retry). Returns how many."""
    recorded = 0
    for rcpt, refs in recipients.items():
        address = accounts.any_address(session, rcpt)
        if address is None or received.recorded(session, spool_id, rcpt) is not None:
            continue
        received_id = lifecycle.processing_failed(
            session, detail, account_id=address.account_id, user_id=address.user_id, spool_id=spool_id,
            logging_address=rcpt, address_kind=address.kind, mail_from=mail_from[:998], message_id=message_id,
            raw_sha256=raw_sha256, size=size, subject="", received_at=received_at)
        deals.remember_refs(session, received_id, refs)
        notices.consider(session, settings, address.account_id, address.user_id, received_id,
                         Decision(PROCESSING_FAILED, detail))
        recorded += 1
    return recorded
