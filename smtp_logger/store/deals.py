"""Deals: creating them (contacts by address, a company by domain, an owner among the users),
their stage, listing them, and what the pipeline reads and writes about them: the open deals
near a logged email's contacts, which account a deal id asked for belongs to, the email's links
(linked_by policy | address | tag), the deal ids its record address named, and the requests
that were ignored. SQL only; callers own the transaction.
"""

from __future__ import annotations

from sqlalchemy import bindparam, exists, or_, select
from sqlalchemy.orm import Session

from smtp_logger.decide.deals import STAGES, STAGES_OPEN, Ignored, OpenDeal
from smtp_logger.store.accounts import NotFound, current_addresses, find_user, users_of
from smtp_logger.store.contacts import contact_by_email, contact_emails
from smtp_logger.store.dealmodels import Deal, DealContact, EngagementDeal, IgnoredDealRef, ReceivedDealRef
from smtp_logger.store.models import Company, Contact, User, utcnow
from smtp_logger.store.rows import cached, defer_rows, insert_all, insert_id
from smtp_logger.understand.companies import company_domain, company_name

MAX_DEAL_ID = 2**31 - 1  # larger ids name no deal (and would not fit the column)


def _company(session: Session, account_id: int, domain: str) -> int:
    key = company_domain(domain)
    if key is None:
        raise ValueError(f"not a company domain (free-mail domains make no company): {domain!r}")
    found = session.scalar(select(Company.id).where(Company.account_id == account_id, Company.domain == key))
    return found if found is not None else insert_id(session, Company, account_id=account_id, domain=key,
                                                     name=company_name(key))


def add_deal(session: Session, account_id: int, name: str, contact_addresses: list[str],
             domain: str | None = None, owner_email: str | None = None) -> Deal:
    """A new open deal. Unknown contacts or owner: NotFound; a free-mail domain: ValueError."""
    contact_ids = list(dict.fromkeys(contact_by_email(session, account_id, a).id for a in contact_addresses))
    owner = find_user(session, account_id, owner_email).id if owner_email else None
    company = _company(session, account_id, domain) if domain else None
    deal = Deal(account_id=account_id, name=name, stage="open", company_id=company, owner_user_id=owner)
    session.add(deal)
    session.flush()
    insert_all(session, DealContact, [dict(deal_id=deal.id, contact_id=cid) for cid in contact_ids])
    return deal


def get_deal(session: Session, account_id: int, deal_id: int) -> Deal:
    """The account's deal; another account's answers exactly like one that does not exist."""
    deal = session.get(Deal, deal_id) if 0 < deal_id <= MAX_DEAL_ID else None
    if deal is None or deal.account_id != account_id:
        raise NotFound(f"no deal {deal_id}")
    return deal


def set_stage(session: Session, account_id: int, deal_id: int, stage: str) -> Deal:
    if stage not in STAGES:
        raise ValueError(f"not a stage: {stage!r} (open, won, lost)")
    deal = get_deal(session, account_id, deal_id)
    if deal.stage != stage:
        deal.stage, deal.updated_at = stage, utcnow()
        session.flush()
    return deal


def deals_of(session: Session, account_id: int, contact_address: str | None = None,
             after_id: int = 0, limit: int | None = None) -> list[Deal]:
    """The account's deals by id (those of one contact, when given)."""
    query = select(Deal).where(Deal.account_id == account_id, Deal.id > after_id)
    if contact_address is not None:
        contact = contact_by_email(session, account_id, contact_address)
        query = query.where(Deal.id.in_(select(DealContact.deal_id).where(DealContact.contact_id == contact.id)))
    return list(session.scalars(query.order_by(Deal.id).limit(limit)))


def record_address(address: str | None, deal_id: int) -> str | None:
    if not address:
        return None
    token, _, domain = address.partition("@")
    return f"{token}+deal-{deal_id}@{domain}"


def deal_dict(session: Session, deal: Deal) -> dict:
    """A deal as `deals … --json` prints it. Its record addresses carry the owner's tokens (a
    deal without an owner: the account's first user's); any user's token works the same."""
    contact_ids = session.scalars(select(DealContact.contact_id).where(DealContact.deal_id == deal.id)
                                  .order_by(DealContact.contact_id))
    owner = session.get(User, deal.owner_user_id) if deal.owner_user_id else None
    holder = owner or next(iter(users_of(session, deal.account_id)), None)
    addresses = current_addresses(session, holder) if holder else {}
    company = session.get(Company, deal.company_id) if deal.company_id else None
    return {"id": deal.id, "name": deal.name, "stage": deal.stage,
            "contacts": [emails[0] for cid in contact_ids if (emails := contact_emails(session, cid))],
            "company": company.domain if company else None, "owner": owner.email if owner else None,
            "created_at": deal.created_at.isoformat(), "updated_at": deal.updated_at.isoformat(),
            "bcc_address": record_address(addresses.get("bcc"), deal.id),
            "forward_address": record_address(addresses.get("forward"), deal.id)}


# -- what the pipeline reads and writes -------------------------------------------------------

def deal_owners(session: Session, refs: list[str]) -> dict[str, int]:
    """The account of each existing deal among these ids (as asked: digits)."""
    ids = {int(ref) for ref in refs if 0 < int(ref) <= MAX_DEAL_ID}
    if not ids:
        return {}
    return {str(deal_id): account_id for deal_id, account_id in
            session.execute(select(Deal.id, Deal.account_id).where(Deal.id.in_(ids)))}


def contacts_of_deals(session: Session, deal_ids: list[int]) -> list[int]:
    if not deal_ids:
        return []
    return list(dict.fromkeys(session.scalars(select(DealContact.contact_id).where(
        DealContact.deal_id.in_(deal_ids)).order_by(DealContact.deal_id, DealContact.contact_id))))


# Statements run for every logged message are built once; only their parameters change.
_ANY_OPEN = select(exists().where(Deal.account_id == bindparam("account_id"), Deal.stage.in_(STAGES_OPEN)))
_OF_CONTACTS = select(DealContact.deal_id).where(DealContact.contact_id.in_(bindparam("contact_ids", expanding=True)))
_OF_COMPANIES = select(Contact.company_id).where(Contact.id.in_(bindparam("contact_ids", expanding=True)),
                                                 Contact.company_id.is_not(None))
_OPEN_NEAR = select(Deal.id, Deal.updated_at, Deal.id.in_(_OF_CONTACTS)).where(
    Deal.account_id == bindparam("account_id"), Deal.stage.in_(STAGES_OPEN),
    or_(Deal.id.in_(_OF_CONTACTS), Deal.company_id.in_(_OF_COMPANIES)))


def open_deals_near(session: Session, account_id: int, contact_ids: list[int]) -> list[OpenDeal]:
    """Open deals of these contacts, and of their companies (by_contact False when only that).
    Whether the account has any open deal is asked once per transaction (a batch): the pipeline
    opens or closes none."""
    if not contact_ids:
        return []
    any_open = cached(session, "open_deals")
    if account_id not in any_open:
        any_open[account_id] = bool(session.scalar(_ANY_OPEN, {"account_id": account_id}))
    if not any_open[account_id]:
        return []
    rows = session.execute(_OPEN_NEAR, {"account_id": account_id, "contact_ids": list(contact_ids)})
    return [OpenDeal(deal_id, updated_at, bool(by_contact)) for deal_id, updated_at, by_contact in rows]


def link(session: Session, engagement_id: int, links: list[tuple[int, str]]) -> None:
    """The engagement's deals (written at commit with the batch's other rows)."""
    defer_rows(session, EngagementDeal, [dict(engagement_id=engagement_id, deal_id=deal_id, linked_by=by)
                                         for deal_id, by in links])


def note_ignored(session: Session, account_id: int, received_id: int, ignored: tuple[Ignored, ...]) -> None:
    defer_rows(session, IgnoredDealRef, [dict(account_id=account_id, received_message_id=received_id,
                                              ref=each.ref, via=each.via, reason=each.reason,
                                              created_at=utcnow()) for each in ignored])


def remember_refs(session: Session, received_id: int, refs: list[str]) -> None:
    """The deal ids a delivery's record addresses named, kept for a later decision (held mail)."""
    defer_rows(session, ReceivedDealRef, [dict(received_message_id=received_id, ref=ref)
                                          for ref in dict.fromkeys(refs)])


def refs_of(session: Session, received_id: int) -> list[str]:
    return list(session.scalars(select(ReceivedDealRef.ref).where(
        ReceivedDealRef.received_message_id == received_id).order_by(ReceivedDealRef.id)))


# -- what users read --------------------------------------------------------------------------

def links_of(session: Session, engagement_id: int | None) -> list[dict]:
    """`deals` of the timeline and `why --json`: [{"id", "name", "linked_by"}]."""
    if engagement_id is None:
        return []
    rows = session.execute(select(Deal.id, Deal.name, EngagementDeal.linked_by).join(
        EngagementDeal, EngagementDeal.deal_id == Deal.id).where(
        EngagementDeal.engagement_id == engagement_id).order_by(Deal.id))
    return [{"id": deal_id, "name": name, "linked_by": by} for deal_id, name, by in rows]


def ignored_of(session: Session, received_id: int) -> list[dict]:
    """`deal_ignored` of `why --json`: [{"id", "via", "reason"}]."""
    rows = session.execute(select(IgnoredDealRef.ref, IgnoredDealRef.via, IgnoredDealRef.reason).where(
        IgnoredDealRef.received_message_id == received_id).order_by(IgnoredDealRef.id))
    return [{"id": int(ref), "via": via, "reason": reason} for ref, via, reason in rows]
