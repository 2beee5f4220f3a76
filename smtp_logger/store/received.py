"""Reading received messages (one delivery to one logging address) for the pipeline: whether a
delivery was already decided before a crash, and a held message to decide again. SQL reads
only; their status is written by smtp_logger.store.lifecycle alone."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from smtp_logger.store.models import ReceivedMessage

_RECEIVED = select(ReceivedMessage.id).where(ReceivedMessage.spool_id == bindparam("spool_id"),
                                             ReceivedMessage.logging_address == bindparam("address"))


def already_received(session: Session, spool_id: str, logging_address: str) -> bool:
    """Was this delivery to this logging address recorded already (before a crash)?"""
    return session.scalars(_RECEIVED, {"spool_id": spool_id, "address": logging_address}).first() is not None


def held_message(session: Session, received_id: int) -> ReceivedMessage | None:
    """The received message if it is (still) held, else None."""
    message = session.get(ReceivedMessage, received_id)
    return message if message is not None and message.status == "held" else None
