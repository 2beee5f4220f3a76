"""Set-based reads for a batch of deliveries decided in one transaction: the contacts of every
participant, which dedup keys are logged already, the threads that know the batch's
Message-IDs and the companies of the participants' domains, each in one query for the whole
batch (`prefetch`) instead of one per delivery. The store functions that read these
(contacts.contacts_for, engagements.is_logged, thread_by_keys, remember_keys,
contacts.company_id_for) answer from here while the transaction lasts, and the ones that write
them (add_contact, new_thread, remember_keys, facts.write) add what they wrote, so a later
delivery of the batch sees what an earlier one did. What another receiver commits meanwhile is
caught by the unique constraints (the batch is then redone one delivery at a time). A session
that did not prefetch reads as before. SQL only; the caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sqlalchemy import bindparam, exists, select
from sqlalchemy.orm import Session

from smtp_logger.decide.rules import Candidate, ThreadFacts
from smtp_logger.store.models import Company, ContactEmail, Engagement, Thread, ThreadMessageId
from smtp_logger.store.rows import cached
from smtp_logger.understand.addresses import domain_of
from smtp_logger.understand.companies import company_domain

_ACCOUNTS = "batch_reads"
COMPANIES = "companies"  # (account id, domain) -> company id, None when it has none yet


@dataclass
class Reads:
    """What one account's part of the batch read and wrote; the `*_looked` sets say which keys
    were asked (a key looked for and absent is absent)."""

    contacts: dict[str, int] = field(default_factory=dict)
    contacts_looked: set[str] = field(default_factory=set)
    logged: set[str] = field(default_factory=set)
    dedup_looked: set[str] = field(default_factory=set)
    key_threads: dict[str, int] = field(default_factory=dict)
    threads: dict[int, ThreadFacts] = field(default_factory=dict)
    keys_looked: set[str] = field(default_factory=set)

    def look_contacts(self, session: Session, account_id: int, addresses) -> None:
        if missing := sorted(set(addresses) - self.contacts_looked):
            self.contacts.update(session.execute(_CONTACTS, {"account_id": account_id, "addresses": missing}).all())
            self.contacts_looked.update(missing)

    def look_logged(self, session: Session, account_id: int, dedup_keys) -> None:
        if missing := sorted(set(dedup_keys) - self.dedup_looked):
            self.logged.update(session.scalars(_LOGGED, {"account_id": account_id, "keys": missing}))
            self.dedup_looked.update(missing)

    def look_threads(self, session: Session, account_id: int, keys) -> None:
        if missing := sorted(set(keys) - self.keys_looked):
            for key, *facts in session.execute(_THREADS, {"account_id": account_id, "keys": missing}):
                self.key_threads[key] = facts[0]
                self.threads[facts[0]] = ThreadFacts(facts[0], facts[1], facts[2], bool(facts[3]), bool(facts[4]))
            self.keys_looked.update(missing)

    def thread_of(self, keys) -> tuple[bool, ThreadFacts | None]:
        """(known, the oldest thread that knows any of these Message-IDs, all looked for);
        known is False for a thread this transaction tied keys to without reading it."""
        ids = [self.key_threads[key] for key in keys if key in self.key_threads]
        if not ids:
            return True, None
        return (True, self.threads[min(ids)]) if min(ids) in self.threads else (False, None)

    def engagement_written(self, dedup_key: str, thread_id: int) -> None:
        self.logged.add(dedup_key)
        if thread_id in self.threads:
            self.threads[thread_id] = replace(self.threads[thread_id], has_engagements=True)


_CONTACTS = select(ContactEmail.address, ContactEmail.contact_id).where(
    ContactEmail.account_id == bindparam("account_id"),
    ContactEmail.address.in_(bindparam("addresses", expanding=True)))
_LOGGED = select(Engagement.dedup_key).where(Engagement.account_id == bindparam("account_id"),
                                             Engagement.dedup_key.in_(bindparam("keys", expanding=True)))
_THREADS = select(ThreadMessageId.message_id, Thread.id, Thread.owner_user_id, Thread.owner_team_id,
                  Thread.never_log, exists().where(Engagement.thread_id == Thread.id)).join(
    Thread, Thread.id == ThreadMessageId.thread_id).where(
    ThreadMessageId.account_id == bindparam("account_id"),
    ThreadMessageId.message_id.in_(bindparam("keys", expanding=True)))
_COMPANIES = select(Company.domain, Company.id).where(Company.account_id == bindparam("account_id"),
                                                      Company.domain.in_(bindparam("domains", expanding=True)))


def reads(session: Session, account_id: int) -> Reads | None:
    """This transaction's batch reads of the account; None when it did not prefetch."""
    return cached(session, _ACCOUNTS).get(account_id)


def participants(c: Candidate) -> list[str]:
    """The addresses facts.load looks up as contacts."""
    return [b.address for b in (c.from_, *c.to, *c.cc, c.named_contact) if b is not None and b.address]


def prefetch(session: Session, account_id: int, candidates: list[Candidate]) -> None:
    """Read what the deliveries of these candidates (one account's) will ask, a query each."""
    found = cached(session, _ACCOUNTS).setdefault(account_id, Reads())
    addresses = {a for c in candidates for a in participants(c)}
    found.look_contacts(session, account_id, addresses)
    found.look_logged(session, account_id, {c.dedup_key for c in candidates})
    found.look_threads(session, account_id, {key for c in candidates for key in c.thread_keys})
    known = cached(session, COMPANIES)
    domains = {d for a in addresses - found.contacts.keys()
               if (d := company_domain(domain_of(a))) is not None and (account_id, d) not in known}
    if domains:
        companies = dict(session.execute(_COMPANIES, {"account_id": account_id, "domains": sorted(domains)}).all())
        known.update({(account_id, d): companies.get(d) for d in domains})
