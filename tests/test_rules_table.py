"""The rules as a table: (candidate email, CRM facts) -> reason code, without SMTP or a database."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest

from smtp_logger.decide.rules import Candidate, CrmFacts, ThreadFacts, UserFacts, decide
from smtp_logger.understand.addresses import Mailbox

USER = UserFacts(1, frozenset({"alice@ours.example", "a.seller@ours.example"}), frozenset({7}),
                 {"sales@ours.example": 7})
BASE_FACTS = CrmFacts(
    user=USER,
    internal_addresses=frozenset({"alice@ours.example", "carol@ours.example", "sales@ours.example"}),
    logging_domains=frozenset({"bcc.smtp-logger.localhost", "fwd.smtp-logger.localhost"}),
    never_log=frozenset({"competitor.example", "private@acme.example"}),
    contacts={"bob@acme.example": 10, "dora@globex.example": 11},
)
SENT = datetime(2026, 11, 23, 10, 15, tzinfo=timezone.utc)


def box(address, name=None):
    return Mailbox(name, address)


def bcc(sender="alice@ours.example", to=("bob@acme.example",), cc=(), **kw):
    return Candidate(delivery="bcc", direction="outgoing", from_=box(sender), to=tuple(map(box, to)),
                     cc=tuple(map(box, cc)), subject="Offer", sent_at=SENT, thread_keys=("m1@x",),
                     dedup_key="mid:m1@x", subject_key="offer", **kw)


def auto_copy(sender="bob@acme.example", to=("alice@ours.example",), keys=("r1@x", "m1@x"), **kw):
    return Candidate(delivery="auto_copy", direction="incoming", from_=box(sender), to=tuple(map(box, to)),
                     cc=(), subject="Re: Offer", sent_at=SENT, thread_keys=keys, dedup_key="mid:r1@x",
                     subject_key="offer", **kw)


def forward(sender=box("bob@acme.example", "Bob"), found=True, **kw):
    return Candidate(delivery="manual_forward", direction="incoming", from_=sender,
                     to=(box("alice@ours.example"),), cc=(), subject="Question", sent_at=SENT,
                     thread_keys=(), dedup_key="sha256:abc", subject_key="question",
                     original_found=found, **kw)


OWN_THREAD = ThreadFacts(5, owner_user_id=1, owner_team_id=None, never_log=False)
OTHER_THREAD = ThreadFacts(6, owner_user_id=2, owner_team_id=None, never_log=False)
TEAM_THREAD = ThreadFacts(8, owner_user_id=None, owner_team_id=7, never_log=False)
NEVER_THREAD = ThreadFacts(9, owner_user_id=1, owner_team_id=None, never_log=True)
OWN = ("OWN_NOTICE", "our own notice 42 came back")  # what understand/classify/notices.py finds

CASES = [
    # (name, candidate, facts changes, expected reason)
    ("bcc to a contact", bcc(), {}, "LOGGED"),
    ("bcc from an alias", bcc(sender="a.seller@ours.example"), {}, "LOGGED"),
    ("bcc from a team address the user is in", bcc(sender="sales@ours.example"), {}, "LOGGED"),
    ("bcc from someone else", bcc(sender="mallory@evil.example"), {}, "SENDER_NOT_ALLOWED"),
    ("bcc failing sender authentication", bcc(), {"sender_authenticated": False}, "AUTH_FAILED"),
    ("bcc already logged", bcc(), {"already_logged": True}, "DUPLICATE"),
    ("bcc beyond the flood limit", bcc(), {"flood_limit": 3, "sender_recent": 3}, "FLOOD"),
    ("bcc just under the flood limit", bcc(), {"flood_limit": 3, "sender_recent": 2}, "LOGGED"),
    ("flood comes before duplicate", bcc(), {"flood_limit": 3, "sender_recent": 5, "already_logged": True}, "FLOOD"),
    ("authentication comes before flood", bcc(), {"flood_limit": 3, "sender_recent": 5,
                                                  "sender_authenticated": False}, "AUTH_FAILED"),
    ("flood counting off", bcc(), {"flood_limit": 0, "sender_recent": 500}, "LOGGED"),
    ("our own notice", bcc(automatic=OWN), {}, "OWN_NOTICE"),
    ("our own notice from a stranger", bcc(sender="notices@smtp.example", automatic=OWN), {}, "OWN_NOTICE"),
    ("our own notice before a flood", bcc(automatic=OWN), {"flood_limit": 3, "sender_recent": 5}, "OWN_NOTICE"),
    ("our own notice before a failed sender check", bcc(automatic=OWN), {"sender_authenticated": False},
     "OWN_NOTICE"),
    ("our own notice in a reply", auto_copy(automatic=OWN), {"thread": OWN_THREAD}, "OWN_NOTICE"),
    ("sender check comes before duplicate", bcc(sender="x@evil.example"), {"already_logged": True}, "SENDER_NOT_ALLOWED"),
    ("bcc only to colleagues", bcc(to=("carol@ours.example",)), {}, "NO_EXTERNAL_RECIPIENTS"),
    ("bcc only to a logging address", bcc(to=("abc@bcc.smtp-logger.localhost",)), {}, "NO_EXTERNAL_RECIPIENTS"),
    ("bcc only to never-log domain", bcc(to=("x@competitor.example",)), {}, "NEVER_LOG"),
    ("bcc only to never-log address", bcc(to=("private@acme.example",)), {}, "NEVER_LOG"),
    ("bcc to never-log and a new person", bcc(to=("x@competitor.example", "new@newco.example")), {}, "LOGGED"),
    ("bcc to a new person, contact creation off", bcc(to=("new@newco.example",)), {"create_contacts": False}, "NO_EXTERNAL_RECIPIENTS"),
    ("bcc bounce", bcc(automatic=("BOUNCE", "dsn")), {}, "BOUNCE"),
    ("reply from contact in own logged thread", auto_copy(), {"thread": OWN_THREAD}, "LOGGED"),
    ("reply from a non-contact alias", auto_copy(sender="bob.alias@acme.example"), {"thread": OWN_THREAD}, "SENDER_NOT_CONTACT"),
    ("reply to an unlogged email", auto_copy(), {}, "NOT_IN_LOGGED_THREAD"),
    ("reply to an unlogged email, log-all-from-contacts on", auto_copy(), {"log_all_from_contacts": True}, "LOGGED"),
    ("reply to another user's thread", auto_copy(), {"thread": OTHER_THREAD}, "THREAD_OWNED_BY_OTHER_USER"),
    ("reply in a team thread the user belongs to", auto_copy(), {"thread": TEAM_THREAD}, "LOGGED"),
    ("reply in a thread that started with never-log", auto_copy(), {"thread": NEVER_THREAD}, "NEVER_LOG"),
    ("reply marked as spam", auto_copy(automatic=("SPAM", "X-Spam-Flag")), {"thread": OWN_THREAD}, "SPAM"),
    ("out-of-office reply", auto_copy(automatic=("AUTO_REPLY", "Auto-Submitted")), {"thread": OWN_THREAD}, "AUTO_REPLY"),
    ("reply from a never-log sender", auto_copy(sender="private@acme.example"), {"thread": OWN_THREAD}, "NEVER_LOG"),
    ("new mail from a non-contact", auto_copy(sender="stranger@newco.example", keys=("n1@x",)), {}, "SENDER_NOT_CONTACT"),
    ("forward of a contact's email", forward(), {}, "LOGGED"),
    ("forward of a new person's email", forward(sender=box("new@newco.example")), {"create_contacts": False}, "LOGGED"),
    ("forward without an original", forward(found=False), {}, "ORIGINAL_NOT_FOUND"),
    ("forward, name-only sender, unique contact", forward(sender=box(None, "Bob Buyer")),
     {"contacts_by_name": {"bob buyer": (10,)}, "contact_addresses": {10: "bob@acme.example"}}, "LOGGED"),
    ("forward, name-only sender, no contact", forward(sender=box(None, "Bob Buyer")), {}, "ORIGINAL_SENDER_UNKNOWN"),
    ("forward, name-only sender, two contacts", forward(sender=box(None, "Bob Buyer")),
     {"contacts_by_name": {"bob buyer": (10, 12)}}, "ORIGINAL_SENDER_UNKNOWN"),
    ("forward of a never-log sender", forward(sender=box("x@competitor.example")), {}, "NEVER_LOG"),
    ("forward of spam-flagged mail is the user's call", forward(automatic=("SPAM", "flag")), {}, "LOGGED"),
]


@pytest.mark.parametrize("name,candidate,changes,expected", CASES, ids=[c[0] for c in CASES])
def test_rule_table(name, candidate, changes, expected):
    decision = decide(candidate, replace(BASE_FACTS, **changes))
    assert decision.reason == expected, decision.detail


def test_bcc_plan_skips_internal_and_never_log_and_creates_new_contacts():
    decision = decide(bcc(to=("bob@acme.example", "new@newco.example", "x@competitor.example"),
                          cc=("carol@ours.example",)), BASE_FACTS)
    assert decision.plan.contact_ids == (10,)
    assert [b.address for b in decision.plan.new_contacts] == ["new@newco.example"]
    assert decision.plan.thread_never_log is True


def test_auto_copy_never_creates_contacts():
    decision = decide(auto_copy(to=("alice@ours.example", "newbie@acme.example")), replace(BASE_FACTS, thread=OWN_THREAD))
    assert decision.plan.new_contacts == () and decision.plan.contact_ids == (10,)


def test_held_reasons_say_what_they_wait_for():
    decision = decide(auto_copy(sender="stranger@newco.example"), BASE_FACTS)
    assert decision.held and ("address", "stranger@newco.example") in decision.waits
    decision = decide(auto_copy(), BASE_FACTS)
    assert decision.held and ("message_id", "m1@x") in decision.waits
    assert ("message_id", "r1@x") in decision.waits  # a logged answer to it brings it in too
