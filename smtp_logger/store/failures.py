"""Deliveries whose processing kept failing (quarantined by run/quarantine.py): PROCESSING_FAILED
is recorded once for each of their logging addresses that has no decision yet, and a retried one
is found again so that its real decision follows. SQL only; the caller owns the transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from smtp_logger.store import accounts, lifecycle
from smtp_logger.store.models import ReceivedMessage


def earlier(session: Session, spool_id: str, logging_address: str) -> ReceivedMessage | None:
    """The message already recorded for this delivery and address (decided before a crash, or
    quarantined before a retry), or None."""
    return session.scalars(select(ReceivedMessage).where(
        ReceivedMessage.spool_id == spool_id, ReceivedMessage.logging_address == logging_address)).first()


def record_processing_failed(session: Session, *, spool_id: str, rcpt_tos: list[str], mail_from: str,
                             message_id: str | None, raw_sha256: str, size: int, received_at: datetime,
                             detail: str) -> int:
    """PROCESSING_FAILED for every logging address of the delivery not decided yet (one that
    was decided before another address failed keeps its decision). Returns how many."""
    recorded = 0
    for rcpt in dict.fromkeys(address.lower() for address in rcpt_tos):
        address = accounts.any_address(session, rcpt)
        if address is None or earlier(session, spool_id, rcpt) is not None:
            continue
        lifecycle.processing_failed(
            session, detail, account_id=address.account_id, user_id=address.user_id, spool_id=spool_id,
            logging_address=rcpt, way=address.kind, mail_from=mail_from[:998], message_id=message_id,
            raw_sha256=raw_sha256, size=size, subject="", received_at=received_at)
        recorded += 1
    return recorded
