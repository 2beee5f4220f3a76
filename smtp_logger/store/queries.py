"""What a user can ask: a contact's timeline, why a message was (not) logged, held mail.
Read-only SQL returning plain dicts in the shape of the command line's JSON contract."""

from __future__ import annotations

from datetime import timedelta, timezone

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from smtp_logger.decide.deals import DEFAULT_MAX, DEFAULT_POLICY
from smtp_logger.decide.reasons import FORWARDING_CONFIRMATION, LOGGED, explain
from smtp_logger.store.accounts import NotFound, current_addresses, user_addresses
from smtp_logger.store.contacts import contact_by_email, contact_emails
from smtp_logger.store.deals import ignored_of, links_of
from smtp_logger.store.meetings import meeting_dict
from smtp_logger.store.models import (
    Account,
    Attachment,
    Company,
    Decision,
    Engagement,
    EngagementCompany,
    EngagementContact,
    ReceivedMessage,
    User,
)


def _iso(value, offset_minutes: int = 0) -> str:
    return value.astimezone(timezone(timedelta(minutes=offset_minutes))).isoformat()


def _addresses(boxes) -> list[str]:
    return [b["address"] for b in boxes or [] if b.get("address")]


def _attachment(row: Attachment) -> dict:
    item = {"id": row.id, "filename": row.filename, "content_type": row.content_type, "size": row.size,
            "sha256": row.sha256, "stored": row.stored, "inline": row.inline,
            "content_id": row.content_id}
    if row.reason:
        item["reason"] = row.reason
    if row.blocked_type:
        item["blocked_type"] = row.blocked_type
    return item


def _associations(session: Session, engagement_id: int) -> tuple[list[str], list[dict]]:
    """The engagement's contacts (by first address) and companies."""
    contact_ids = list(session.scalars(select(EngagementContact.contact_id).where(
        EngagementContact.engagement_id == engagement_id).order_by(EngagementContact.contact_id)))
    contacts = [emails[0] for cid in contact_ids if (emails := contact_emails(session, cid))]
    companies = [{"domain": c.domain, "name": c.name} for c in session.scalars(
        select(Company).join(EngagementCompany, EngagementCompany.company_id == Company.id)
        .where(EngagementCompany.engagement_id == engagement_id).order_by(Company.domain))]
    return contacts, companies


def engagement_dict(session: Session, e: Engagement) -> dict:
    attachments = list(session.scalars(select(Attachment).where(Attachment.engagement_id == e.id)
                                       .order_by(Attachment.id)))
    contacts, companies = _associations(session, e.id)
    item = {
        "id": e.id, "type": e.type, "direction": e.direction, "subject": e.subject, "from": e.from_address,
        "from_name": e.from_name, "to": _addresses(e.to_addresses), "cc": _addresses(e.cc_addresses),
        "sent_at": _iso(e.sent_at, e.sent_at_offset_minutes), "thread_id": e.thread_id,
        "message_id": e.message_id, "body_text": e.body_text, "reply_text": e.reply_text,
        "has_html": e.body_html is not None, "source": e.source,
        "attachments": [_attachment(a) for a in attachments if not a.signature],
        "signature_images": [_attachment(a) for a in attachments if a.signature],  # logos, for rendering
        "contacts": contacts, "companies": companies, "deals": links_of(session, e.id),
        "owner": owner.email if (owner := session.get(User, e.owner_user_id) if e.owner_user_id else None) else None,
    }
    item["meeting"] = meeting_dict(session, e.id) if e.type == "meeting" else None
    return item


def timeline(session: Session, account_id: int, contact_address: str, before: tuple | None = None,
             limit: int | None = None) -> list[dict]:
    """Newest first; a page of `limit` older than `before` = (sent_at, id) when given (the API)."""
    contact = contact_by_email(session, account_id, contact_address)
    query = select(Engagement).join(EngagementContact, EngagementContact.engagement_id == Engagement.id).where(
        EngagementContact.contact_id == contact.id)
    if before is not None:
        query = query.where(or_(Engagement.sent_at < before[0],
                                and_(Engagement.sent_at == before[0], Engagement.id < before[1])))
    rows = session.scalars(query.order_by(Engagement.sent_at.desc(), Engagement.id.desc()).limit(limit))
    return [engagement_dict(session, e) for e in rows]


def engagement_of(session: Session, account_id: int, engagement_id: int) -> dict:
    e = session.get(Engagement, engagement_id)
    if e is None or e.account_id != account_id:
        raise NotFound(f"no engagement {engagement_id}")
    return engagement_dict(session, e)


def why(session: Session, account_id: int | None, message_id: str) -> list[dict]:
    message_id = message_id.strip().strip("<>")
    # A forward's decision carries the wrapper's Message-ID; the user knows the original's
    # (it is the one on the timeline), so decisions that logged it are found by that too.
    logged_as = select(Engagement.id).where(Engagement.message_id == message_id)
    query = select(Decision, ReceivedMessage, Engagement.type).join(
        ReceivedMessage, ReceivedMessage.id == Decision.received_message_id).outerjoin(
        Engagement, Engagement.id == Decision.engagement_id).where(
        or_(Decision.message_id == message_id, Decision.engagement_id.in_(logged_as)))
    if account_id is not None:
        query = query.where(Decision.account_id == account_id)
    return [{
        "logging_address": d.logging_address, "logged": d.reason == LOGGED, "reason": d.reason,
        "explanation": explain(d.reason, d.detail), "engagement_id": d.engagement_id,
        "logged_as": kind if d.reason == LOGGED else None,  # email | meeting
        "decided_at": d.decided_at.isoformat(), "auth": _auth(m),
        "deals": links_of(session, d.engagement_id),
        "deal_ignored": ignored_of(session, m.id) if d.engagement_id is not None else [],
    } for d, m, kind in session.execute(query.order_by(Decision.id))]


def _auth(m: ReceivedMessage) -> dict:
    """The sender check's results as `why --json` shows them (null: not checked)."""
    return {"spf": m.auth_spf, "dkim": m.auth_dkim, "dmarc": m.auth_dmarc, "method": m.auth_method or "none"}


def recent(session: Session, limit: int, account_id: int | None = None) -> list[dict]:
    """The latest decisions, newest first (to find a Message-ID to ask `why` about)."""
    query = select(Decision, ReceivedMessage.subject).join(
        ReceivedMessage, ReceivedMessage.id == Decision.received_message_id)
    if account_id is not None:
        query = query.where(Decision.account_id == account_id)
    rows = session.execute(query.order_by(Decision.id.desc()).limit(limit))
    return [{"message_id": d.message_id, "logging_address": d.logging_address, "reason": d.reason,
             "logged": d.reason == LOGGED, "decided_at": d.decided_at.isoformat(), "subject": subject}
            for d, subject in rows]


def held(session: Session, account_id: int | None, after: tuple | None = None, limit: int | None = None) -> list[dict]:
    """Held messages, and forwarding confirmations (not held, but the user may still need the
    code and link they carry: `explanation` shows them). Oldest first; a page of `limit` after
    `after` = (received_at, id) when given (the API)."""
    confirmation = and_(ReceivedMessage.status == "not_logged", ReceivedMessage.reason == FORWARDING_CONFIRMATION)
    query = select(ReceivedMessage).where(or_(ReceivedMessage.status == "held", confirmation))
    if account_id is not None:
        query = query.where(ReceivedMessage.account_id == account_id)
    if after is not None:
        query = query.where(or_(ReceivedMessage.received_at > after[0],
                                and_(ReceivedMessage.received_at == after[0], ReceivedMessage.id > after[1])))
    messages = list(session.scalars(query.order_by(ReceivedMessage.received_at, ReceivedMessage.id).limit(limit)))
    asked = [m.id for m in messages if m.reason == FORWARDING_CONFIRMATION]
    details = dict(session.execute(select(Decision.received_message_id, Decision.detail).where(
        Decision.received_message_id.in_(asked), Decision.reason == FORWARDING_CONFIRMATION)).all()) if asked else {}
    return [{
        "id": m.id, "message_id": m.message_id, "logging_address": m.logging_address,
        "reason": m.reason, "explanation": explain(m.reason, details.get(m.id, "")),
        "received_at": m.received_at.isoformat(), "subject": m.subject,
    } for m in messages]


def contact_dict(session: Session, account_id: int, address: str) -> dict:
    contact = contact_by_email(session, account_id, address)
    return {"id": contact.id, "name": contact.name, "emails": contact_emails(session, contact.id),
            "company_id": contact.company_id}


def user_dict(session: Session, user: User) -> dict:
    addresses = current_addresses(session, user)
    return {"id": user.id, "email": user.email, "name": user.name,
            "aliases": sorted(user_addresses(session, user) - {user.email}),
            "bcc_address": addresses.get("bcc"), "forward_address": addresses.get("forward")}


def account_dict(account: Account) -> dict:
    return {"id": account.id, "name": account.name, "create_contacts": account.create_contacts,
            "log_all_from_contacts": account.log_all_from_contacts,
            "notify": account.notify or "immediate", "language": account.language or "en",
            "deal_links": account.deal_links or DEFAULT_POLICY, "deal_links_max": account.deal_links_max or DEFAULT_MAX}
