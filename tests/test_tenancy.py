"""Tenant isolation: two accounts (two CRMs) on one receiver and one database. The same email
BCC'd by a user of each is logged once in each account; contacts, threads and duplicates never
cross accounts."""

from __future__ import annotations

from sqlalchemy import func, select

from smtp_logger.store import accounts
from smtp_logger.store.db import session_factory
from smtp_logger.store.models import Account, Contact, Engagement, Thread

from .mailers import message, msgid, send


def test_same_email_in_two_accounts_is_logged_in_each(receiver):
    alice = receiver.add_user("alice@ours.example")  # the default account
    sessions = session_factory(receiver.settings.db_url)
    with sessions() as session:
        other = Account(name="Second CRM")
        session.add(other)
        session.flush()
        zoe = accounts.add_user(session, other.id, "zoe@theirs.example", None, [], receiver.settings)
        zoe_bcc = accounts.current_addresses(session, zoe)["bcc"]
        other_id = other.id
        session.commit()
    m = message("alice@ours.example", "bob@acme.example", cc="zoe@theirs.example")
    send(receiver.port, m, [alice["bcc_address"], zoe_bcc], mail_from="alice@ours.example")
    m2 = message("zoe@theirs.example", "bob@acme.example", message_id=m["Message-ID"])
    send(receiver.port, m2, [zoe_bcc], mail_from="zoe@theirs.example")
    receiver.drain()
    with sessions() as session:  # several accounts now: each command names the one it asks about
        first_id = session.scalars(select(Account.id).where(Account.id != other_id)).one()
    reasons = {(d["logging_address"] == zoe_bcc, d["reason"])
               for account in (first_id, other_id)
               for d in receiver.cli.json("why", msgid(m), "--account", str(account))}
    # Alice's account logs it; in Zoe's account the first copy is not from Zoe, the second is
    # Zoe's own (same Message-ID, other account: not a duplicate there).
    assert reasons == {(False, "LOGGED"), (True, "SENDER_NOT_ALLOWED"), (True, "LOGGED")}
    with sessions() as session:
        per_account = dict(session.execute(select(Engagement.account_id, func.count())
                                           .group_by(Engagement.account_id)).all())
        contacts = dict(session.execute(select(Contact.account_id, func.count())
                                        .group_by(Contact.account_id)).all())
        threads = set(session.execute(select(Thread.account_id)).scalars())
    default_id = next(k for k in per_account if k != other_id)
    assert per_account == {default_id: 1, other_id: 1}
    assert contacts[other_id] == 1  # bob, created in Zoe's account separately
    assert contacts[default_id] == 2  # bob and zoe (a customer for Alice's account)
    assert threads == {default_id, other_id}
    assert [e["from"] for e in receiver.cli.json("timeline", "bob@acme.example", "--account", str(default_id))] \
        == ["alice@ours.example"]
