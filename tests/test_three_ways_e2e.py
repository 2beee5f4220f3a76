"""SPEC.md's "for all three ways in", over real SMTP: one answer however a message came in.

* A bounce or an automatic reply that the user forwards (as an attachment or inline) is decided
  BOUNCE / AUTO_REPLY, the same as when it arrives by itself as an automatic copy.
* A message without a Message-ID that is BCC'd and later forwarded as an attachment is one email
  (DUPLICATE): the content hash does not depend on line ends, on trailing whitespace a forwarding
  client adds, on how the date is spelled, or on the way in. (Our own test emails.)
"""

from __future__ import annotations

import base64

import pytest

from .mailers import send

ALICE = "alice@ours.example"
ANNA = "anna@customer.example"


def crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


def dsn(n: int) -> str:
    """A Postfix-style delivery-status notification about Alice's mail to Anna."""
    return (f"From: Mail Delivery System <MAILER-DAEMON@mx.customer.example>\n"
            f"To: {ALICE}\nSubject: Undelivered Mail Returned to Sender\n"
            f"Date: Mon, 23 Nov 2026 10:16:00 +0000\nMessage-ID: <dsn-{n}@mx.customer.example>\n"
            "Auto-Submitted: auto-replied\nMIME-Version: 1.0\n"
            'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\n\n'
            "--r\nContent-Type: text/plain\n\nI'm sorry to have to inform you that your message could"
            " not be delivered.\n\n--r\nContent-Type: message/delivery-status\n\n"
            "Reporting-MTA: dns; mx.customer.example\n\nFinal-Recipient: rfc822; anna@customer.example\n"
            "Action: failed\nStatus: 5.1.1\n\n--r\nContent-Type: text/rfc822-headers\n\n"
            f"From: {ALICE}\nTo: {ANNA}\nSubject: Quote for 2027\n\n--r--\n")


def out_of_office(n: int) -> str:
    """Anna's mail server answering Alice while Anna is away (RFC 3834)."""
    return (f"From: Anna Buyer <{ANNA}>\nTo: {ALICE}\nSubject: Automatic reply: Quote for 2027\n"
            f"Date: Mon, 23 Nov 2026 10:16:00 +0000\nMessage-ID: <ooo-{n}@customer.example>\n"
            "Auto-Submitted: auto-replied\nMIME-Version: 1.0\nContent-Type: text/plain\n\n"
            "I am out of the office until Monday.\n")


def attached(machine: str, subject: str, n: int) -> bytes:
    """Alice forwarding that message as an attachment (message/rfc822)."""
    return crlf(f"From: Alice Seller <{ALICE}>\nTo: Alice <{ALICE}>\nSubject: Fwd: {subject}\n"
                f"Date: Tue, 24 Nov 2026 09:00:00 +0100\nMessage-ID: <fwd-{n}@ours.example>\n"
                'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="f"\n\n'
                "--f\nContent-Type: text/plain\n\nFYI, please log this.\n\n"
                f"--f\nContent-Type: message/rfc822\n\n{machine}\n--f--\n")


def inline(sender: str, subject: str, body: str, n: int) -> bytes:
    """Alice forwarding that message inline, as Gmail does."""
    return crlf(f"From: Alice Seller <{ALICE}>\nTo: Alice <{ALICE}>\nSubject: Fwd: {subject}\n"
                f"Date: Tue, 24 Nov 2026 09:00:00 +0100\nMessage-ID: <fwd-{n}@ours.example>\n"
                "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\nFYI, please log this.\n\n"
                "---------- Forwarded message ---------\n"
                f"From: {sender}\nDate: Mon, Nov 23, 2026 at 10:16 AM\nSubject: {subject}\n"
                f"To: Alice <{ALICE}>\n\n{body}\n")


FORWARDS = [
    ("bounce attached", "BOUNCE", lambda n: attached(dsn(n), "Undelivered Mail Returned to Sender", n)),
    ("bounce inline", "BOUNCE", lambda n: inline(
        "Mail Delivery System <MAILER-DAEMON@mx.customer.example>", "Undelivered Mail Returned to Sender",
        "I'm sorry to have to inform you that your message could not be delivered.", n)),
    ("out-of-office attached", "AUTO_REPLY", lambda n: attached(out_of_office(n), "Automatic reply: Quote for 2027", n)),
    ("out-of-office inline", "AUTO_REPLY", lambda n: inline(
        f"Anna Buyer <{ANNA}>", "Automatic reply: Quote for 2027", "I am out of the office until Monday.", n)),
]


@pytest.fixture
def alice(receiver):
    receiver.cli("contacts", "add", ANNA, "--name", "Anna Buyer")
    return receiver.add_user(ALICE)


@pytest.mark.parametrize("name,reason,forward", FORWARDS, ids=[f[0] for f in FORWARDS])
def test_forwarded_machine_mail_is_decided_as_when_it_arrives_itself(receiver, alice, name, reason, forward):
    machine = (dsn if reason == "BOUNCE" else out_of_office)(1)
    send(receiver.port, crlf(machine), [alice["forward_address"]], mail_from="")  # the automatic copy
    send(receiver.port, forward(2), [alice["forward_address"]], mail_from=ALICE)  # the user's forward
    receiver.drain()
    copy_id = "dsn-1@mx.customer.example" if reason == "BOUNCE" else "ooo-1@customer.example"
    assert [d["reason"] for d in receiver.cli.json("why", copy_id)] == [reason]
    [decision] = receiver.cli.json("why", "fwd-2@ours.example")
    assert decision["reason"] == reason, decision
    assert receiver.cli.json("timeline", ANNA) == []
    assert receiver.cli.json("held", "list") == []


def test_forwarded_conversation_is_still_logged(receiver, alice):
    """The control: the same shapes with a customer's ordinary reply inside are logged."""
    reply = out_of_office(3).replace("Automatic reply: ", "Re: ").replace("Auto-Submitted: auto-replied\n", "")
    send(receiver.port, attached(reply, "Re: Quote for 2027", 4), [alice["forward_address"]], mail_from=ALICE)
    send(receiver.port, inline(f"Anna Buyer <{ANNA}>", "Re: Quote for 2027", "Monday works for me.", 5),
         [alice["forward_address"]], mail_from=ALICE)
    receiver.drain()
    assert [d["reason"] for d in receiver.cli.json("why", "fwd-4@ours.example")] == ["LOGGED"]
    assert [d["reason"] for d in receiver.cli.json("why", "fwd-5@ours.example")] == ["LOGGED"]


# --- a message without a Message-ID, BCC'd and then forwarded as an attachment -----------------

NO_ID_BODY = "Hello Anna,\n\nhere is the quote for 2027.\nIt holds until Friday.\n\nAlice"


def no_id_message(date: str = "Mon, 23 Nov 2026 10:15:00 +0000", body: str = NO_ID_BODY,
                  encoding: str = "8bit") -> str:
    """Alice's mail to Anna, sent by a client that writes no Message-ID (LF line ends here)."""
    head = (f"From: Alice Seller <{ALICE}>\nTo: Anna Buyer <{ANNA}>\nSubject: Quote for 2027\n"
            f"Date: {date}\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n")
    if encoding == "base64":  # the forwarding client re-encoded the body (with LF line ends inside)
        return head + "Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(body.encode()).decode()
    return head + f"Content-Transfer-Encoding: {encoding}\n\n{body}\n"


FORWARDED_COPIES = [
    ("the same bytes", no_id_message()),
    ("trailing whitespace added", no_id_message(body=NO_ID_BODY.replace("\n", "  \n") + " \n\n")),
    ("re-encoded with LF line ends inside", no_id_message(encoding="base64")),
    ("CRLF line ends inside", no_id_message(body=NO_ID_BODY.replace("\n", "\r\n"), encoding="base64")),
    ("date re-spelled in another zone", no_id_message(date="Mon, 23 Nov 2026 11:15:00 +0100")),
]


@pytest.mark.parametrize("name,copy", FORWARDED_COPIES, ids=[c[0] for c in FORWARDED_COPIES])
def test_bccd_without_message_id_then_forwarded_as_attachment_is_one_email(receiver, alice, name, copy):
    send(receiver.port, crlf(no_id_message()), [alice["bcc_address"]], mail_from=ALICE)
    receiver.drain()  # the BCC copy is logged first; the forward comes days later
    send(receiver.port, attached(copy, "Quote for 2027", 6), [alice["forward_address"]], mail_from=ALICE)
    receiver.drain()
    [engagement] = receiver.cli.json("timeline", ANNA)
    assert engagement["direction"] == "outgoing" and engagement["subject"] == "Quote for 2027"
    assert [d["reason"] for d in receiver.cli.json("why", "fwd-6@ours.example")] == ["DUPLICATE"]
    reasons = sorted(d["reason"] for d in receiver.cli.json("recent") if d["logging_address"] in
                     (alice["bcc_address"], alice["forward_address"]))
    assert reasons == ["DUPLICATE", "LOGGED"]


def test_a_different_email_without_message_id_is_not_a_duplicate(receiver, alice):
    """The control: another body (or another date) is another email."""
    send(receiver.port, crlf(no_id_message()), [alice["bcc_address"]], mail_from=ALICE)
    receiver.drain()
    later = no_id_message(body=NO_ID_BODY.replace("Friday", "Monday"))
    send(receiver.port, attached(later, "Quote for 2027", 7), [alice["forward_address"]], mail_from=ALICE)
    resent = no_id_message(date="Tue, 24 Nov 2026 10:15:00 +0000")
    send(receiver.port, crlf(resent), [alice["bcc_address"]], mail_from=ALICE)
    receiver.drain()
    assert len(receiver.cli.json("timeline", ANNA)) == 3
