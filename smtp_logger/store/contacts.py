"""Contacts (several addresses each), companies by domain, merges, and never-log entries.

SQL only; callers own the transaction. Uniqueness of a contact address per account is the
database's job (a race between receivers ends in IntegrityError, retried by the pipeline).
"""

from __future__ import annotations

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from smtp_logger.store import batchreads, events
from smtp_logger.store.accounts import Conflict, NotFound
from smtp_logger.store.dealmodels import DealContact
from smtp_logger.store.directory import bump
from smtp_logger.store.models import (
    Company,
    Contact,
    ContactEmail,
    EngagementCompany,
    EngagementContact,
    NeverLog,
)
from smtp_logger.store.rows import cached, defer, defer_rows, insert_all, insert_id
from smtp_logger.understand.addresses import domain_of, is_valid_address, normalize_address
from smtp_logger.understand.companies import company_domain, company_name


def contact_by_email(session: Session, account_id: int, address: str) -> Contact:
    row = session.scalars(select(Contact).join(ContactEmail, ContactEmail.contact_id == Contact.id).where(
        ContactEmail.account_id == account_id, ContactEmail.address == address)).first()
    if row is None:
        raise NotFound(f"no contact with address {address}")
    return row


def contact_emails(session: Session, contact_id: int) -> list[str]:
    return list(session.scalars(select(ContactEmail.address).where(
        ContactEmail.contact_id == contact_id).order_by(ContactEmail.id)))


_COMPANY_OF_DOMAIN = select(Company.id).where(Company.account_id == bindparam("account_id"),
                                              Company.domain == bindparam("domain"))


def company_id_for(session: Session, account_id: int, address: str) -> int | None:
    """The company of an address's domain, created on first sight (none for free-mail). Looked
    up once per transaction and domain (a batch's contacts often share one)."""
    domain = company_domain(domain_of(address))
    if domain is None:
        return None
    known = cached(session, batchreads.COMPANIES)
    if (account_id, domain) not in known:
        known[account_id, domain] = session.scalar(_COMPANY_OF_DOMAIN, {"account_id": account_id, "domain": domain})
    if known[account_id, domain] is None:
        known[account_id, domain] = insert_id(session, Company, account_id=account_id, domain=domain,
                                              name=company_name(domain))
    return known[account_id, domain]


def add_contact(session: Session, account_id: int, address: str, name: str | None,
                extra: list[str] = (), created_by: str = "admin", check_existing: bool = True) -> int:
    """A new contact's id. `check_existing=False` (the pipeline, which just looked) leaves a
    racing duplicate to the unique constraint instead of an extra query."""
    for each in [address, *extra] if check_existing else ():
        if session.scalar(select(ContactEmail.id).where(
                ContactEmail.account_id == account_id, ContactEmail.address == each)):
            raise Conflict(f"{each} already belongs to a contact")
    contact_id = insert_id(session, Contact, account_id=account_id, name=name, created_by=created_by,
                           company_id=company_id_for(session, account_id, address))
    emails = [dict(account_id=account_id, contact_id=contact_id, address=each)
              for each in dict.fromkeys([address, *extra])]
    if (batch := batchreads.reads(session, account_id)) is None:
        insert_all(session, ContactEmail, emails)
    else:  # the batch reads them from there; the rows are written at commit with the batch's
        defer_rows(session, ContactEmail, emails)
        batch.contacts.update(dict.fromkeys([address, *extra], contact_id))
        batch.contacts_looked.update([address, *extra])
    return contact_id


def add_email(session: Session, account_id: int, contact_address: str, new_address: str) -> Contact:
    contact = contact_by_email(session, account_id, contact_address)
    if session.scalars(select(ContactEmail).where(
            ContactEmail.account_id == account_id, ContactEmail.address == new_address)).first():
        raise Conflict(f"{new_address} already belongs to a contact")
    session.add(ContactEmail(account_id=account_id, contact_id=contact.id, address=new_address))
    session.flush()
    return contact


def merge(session: Session, account_id: int, keep_address: str, other_address: str) -> Contact:
    """Move OTHER's addresses and engagements to KEEP; nothing is duplicated."""
    keep = contact_by_email(session, account_id, keep_address)
    other = contact_by_email(session, account_id, other_address)
    if keep.id == other.id:
        raise Conflict("both addresses belong to the same contact")
    moved = list(session.scalars(select(EngagementContact.engagement_id).where(
        EngagementContact.contact_id == other.id).order_by(EngagementContact.engagement_id)))
    events.engagements_moved(session, account_id, moved, keep.id, other.id)
    session.execute(update(ContactEmail).where(ContactEmail.contact_id == other.id)
                    .values(contact_id=keep.id))
    already = select(EngagementContact.engagement_id).where(EngagementContact.contact_id == keep.id)
    session.execute(delete(EngagementContact).where(
        EngagementContact.contact_id == other.id, EngagementContact.engagement_id.in_(already)))
    session.execute(update(EngagementContact).where(EngagementContact.contact_id == other.id)
                    .values(contact_id=keep.id))
    on_deals = select(DealContact.deal_id).where(DealContact.contact_id == keep.id)
    session.execute(delete(DealContact).where(DealContact.contact_id == other.id, DealContact.deal_id.in_(on_deals)))
    session.execute(update(DealContact).where(DealContact.contact_id == other.id).values(contact_id=keep.id))
    if keep.name is None:
        keep.name = other.name
    if keep.company_id is None:
        keep.company_id = other.company_id
    session.delete(other)
    session.flush()
    return keep


# Statements run for every message are built once; only their parameters change.
_CONTACTS_FOR = select(ContactEmail.address, ContactEmail.contact_id).where(
    ContactEmail.account_id == bindparam("account_id"),
    ContactEmail.address.in_(bindparam("addresses", expanding=True)))
# An engagement's companies are its contacts' companies: copied in the database, one statement
# for all the engagements of a batch.
_LINK_COMPANIES = insert(EngagementCompany.__table__).from_select(
    ["engagement_id", "company_id"],
    select(EngagementContact.engagement_id, Contact.company_id).distinct()
    .join(Contact, Contact.id == EngagementContact.contact_id).where(
        EngagementContact.engagement_id.in_(bindparam("engagement_ids", expanding=True)),
        Contact.company_id.is_not(None)))


def contacts_for(session: Session, account_id: int, addresses: list[str]) -> dict[str, int]:
    if not addresses:
        return {}
    if (batch := batchreads.reads(session, account_id)) is not None:
        batch.look_contacts(session, account_id, addresses)
        return {address: batch.contacts[address] for address in addresses if address in batch.contacts}
    rows = session.execute(_CONTACTS_FOR, {"account_id": account_id, "addresses": sorted(set(addresses))})
    return {address: contact_id for address, contact_id in rows}


def contacts_named(session: Session, account_id: int, name: str) -> tuple[dict[str, tuple[int, ...]], dict[int, str]]:
    """Contacts whose name matches (case-insensitively), and a primary address for each."""
    ids = tuple(session.scalars(select(Contact.id).where(
        Contact.account_id == account_id, func.lower(Contact.name) == name.lower())))
    primary = {cid: contact_emails(session, cid)[0] for cid in ids if contact_emails(session, cid)}
    return {name.casefold(): ids}, primary


def link(session: Session, engagement_id: int, contact_ids: list[int]) -> None:
    """An engagement's contacts, and the companies they belong to: written at commit (or before
    a query that reads them), with the rest of the batch's."""
    defer(session, _write_links, (engagement_id, list(dict.fromkeys(contact_ids))))


def _write_links(session: Session, links: list[tuple[int, list[int]]]) -> None:
    insert_all(session, EngagementContact, [dict(engagement_id=engagement_id, contact_id=contact_id)
                                            for engagement_id, contact_ids in links
                                            for contact_id in contact_ids])
    linked = [engagement_id for engagement_id, contact_ids in links if contact_ids]
    if linked:
        session.execute(_LINK_COMPANIES, {"engagement_ids": linked})


def add_never_log(session: Session, account_id: int, value: str, user_id: int | None) -> NeverLog:
    existing = session.scalars(select(NeverLog).where(
        NeverLog.account_id == account_id, NeverLog.value == value,
        NeverLog.user_id.is_(None) if user_id is None else NeverLog.user_id == user_id)).first()
    if existing:
        return existing
    bump(session, account_id)
    row = NeverLog(account_id=account_id, value=value, user_id=user_id)
    session.add(row)
    session.flush()
    return row


def never_log_value(value: str) -> str:
    """An address or a domain as a never-log list keeps it; ValueError when it is neither."""
    value = value.strip().lower().lstrip("@")
    if "@" in value:
        value = normalize_address(value)
        if is_valid_address(value) and value.isprintable():
            return value
        raise ValueError(f"not a valid email address: {value!r}")
    if "." not in value or " " in value or not value.isprintable() or len(value) > 255:
        raise ValueError(f"not an address or a domain: {value!r}")
    return value


def remove_never_log(session: Session, account_id: int, value: str, user_id: int | None) -> None:
    row = session.scalars(select(NeverLog).where(
        NeverLog.account_id == account_id, NeverLog.value == value,
        NeverLog.user_id.is_(None) if user_id is None else NeverLog.user_id == user_id)).first()
    if row is None:
        raise NotFound(f"{value} is not on that never-log list")
    bump(session, account_id)
    session.delete(row)
    session.flush()
