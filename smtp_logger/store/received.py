"""Reading received messages (one delivery to one logging address) for the pipeline: whether a
delivery was already recorded (decided before a crash, or quarantined), and a held message to
decide again. SQL reads only; their status is written by smtp_logger.store.lifecycle alone."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from smtp_logger.store.models import ReceivedMessage

_RECORDED = select(ReceivedMessage).where(ReceivedMessage.spool_id == bindparam("spool_id"),
                                          ReceivedMessage.logging_address == bindparam("address"))


def recorded(session: Session, spool_id: str, logging_address: str) -> ReceivedMessage | None:
    """The received message this delivery to this logging address was recorded as (decided
    before a crash, or quarantined as PROCESSING_FAILED and now retried), or None."""
    return session.scalars(_RECORDED, {"spool_id": spool_id, "address": logging_address}).first()


def held_message(session: Session, received_id: int) -> ReceivedMessage | None:
    """The received message if it is (still) held, else None."""
    message = session.get(ReceivedMessage, received_id)
    return message if message is not None and message.status == "held" else None
