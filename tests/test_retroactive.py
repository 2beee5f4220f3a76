"""Held mail and retroactive logging over real SMTP, on SQLite and PostgreSQL.

A message held for a reason that can change (SENDER_NOT_CONTACT, NOT_IN_LOGGED_THREAD,
ORIGINAL_SENDER_UNKNOWN) is logged by itself, in its thread and with its original date, when
a contact is added, given an address, merged, or when the email it answers arrives late.
Bounces, out-of-office replies and spam are not held and never logged; `held purge` expires
held mail past retention, which is then never retried.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from smtp_logger.store.db import get_engine
from smtp_logger.store.models import ReceivedMessage

from .mailers import message, msgid, send

ALICE = "alice@ours.example"
BOB = "bob@acme.example"
CET = timezone(timedelta(hours=1))


def at(hour: int) -> datetime:
    return datetime(2026, 11, 23, hour, 0, tzinfo=CET)


@pytest.fixture
def alice(receiver):
    user = receiver.add_user(ALICE, "--name", "Alice Seller")
    receiver.cli("contacts", "add", BOB, "--name", "Bob Buyer")
    return user


def bcc(rx, user, msg):
    assert send(rx.port, msg, [user["bcc_address"]], mail_from=ALICE) == {}
    rx.drain()


def auto_copy(rx, user, msg):
    assert send(rx.port, msg, [user["forward_address"]], mail_from=msg["From"].addresses[0].addr_spec) == {}
    rx.drain()


def reasons(rx, msg) -> list[str]:
    return [d["reason"] for d in rx.cli.json("why", msgid(msg))]


def held_ids(rx) -> dict[str, str]:
    return {h["message_id"]: h["reason"] for h in rx.cli.json("held", "list")}


def offer():
    return message(f"Alice Seller <{ALICE}>", f"Bob Buyer <{BOB}>", subject="Offerte kantoormeubilair",
                   body="Beste Bob,\n\nhierbij de offerte.\n\nAlice\n", date=at(9))


def reply_to(parent, sender: str, hour: int, cc=None, **kw):
    return message(sender, ALICE, subject="Re: " + parent["Subject"].removeprefix("Re: "),
                   body="Hallo Alice,\n\nkan de levering naar maart?\n", cc=cc, date=at(hour),
                   in_reply_to=parent["Message-ID"], **kw)


def iso(msg) -> str:
    return msg["Date"].datetime.isoformat()


def test_add_email_logs_held_reply_in_its_thread(receiver, alice):
    first = offer()
    bcc(receiver, alice, first)
    reply = reply_to(first, "Bob <bob.thuis@acme.example>", 11)
    auto_copy(receiver, alice, reply)
    assert held_ids(receiver) == {msgid(reply): "SENDER_NOT_CONTACT"}
    added = receiver.cli.json("contacts", "add-email", BOB, "bob.thuis@acme.example")
    assert added["retroactively_logged"] == 1
    assert held_ids(receiver) == {}
    assert reasons(receiver, reply) == ["SENDER_NOT_CONTACT", "LOGGED"]
    newest, oldest = receiver.cli.json("timeline", BOB)
    assert (newest["message_id"], oldest["message_id"]) == (msgid(reply), msgid(first))
    assert newest["thread_id"] == oldest["thread_id"] and newest["sent_at"] == iso(reply)
    assert newest["direction"] == "incoming" and newest["from"] == "bob.thuis@acme.example"


def test_contacts_add_logs_held_reply_from_a_colleague_of_the_contact(receiver, alice):
    first = offer()
    bcc(receiver, alice, first)
    reply = reply_to(first, "Eva Inkoop <eva@acme.example>", 12, cc=BOB)
    auto_copy(receiver, alice, reply)
    assert reasons(receiver, reply) == ["SENDER_NOT_CONTACT"]
    created = receiver.cli.json("contacts", "add", "eva@acme.example", "--name", "Eva Inkoop")
    assert created["retroactively_logged"] == 1
    [logged] = receiver.cli.json("timeline", "eva@acme.example")
    bob = receiver.cli.json("timeline", BOB)
    assert [e["message_id"] for e in bob] == [msgid(reply), msgid(first)]  # Bob was on Cc
    assert logged["thread_id"] == bob[1]["thread_id"] and logged["sent_at"] == iso(reply)


def _name_only_forward(user_forward: str) -> bytes:
    return (
        f"From: Alice Seller <{ALICE}>\r\nTo: {user_forward}\r\nSubject: FW: Levering in maart\r\n"
        "Date: Mon, 23 Nov 2026 12:00:00 +0100\r\nMessage-ID: <fw-name-only@ours.example>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        "Graag loggen.\r\n\r\n"
        "From: Bob Buyer\r\nSent: Monday, November 23, 2026 10:15 AM\r\nTo: Alice Seller\r\n"
        "Subject: Levering in maart\r\n\r\nHallo Alice, kan de levering in maart?\r\n\r\nBob\r\n"
    ).encode()


def test_contacts_merge_logs_forward_whose_sender_name_was_ambiguous(receiver, alice):
    receiver.cli("contacts", "add", "bob.buyer@gmail.example", "--name", "Bob Buyer")
    assert send(receiver.port, _name_only_forward(alice["forward_address"]),
                [alice["forward_address"]], mail_from=ALICE) == {}
    receiver.drain()
    assert held_ids(receiver) == {"fw-name-only@ours.example": "ORIGINAL_SENDER_UNKNOWN"}
    merged = receiver.cli.json("contacts", "merge", BOB, "bob.buyer@gmail.example")
    assert merged["retroactively_logged"] == 1
    [e] = receiver.cli.json("timeline", BOB)
    assert e["subject"] == "Levering in maart" and e["from"] == BOB and e["direction"] == "incoming"
    assert e["body_text"].startswith("Hallo Alice") and e["sent_at"].startswith("2026-11-23T10:15")
    assert [d["reason"] for d in receiver.cli.json("why", "fw-name-only@ours.example")] == [
        "ORIGINAL_SENDER_UNKNOWN", "LOGGED"]


def test_late_original_logs_replies_that_arrived_first(receiver, alice):
    first = offer()
    reply = reply_to(first, f"Bob Buyer <{BOB}>", 11)
    second = reply_to(reply, f"Bob Buyer <{BOB}>", 12, references=f"{first['Message-ID']} {reply['Message-ID']}")
    auto_copy(receiver, alice, second)  # mail arrives out of order: newest reply first
    auto_copy(receiver, alice, reply)
    assert held_ids(receiver) == {msgid(second): "NOT_IN_LOGGED_THREAD", msgid(reply): "NOT_IN_LOGGED_THREAD"}
    bcc(receiver, alice, first)  # the BCC copy of the original was delayed
    assert held_ids(receiver) == {}
    timeline = receiver.cli.json("timeline", BOB)
    assert [e["message_id"] for e in timeline] == [msgid(second), msgid(reply), msgid(first)]
    assert len({e["thread_id"] for e in timeline}) == 1
    assert [e["sent_at"] for e in timeline] == [iso(second), iso(reply), iso(first)]
    assert reasons(receiver, reply) == ["NOT_IN_LOGGED_THREAD", "LOGGED"]


def test_new_mail_from_a_contact_joins_the_thread_of_the_bccd_answer(receiver, alice):
    question = message(f"Bob Buyer <{BOB}>", ALICE, subject="Nieuwe vestiging", date=at(8),
                       body="Alice, we openen een vestiging in Gent. Kunnen jullie leveren?\n")
    auto_copy(receiver, alice, question)
    assert reasons(receiver, question) == ["NOT_IN_LOGGED_THREAD"]  # a contact, but no logged thread
    answer = message(ALICE, BOB, subject="Re: Nieuwe vestiging", body="Ja, graag!\n", date=at(9),
                     in_reply_to=question["Message-ID"])
    bcc(receiver, alice, answer)
    assert reasons(receiver, question) == ["NOT_IN_LOGGED_THREAD", "LOGGED"]
    newest, oldest = receiver.cli.json("timeline", BOB)
    assert (newest["message_id"], oldest["message_id"]) == (msgid(answer), msgid(question))
    assert newest["thread_id"] == oldest["thread_id"] and oldest["sent_at"] == iso(question)


def _dsn(original) -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.acme.example>\r\n"
        f"To: {ALICE}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Date: Mon, 23 Nov 2026 09:01:00 +0100\r\nMessage-ID: <dsn-1@mx.acme.example>\r\n"
        "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered to "
        "bob@acme.example: mailbox unavailable.\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.acme.example\r\n\r\nFinal-Recipient: rfc822; bob@acme.example\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\n"
        "--b1\r\nContent-Type: message/rfc822-headers\r\n\r\n"
        f"From: {ALICE}\r\nTo: {BOB}\r\nSubject: {original['Subject']}\r\n"
        f"Message-ID: {original['Message-ID']}\r\n"
        "--b1--\r\n"
    ).encode()


def test_bounce_out_of_office_and_spam_are_not_logged_nor_held(receiver, alice):
    first = offer()
    bcc(receiver, alice, first)
    assert send(receiver.port, _dsn(first), [alice["forward_address"]], mail_from="") == {}
    ooo = reply_to(first, f"Bob Buyer <{BOB}>", 10, headers={"Auto-Submitted": "auto-replied"})
    ooo.replace_header("Subject", "Automatisch antwoord: Offerte kantoormeubilair")
    spam = reply_to(first, f"Bob Buyer <{BOB}>", 11, headers={"X-Spam-Flag": "YES"})
    for msg in (ooo, spam):
        auto_copy(receiver, alice, msg)
    receiver.drain()
    assert [d["reason"] for d in receiver.cli.json("why", "dsn-1@mx.acme.example")] == ["BOUNCE"]
    assert reasons(receiver, ooo) == ["AUTO_REPLY"]
    assert reasons(receiver, spam) == ["SPAM"]
    assert [e["message_id"] for e in receiver.cli.json("timeline", BOB)] == [msgid(first)]
    assert held_ids(receiver) == {}


def test_held_list_shows_reason_address_and_received_at(receiver, alice):
    stranger = message("Nora <nora@nieuwklant.example>", ALICE, subject="Vraag over lease", date=at(8))
    orphan = reply_to(offer(), f"Bob Buyer <{BOB}>", 11)
    before = datetime.now(timezone.utc) - timedelta(seconds=5)
    for msg in (stranger, orphan):
        auto_copy(receiver, alice, msg)
    rows = {h["message_id"]: h for h in receiver.cli.json("held", "list")}
    assert {k: v["reason"] for k, v in rows.items()} == {
        msgid(stranger): "SENDER_NOT_CONTACT", msgid(orphan): "NOT_IN_LOGGED_THREAD"}
    for row in rows.values():
        assert row["logging_address"] == alice["forward_address"]
        received = datetime.fromisoformat(row["received_at"])
        assert received.tzinfo is not None and before <= received <= datetime.now(timezone.utc)


def test_held_purge_expires_past_retention_and_stops_retrying(receiver, alice, db_url):
    first = offer()
    bcc(receiver, alice, first)
    old = reply_to(first, "Bob <bob.thuis@acme.example>", 10)
    fresh = reply_to(first, "Bob <bob.thuis@acme.example>", 11)
    for msg in (old, fresh):
        auto_copy(receiver, alice, msg)
    with get_engine(db_url).begin() as conn:  # the first one arrived 31 days ago
        conn.execute(update(ReceivedMessage).where(ReceivedMessage.message_id == msgid(old))
                     .values(received_at=datetime.now(timezone.utc) - timedelta(days=31)))
    assert receiver.cli.json("held", "purge")["expired"] == 1
    assert held_ids(receiver) == {msgid(fresh): "SENDER_NOT_CONTACT"}
    added = receiver.cli.json("contacts", "add-email", BOB, "bob.thuis@acme.example")
    assert added["retroactively_logged"] == 1  # the fresh one only
    assert [e["message_id"] for e in receiver.cli.json("timeline", BOB)] == [msgid(fresh), msgid(first)]
    assert reasons(receiver, old)[-1] == "HELD_EXPIRED"


def test_reply_racing_its_original_is_never_left_held(receiver):
    """The customer's reply (automatic copy) and the user's BCC of the email it answers arrive
    at the same moment on two connections: whichever is decided first, both end up logged in
    one thread; the reply is never left held waiting for an original that is already there."""
    import threading
    alice = receiver.add_user(ALICE)
    receiver.cli("contacts", "add", "bob@acme.example")
    pairs = []
    for i in range(6):
        original = message(ALICE, "bob@acme.example", subject=f"Offer {i}", message_id=f"<race-{i}@ours.example>")
        reply = message("bob@acme.example", ALICE, subject=f"Re: Offer {i}", message_id=f"<race-re-{i}@acme.example>",
                        in_reply_to=f"<race-{i}@ours.example>")
        pairs.append((original, reply))
    for original, reply in pairs:
        threads = [threading.Thread(target=send, args=(receiver.port, original, [alice["bcc_address"]])),
                   threading.Thread(target=send, args=(receiver.port, reply, [alice["forward_address"]]),
                                    kwargs={"mail_from": "bob@acme.example"})]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    receiver.drain()
    assert receiver.cli.json("held", "list") == []
    timeline = {e["subject"]: e for e in receiver.cli.json("timeline", "bob@acme.example")}
    for i in range(6):
        assert timeline[f"Re: Offer {i}"]["thread_id"] == timeline[f"Offer {i}"]["thread_id"]
