"""Removing data on request: a never-log purge (everything logged for an address or domain)
and the expiry of held messages past their retention, with the blobs they free
(store.blobstore.refs). The status changes go through smtp_logger.store.lifecycle."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from smtp_logger.store import events, lifecycle, meetings
from smtp_logger.store.blobstore import BlobStore, refs
from smtp_logger.store.dealmodels import EngagementDeal
from smtp_logger.store.models import (
    Attachment,
    ContactEmail,
    Decision,
    Engagement,
    EngagementCompany,
    EngagementContact,
    ReceivedMessage,
)
from smtp_logger.understand.addresses import domain_of


def _matches(address: str | None, value: str) -> bool:
    return bool(address) and (address == value or domain_of(address) == value)


def engagements_for(session: Session, account_id: int, value: str) -> list[Engagement]:
    """Engagements that involve the address (or any address of the domain)."""
    contact_ids = [cid for addr, cid in session.execute(select(ContactEmail.address, ContactEmail.contact_id)
                   .where(ContactEmail.account_id == account_id)) if _matches(addr, value)]
    linked = set(session.scalars(select(EngagementContact.engagement_id).where(
        EngagementContact.contact_id.in_(contact_ids)))) if contact_ids else set()
    found = []
    for e in session.scalars(select(Engagement).where(Engagement.account_id == account_id)):
        people = [e.from_address] + [b.get("address") for b in (e.to_addresses or []) + (e.cc_addresses or [])]
        if e.id in linked or any(_matches(a, value) for a in people):
            found.append(e)
    return found


def purge_engagements(session: Session, engagements: list[Engagement], blobs: BlobStore, grace: float) -> int:
    """Delete these engagements, and in the same transaction the blobs (attachment files, raw
    copies) that nothing references any more (store.blobstore.refs)."""
    ids = [e.id for e in engagements]
    if not ids:
        return 0
    meetings.delete_for(session, ids)
    freed = set(session.scalars(select(Attachment.sha256).where(
        Attachment.engagement_id.in_(ids), Attachment.stored.is_(True))))
    for table in (EngagementContact, EngagementCompany, EngagementDeal, Attachment):
        session.execute(delete(table).where(table.engagement_id.in_(ids)))
    session.execute(Decision.__table__.update().where(Decision.engagement_id.in_(ids)).values(engagement_id=None))
    received = [e.received_message_id for e in engagements if e.received_message_id]
    for message in session.scalars(select(ReceivedMessage).where(ReceivedMessage.id.in_(received))):
        if message.status == "logged":
            lifecycle.purge(message)
            freed.add(message.raw_sha256)
    session.execute(delete(Engagement).where(Engagement.id.in_(ids)))
    for account_id in {e.account_id for e in engagements}:
        events.engagements_deleted(session, account_id, [e.id for e in engagements if e.account_id == account_id],
                                   "purged")
    session.flush()
    refs.release(session, blobs, freed, grace)
    return len(ids)


def expired_held(session: Session, retention_days: int, now: datetime | None = None) -> list[ReceivedMessage]:
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=retention_days)
    return list(session.scalars(select(ReceivedMessage).where(
        ReceivedMessage.status == "held", ReceivedMessage.received_at < cutoff)))


def expire_held(session: Session, retention_days: int, blobs: BlobStore, grace: float) -> int:
    """Expire held messages past their retention, and release their raw copies in the same
    transaction (deleted when nothing else references them). Returns how many expired."""
    expired = expired_held(session, retention_days)
    for message in expired:
        lifecycle.expire(session, message, retention_days)
    session.flush()
    refs.release(session, blobs, {m.raw_sha256 for m in expired}, grace)
    return len(expired)
