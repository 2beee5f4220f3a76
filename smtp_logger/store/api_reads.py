"""Look-ups the HTTP API needs beside the command line's queries, each scoped to one account:
an engagement that may have been deleted, an attachment's stored file (only through an
engagement of the account), a held message. Anything of another account is NotFound, exactly
like something that does not exist. Read-only SQL.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from smtp_logger.store.accounts import NotFound
from smtp_logger.store.models import Attachment, Decision, Engagement, ReceivedMessage
from smtp_logger.store.queries import engagement_dict


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    filename: str
    content_type: str


def engagement_or_none(session: Session, account_id: int, engagement_id: int) -> dict | None:
    e = session.get(Engagement, engagement_id)
    return engagement_dict(session, e) if e is not None and e.account_id == account_id else None


def stored_file(session: Session, account_id: int, attachment_id: int) -> StoredFile:
    row = session.execute(select(Attachment).join(Engagement, Engagement.id == Attachment.engagement_id).where(
        Attachment.id == attachment_id, Engagement.account_id == account_id)).scalars().first()
    if row is None or not row.stored or not row.sha256:
        raise NotFound(f"no stored attachment {attachment_id}")
    return StoredFile(row.sha256, row.filename, row.content_type or "application/octet-stream")


def held_message(session: Session, account_id: int, received_id: int, any_status: bool = False) -> ReceivedMessage:
    message = session.get(ReceivedMessage, received_id)
    if message is None or message.account_id != account_id or (message.status != "held" and not any_status):
        raise NotFound(f"no held message {received_id}")
    return message


def engagement_of_message(session: Session, received_id: int) -> int | None:
    """The engagement the message's latest decision logged, if any."""
    return session.scalars(select(Decision.engagement_id).where(Decision.received_message_id == received_id)
                           .order_by(Decision.id.desc()).limit(1)).first()
