"""What held messages wait for: which of them wait for something that just changed (a new
contact address or name, a logged Message-ID), and whether what one waits for has already
happened (closes the race where the thing it waits for was committed by another worker while
this message was being decided, so neither side's retry would have seen the other). SQL only."""

from __future__ import annotations

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from smtp_logger.store.models import Contact, ContactEmail, Engagement, HeldWait, ThreadMessageId


def waiting_for(session: Session, account_id: int, addresses: set[str], names: set[str],
                message_ids: set[str]) -> list[int]:
    """The account's held messages (ids, ascending) that wait for any of these contact
    addresses, contact names (casefolded) or logged Message-IDs."""
    wanted = [(kind, values) for kind, values in (("address", addresses), ("name", names),
                                                  ("message_id", message_ids)) if values]
    if not wanted:
        return []
    condition = or_(*(and_(HeldWait.kind == kind, HeldWait.value.in_(values)) for kind, values in wanted))
    return sorted(set(session.scalars(select(HeldWait.received_message_id).where(
        HeldWait.account_id == account_id, condition))))


def waits_satisfied(session: Session, received_message_id: int) -> bool:
    waits = session.execute(select(HeldWait.account_id, HeldWait.kind, HeldWait.value).where(
        HeldWait.received_message_id == received_message_id)).all()
    for account_id, kind, value in waits:
        if kind == "address" and session.scalar(select(exists().where(
                ContactEmail.account_id == account_id, ContactEmail.address == value))):
            return True
        if kind == "message_id" and session.scalar(select(exists().where(
                ThreadMessageId.account_id == account_id, ThreadMessageId.message_id == value,
                exists().where(Engagement.thread_id == ThreadMessageId.thread_id)))):
            return True
        if kind == "name" and session.scalar(select(func.count()).select_from(Contact).where(
                Contact.account_id == account_id, func.lower(Contact.name) == value)) == 1:
            return True
    return False
