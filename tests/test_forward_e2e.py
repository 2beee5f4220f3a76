"""Manual forwards over real SMTP: the customer's original lands on the right contact, with the
original sender, date and subject, in many client/language shapes (our own test emails)."""

from __future__ import annotations

import html as htmllib
from email.message import EmailMessage

import pytest

from .mailers import message, msgid, send

ALICE = "alice@ours.example"
BODY = "Hi Alice,\n\nCould you send the revised quote by Friday?\n\nThanks,\nAnna"
NOTE = "FYI, please log this."


def as_html(text: str) -> str:
    return "<div dir=\"ltr\">" + "".join(
        f"<div>{htmllib.escape(line) or '<br>'}</div>" for line in text.split("\n")) + "</div>"


# (name, outer subject, forwarded block, expected sent_at, html_only)
SHAPES = [
    ("gmail en", "Fwd: Quote for 2027",
     "---------- Forwarded message ---------\nFrom: Anna Buyer <anna@customer.example>\n"
     "Date: Mon, Nov 23, 2026 at 10:15 AM\nSubject: Quote for 2027\nTo: Alice <alice@ours.example>\n",
     "2026-11-23T10:15:00+01:00", False),
    ("gmail nl html-only", "Fwd: Quote for 2027",
     "---------- Doorgestuurd bericht ---------\nVan: Anna Buyer <anna@customer.example>\n"
     "Date: ma 23 nov 2026 om 10:15\nSubject: Quote for 2027\nTo: Alice <alice@ours.example>\n",
     "2026-11-23T10:15:00+01:00", True),
    ("gmail de html-only", "WG: Quote for 2027",
     "---------- Weitergeleitete Nachricht ---------\nVon: Anna Buyer <anna@customer.example>\n"
     "Date: Mo., 23. Nov. 2026 um 10:15 Uhr\nSubject: Quote for 2027\nTo: Alice <alice@ours.example>\n",
     "2026-11-23T10:15:00+01:00", True),
    ("outlook desktop fr", "TR: Quote for 2027",
     "________________________________\nDe : Anna Buyer <anna@customer.example>\n"
     "Envoyé : lundi 23 novembre 2026 10:15\nÀ : Alice <alice@ours.example>\nObjet : Quote for 2027\n",
     "2026-11-23T10:15:00+01:00", False),
    ("outlook desktop es", "RV: Quote for 2027",
     "________________________________\nDe: Anna Buyer <anna@customer.example>\n"
     "Enviado el: lunes, 23 de noviembre de 2026 10:15\nPara: Alice <alice@ours.example>\nAsunto: Quote for 2027\n",
     "2026-11-23T10:15:00+01:00", False),
    ("outlook web de html-only", "WG: Quote for 2027",
     "________________________________\nVon: Anna Buyer <anna@customer.example>\n"
     "Gesendet: Montag, 23. November 2026 10:15\nAn: Alice <alice@ours.example>\nBetreff: Quote for 2027\n",
     "2026-11-23T10:15:00+01:00", True),
    ("apple mail en", "Fwd: Quote for 2027",
     "Begin forwarded message:\n\n> From: Anna Buyer <anna@customer.example>\n"
     "> Subject: Quote for 2027\n> Date: 23 November 2026 at 10:15:00 CET\n> To: Alice <alice@ours.example>\n>\n"
     + "\n".join("> " + line if line else ">" for line in BODY.split("\n")),
     "2026-11-23T10:15:00+01:00", False),
    ("thunderbird en", "Fwd: Quote for 2027",
     "-------- Forwarded Message --------\nSubject: \tQuote for 2027\nDate: \tMon, 23 Nov 2026 10:15:00 +0100\n"
     "From: \tAnna Buyer <anna@customer.example>\nTo: \tAlice <alice@ours.example>\n",
     "2026-11-23T10:15:00+01:00", False),
    ("yahoo en html-only", "Fwd: Quote for 2027",
     "----- Forwarded Message -----\nFrom: Anna Buyer <anna@customer.example>\nTo: Alice <alice@ours.example>\n"
     "Sent: Monday, November 23, 2026, 10:15:00 AM GMT+1\nSubject: Quote for 2027\n",
     "2026-11-23T10:15:00+01:00", True),
    ("old original message", "FW: Quote for 2027",
     "-----Original Message-----\nFrom: Anna Buyer [mailto:anna@customer.example]\n"
     "Sent: Monday, November 23, 2026 10:15 AM\nTo: Alice\nSubject: Quote for 2027\n",
     "2026-11-23T10:15:00+01:00", False),
    ("outlook sv", "VB: Quote for 2027",
     "________________________________\nFrån: Anna Buyer <anna@customer.example>\n"
     "Skickat: den 23 november 2026 10:15\nTill: Alice <alice@ours.example>\nÄmne: Quote for 2027\n",
     "2026-11-23T10:15:00+01:00", False),
    ("outlook pt", "ENC: Quote for 2027",
     "________________________________\nDe: Anna Buyer <anna@customer.example>\n"
     "Enviado: segunda-feira, 23 de novembro de 2026 10:15\nPara: Alice <alice@ours.example>\nAssunto: Quote for 2027\n",
     "2026-11-23T10:15:00+01:00", False),
]


def forward_message(outer_subject: str, block: str, html_only: bool, with_body: bool = True) -> EmailMessage:
    text = f"{NOTE}\n\n{block}" + ("" if "> From:" in block or not with_body else f"\n{BODY}\n")
    m = message(ALICE, "fwd-target@ours.example", subject=outer_subject, body=text,
                headers={})
    m.replace_header("Date", "Tue, 24 Nov 2026 09:00:00 +0100")
    if html_only:
        html = EmailMessage()
        for key in ("From", "To", "Subject", "Date", "Message-ID"):
            html[key] = m[key]
        html.set_content(as_html(text), subtype="html")
        return html
    return m


@pytest.fixture
def alice(receiver):
    return receiver.add_user(ALICE)


@pytest.mark.parametrize("name,outer,block,sent_at,html_only", SHAPES, ids=[s[0] for s in SHAPES])
def test_forward_lands_on_the_original_sender(receiver, alice, name, outer, block, sent_at, html_only):
    receiver.cli("contacts", "add", "anna@customer.example", "--name", "Anna Buyer")
    m = forward_message(outer, block, html_only)
    send(receiver.port, m, [alice["forward_address"]], mail_from=ALICE)
    receiver.drain()
    [d] = receiver.cli.json("why", msgid(m))
    assert d["reason"] == "LOGGED", d
    [e] = receiver.cli.json("timeline", "anna@customer.example")
    assert e["direction"] == "incoming" and e["from"] == "anna@customer.example"
    assert e["subject"] == "Quote for 2027"
    assert e["sent_at"] == sent_at
    assert "revised quote by Friday" in e["body_text"]
    assert NOTE not in e["body_text"] and "Forwarded" not in e["body_text"]
    assert e["reply_text"].startswith("Hi Alice,")


def test_forward_creates_the_contact_when_new(receiver, alice):
    m = forward_message(*SHAPES[0][1:3], False)
    send(receiver.port, m, [alice["forward_address"]], mail_from=ALICE)
    receiver.drain()
    assert receiver.cli.json("contacts", "show", "anna@customer.example")["name"] == "Anna Buyer"
    assert len(receiver.cli.json("timeline", "anna@customer.example")) == 1


def test_forward_as_attachment_threads_by_headers(receiver, alice):
    receiver.cli("contacts", "add", "anna@customer.example")
    first = message(ALICE, "anna@customer.example", subject="Quote for 2027", message_id="<q1@ours.example>")
    send(receiver.port, first, [alice["bcc_address"]])
    original = message("Anna Buyer <anna@customer.example>", ALICE, subject="Re: Quote for 2027",
                       body="Looks good, let's sign.", message_id="<a1@customer.example>",
                       in_reply_to="<q1@ours.example>")
    wrapper = message(ALICE, "me@ours.example", subject="FW: Re: Quote for 2027", body="logging this")
    wrapper.add_attachment(original)
    send(receiver.port, wrapper, [alice["forward_address"]], mail_from=ALICE)
    receiver.drain()
    timeline = {e["subject"]: e for e in receiver.cli.json("timeline", "anna@customer.example")}
    reply = timeline["Re: Quote for 2027"]
    assert reply["direction"] == "incoming" and reply["message_id"] == "a1@customer.example"
    assert reply["thread_id"] == timeline["Quote for 2027"]["thread_id"]
    assert reply["body_text"].strip() == "Looks good, let's sign."


def test_bccd_then_forwarded_as_attachment_is_one_engagement(receiver, alice):
    sent = message(ALICE, "anna@customer.example", subject="Proposal", message_id="<p1@ours.example>")
    send(receiver.port, sent, [alice["bcc_address"]])
    wrapper = message(ALICE, "me@ours.example", subject="Fwd: Proposal", body="again")
    wrapper.add_attachment(sent)
    send(receiver.port, wrapper, [alice["forward_address"]], mail_from=ALICE)
    receiver.drain()
    assert len(receiver.cli.json("timeline", "anna@customer.example")) == 1
    # The two deliveries are processed concurrently: whichever commits second is the duplicate.
    by_address = {d["logging_address"]: d["reason"]
                  for d in receiver.cli.json("why", msgid(sent)) + receiver.cli.json("why", msgid(wrapper))}
    assert sorted([by_address[alice["bcc_address"]], by_address[alice["forward_address"]]]) == ["DUPLICATE", "LOGGED"]


def test_forward_of_own_sent_mail_is_outgoing(receiver, alice):
    block = ("---------- Forwarded message ---------\nFrom: Alice <alice@ours.example>\n"
             "Date: Mon, Nov 23, 2026 at 10:15 AM\nSubject: Intro\nTo: Piet Klant <piet@klant.example>\n")
    m = forward_message("Fwd: Intro", block, False)
    send(receiver.port, m, [alice["forward_address"]], mail_from=ALICE)
    receiver.drain()
    [e] = receiver.cli.json("timeline", "piet@klant.example")
    assert e["direction"] == "outgoing" and e["from"] == ALICE and e["subject"] == "Intro"


def test_name_only_sender_matches_a_unique_contact_or_is_held(receiver, alice):
    block = ("________________________________\nFrom: Anna Buyer\nSent: Monday, November 23, 2026 10:15 AM\n"
             "To: Alice\nSubject: Quote for 2027\n")
    held = forward_message("FW: Quote for 2027", block, False)
    send(receiver.port, held, [alice["forward_address"]], mail_from=ALICE)
    receiver.drain()
    assert receiver.cli.json("why", msgid(held))[0]["reason"] == "ORIGINAL_SENDER_UNKNOWN"
    assert [h["reason"] for h in receiver.cli.json("held", "list")] == ["ORIGINAL_SENDER_UNKNOWN"]
    receiver.cli("contacts", "add", "anna@customer.example", "--name", "Anna Buyer")
    reasons = [d["reason"] for d in receiver.cli.json("why", msgid(held))]
    assert reasons == ["ORIGINAL_SENDER_UNKNOWN", "LOGGED"]
    [e] = receiver.cli.json("timeline", "anna@customer.example")
    assert e["from"] == "anna@customer.example" and e["subject"] == "Quote for 2027"


def test_forward_without_an_original_is_held(receiver, alice):
    m = message(ALICE, "me@ours.example", subject="Fwd: nothing here", body="I meant to forward something.")
    send(receiver.port, m, [alice["forward_address"]], mail_from=ALICE)
    receiver.drain()
    [d] = receiver.cli.json("why", msgid(m))
    assert d["reason"] == "ORIGINAL_NOT_FOUND" and "forward" in d["explanation"].lower()
