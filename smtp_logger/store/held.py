"""Whether what a held message waits for has already happened: closes the race where the
thing it waits for (a contact, an answered email) was committed by another worker while this
message was being decided, so neither side's retry would have seen the other. SQL only."""

from __future__ import annotations

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from smtp_logger.store.models import Contact, ContactEmail, Engagement, HeldWait, ThreadMessageId


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
