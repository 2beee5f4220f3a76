"""Contact upserts (the API's `contacts:batch`): create the contact, or add the addresses and
name it lacks, through the same store functions as `contacts add` and `contacts add-email`.
Each item is checked before it writes, so one that conflicts (an address of another contact)
fails alone. Returns what changed, for one retroactive-logging pass over the whole batch. SQL only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from smtp_logger.store import contacts
from smtp_logger.store.accounts import Conflict, NotFound
from smtp_logger.store.models import Contact


@dataclass
class Upserted:
    email: str
    status: str  # created | updated | unchanged | error
    contact_id: int | None = None
    error: str | None = None
    addresses: set[str] = field(default_factory=set)  # new on a contact
    names: set[str] = field(default_factory=set)


def _upsert(session: Session, account_id: int, email: str, name: str | None, extra: list[str]) -> Upserted:
    known = contacts.contacts_for(session, account_id, [email, *extra])
    if email not in known:
        taken = [a for a in extra if a in known]
        if taken:
            raise Conflict(f"{taken[0]} already belongs to a contact")
        contact_id = contacts.add_contact(session, account_id, email, name, extra)
        return Upserted(email, "created", contact_id, addresses={email, *extra}, names={name} if name else set())
    contact_id = known[email]
    result = Upserted(email, "unchanged", contact_id)
    taken = [a for a in extra if a in known and known[a] != contact_id]
    if taken:
        raise Conflict(f"{taken[0]} already belongs to another contact")
    for address in dict.fromkeys(a for a in extra if a not in known):
        contacts.add_email(session, account_id, email, address)
        result.addresses.add(address)
    contact = session.get(Contact, contact_id)
    if name and contact.name != name:
        contact.name = name
        result.names.add(name)
    if result.addresses or result.names:
        result.status = "updated"
    return result


def upsert_many(session: Session, account_id: int, items: list[tuple[str, str | None, list[str]]]) -> list[Upserted]:
    """Every item is checked before it writes anything, so one that conflicts fails alone."""
    results = []
    for email, name, extra in items:
        try:
            results.append(_upsert(session, account_id, email, name, [a for a in extra if a != email]))
        except (Conflict, NotFound) as exc:
            results.append(Upserted(email, "error", error=str(exc)))
    return results
