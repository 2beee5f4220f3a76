"""Flood counting and release: how many messages from one From: address reached one logging
address in the window before a new one, exactly even with racing workers (deliveries to one
logging address are counted one after the other: its row is locked first), and which messages
are held for FLOOD. SQL only; the caller owns the transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from smtp_logger.store.models import LoggingAddress, ReceivedMessage


def _serialize(session: Session, logging_address: str) -> None:
    """Wait for other transactions counting for this address: PostgreSQL locks its row; SQLite
    has one writer, taken here by a write that changes nothing."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(LoggingAddress).where(LoggingAddress.address == logging_address)
                        .values(active=LoggingAddress.active).execution_options(synchronize_session=False))
    else:
        session.execute(select(LoggingAddress.id).where(LoggingAddress.address == logging_address)
                        .with_for_update())


def recent_from_sender(session: Session, logging_address: str, from_address: str, received_at: datetime,
                       window_minutes: float) -> int:
    """Messages from `from_address` to `logging_address` already decided, received less than the
    window before or after `received_at`: deliveries are decided one at a time per address, so
    exactly `flood_limit` of a burst pass, whichever order the workers take them in."""
    _serialize(session, logging_address)
    window = timedelta(minutes=window_minutes)
    return session.scalar(select(func.count()).select_from(ReceivedMessage).where(
        ReceivedMessage.logging_address == logging_address, ReceivedMessage.from_address == from_address,
        ReceivedMessage.received_at > received_at - window, ReceivedMessage.received_at < received_at + window)) or 0


def on_arrival(session: Session, settings, logging_address: str, from_address: str | None,
               received_at: datetime) -> int:
    """What the FLOOD rule counts for a message just arrived (0 when flood_limit is off). Only on
    arrival: a held message decided again, or released, is never counted again."""
    if settings.flood_limit <= 0 or not from_address:
        return 0
    return recent_from_sender(session, logging_address, from_address, received_at, settings.flood_window_minutes)


def held_for_flood(session: Session, account_id: int, message_id: str | None = None,
                   user_id: int | None = None) -> list[int]:
    """Received messages held for FLOOD (of one Message-ID, or of one user), oldest first."""
    query = select(ReceivedMessage.id).where(ReceivedMessage.account_id == account_id,
                                             ReceivedMessage.status == "held", ReceivedMessage.reason == "FLOOD")
    if message_id is not None:
        query = query.where(ReceivedMessage.message_id == message_id)
    if user_id is not None:
        query = query.where(ReceivedMessage.user_id == user_id)
    return list(session.scalars(query.order_by(ReceivedMessage.received_at, ReceivedMessage.id)))
