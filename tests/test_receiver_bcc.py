"""Issue 2's promises over real SMTP on 127.0.0.1, against SQLite and PostgreSQL."""

from __future__ import annotations

import smtplib
import threading

import pytest

from .mailers import message, msgid, send

ALICE = "alice@ours.example"


@pytest.fixture
def alice(receiver):
    return receiver.add_user(ALICE, "--name", "Alice Seller", "--alias", "a.seller@ours.example")


def test_unknown_logging_address_is_refused_at_rcpt(receiver, alice):
    with smtplib.SMTP("127.0.0.1", receiver.port) as client:
        client.ehlo()
        client.mail(ALICE)
        code, text = client.rcpt("nosuchtoken@bcc.smtp-logger.localhost")
        assert (code, text[:5]) == (550, b"5.1.1")
        code, _ = client.rcpt("someone@elsewhere.example")  # never relay
        assert code == 550
        code, _ = client.rcpt(alice["bcc_address"])
        assert code == 250


def test_rotated_address_stops_working(receiver, alice):
    rotated = receiver.cli.json("users", "rotate", ALICE)
    assert rotated["bcc_address"] != alice["bcc_address"]
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(receiver.port, message(ALICE, "bob@acme.example"), [alice["bcc_address"]])
    assert send(receiver.port, message(ALICE, "bob@acme.example"), [rotated["bcc_address"]]) == {}


def test_bcc_logs_on_contact_and_new_person_not_never_log_domain(receiver, alice):
    cli = receiver.cli
    cli("contacts", "add", "bob@acme.example", "--name", "Bob Buyer")
    cli("never-log", "add", "competitor.example")
    m = message("Alice Seller <alice@ours.example>",
                ["Bob Buyer <bob@acme.example>", "Nina New <nina@newco.example>"],
                cc="spy@competitor.example", subject="Our proposal", body="Dear Bob,\n\nthe proposal.\n")
    assert send(receiver.port, m, [alice["bcc_address"]]) == {}
    receiver.drain()
    bob = cli.json("timeline", "bob@acme.example")
    nina = cli.json("timeline", "nina@newco.example")
    assert len(bob) == 1 and len(nina) == 1 and bob[0]["id"] == nina[0]["id"]
    e = bob[0]
    assert e["direction"] == "outgoing" and e["subject"] == "Our proposal"
    assert e["from"] == ALICE and e["to"] == ["bob@acme.example", "nina@newco.example"]
    assert e["cc"] == ["spy@competitor.example"]
    assert e["sent_at"] == "2026-11-23T10:15:00+00:00"
    assert e["body_text"].startswith("Dear Bob,") and e["message_id"] == msgid(m)
    assert cli.json("contacts", "show", "nina@newco.example")["name"] == "Nina New"
    cli("timeline", "spy@competitor.example", expect=1)  # never became a contact
    [decision] = cli.json("why", msgid(m))
    assert decision["reason"] == "LOGGED" and decision["logged"] is True
    assert decision["engagement_id"] == e["id"]


def test_alias_is_an_allowed_sender(receiver, alice):
    m = message("a.seller@ours.example", "bob@acme.example")
    send(receiver.port, m, [alice["bcc_address"]])
    receiver.drain()
    assert receiver.cli.json("why", msgid(m))[0]["reason"] == "LOGGED"


def test_sender_not_allowed(receiver, alice):
    m = message("mallory@evil.example", "bob@acme.example")
    send(receiver.port, m, [alice["bcc_address"]])
    receiver.drain()
    [decision] = receiver.cli.json("why", msgid(m))
    assert decision["reason"] == "SENDER_NOT_ALLOWED" and decision["logged"] is False
    assert "not" in decision["explanation"].lower()
    receiver.cli("timeline", "bob@acme.example", expect=1)


def test_only_colleagues_is_no_external_recipients(receiver, alice):
    receiver.add_user("carol@ours.example")
    m = message(ALICE, "carol@ours.example")
    send(receiver.port, m, [alice["bcc_address"]])
    receiver.drain()
    assert receiver.cli.json("why", msgid(m))[0]["reason"] == "NO_EXTERNAL_RECIPIENTS"


def test_same_message_twice_is_logged_once(receiver, alice):
    m = message(ALICE, "bob@acme.example")
    send(receiver.port, m, [alice["bcc_address"]])
    send(receiver.port, m, [alice["bcc_address"]])
    receiver.drain()
    assert len(receiver.cli.json("timeline", "bob@acme.example")) == 1
    reasons = [d["reason"] for d in receiver.cli.json("why", msgid(m))]
    assert reasons == ["LOGGED", "DUPLICATE"]


def test_concurrent_duplicates_through_two_connections(receiver, alice):
    messages = [message(ALICE, [f"buyer{i}@acme.example"]) for i in range(8)]
    errors = []

    def deliver():
        try:
            for m in messages:
                send(receiver.port, m, [alice["bcc_address"]])
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    receiver.drain()
    for i, m in enumerate(messages):
        assert len(receiver.cli.json("timeline", f"buyer{i}@acme.example")) == 1
        reasons = sorted(d["reason"] for d in receiver.cli.json("why", msgid(m)))
        assert reasons == ["DUPLICATE", "LOGGED"]


def test_reply_bccd_later_joins_the_thread(receiver, alice):
    first = message(ALICE, "bob@acme.example", subject="Pricing")
    send(receiver.port, first, [alice["bcc_address"]])
    reply = message(ALICE, "bob@acme.example", subject="Re: Pricing", in_reply_to=first["Message-ID"])
    send(receiver.port, reply, [alice["bcc_address"]])
    unrelated = message(ALICE, "bob@acme.example", subject="Something else")
    send(receiver.port, unrelated, [alice["bcc_address"]])
    receiver.drain()
    by_subject = {e["subject"]: e for e in receiver.cli.json("timeline", "bob@acme.example")}
    assert by_subject["Re: Pricing"]["thread_id"] == by_subject["Pricing"]["thread_id"]
    assert by_subject["Something else"]["thread_id"] != by_subject["Pricing"]["thread_id"]


def test_non_ascii_everywhere(receiver, alice):
    raw = (
        "From: =?utf-8?q?Alice_S=C3=A9ller?= <alice@ours.example>\r\n"
        "To: =?utf-8?b?SsO2cmcgTcO8bGxlcg==?= <jorg@firma.example>\r\n"
        "Subject: =?iso-8859-1?q?Angebot_f=FCr_Gr=F6=DFe_=E9t=E9?=\r\n"
        "Date: Mon, 23 Nov 2026 10:15:00 +0100\r\n"
        "Message-ID: <nonascii-1@ours.example>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=iso-8859-1\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode() + "Grüße aus Köln, été à Zürich.\r\n".encode("iso-8859-1")
    send(receiver.port, raw, [alice["bcc_address"]], mail_from=ALICE)
    receiver.drain()
    [e] = receiver.cli.json("timeline", "jorg@firma.example")
    assert e["subject"] == "Angebot für Größe été"
    assert e["body_text"].strip() == "Grüße aus Köln, été à Zürich."
    assert e["sent_at"] == "2026-11-23T10:15:00+01:00"
    assert receiver.cli.json("contacts", "show", "jorg@firma.example")["name"] == "Jörg Müller"


def test_utf8_envelope_and_8bit_headers(receiver, alice):
    raw = ("From: Alice <alice@ours.example>\r\nTo: Zoë Ångström <zoe@kunde.example>\r\n"
           "Subject: Přehled nabídky\r\nMessage-ID: <utf8-1@ours.example>\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n\r\nDěkuji!\r\n").encode()
    with smtplib.SMTP("127.0.0.1", receiver.port) as client:
        client.sendmail(ALICE, [alice["bcc_address"]], raw, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    receiver.drain()
    [e] = receiver.cli.json("timeline", "zoe@kunde.example")
    assert e["subject"] == "Přehled nabídky" and e["body_text"].strip() == "Děkuji!"


def test_companies_by_domain_but_not_free_mail(receiver, alice):
    m = message(ALICE, ["Bob <bob@acme.example>", "Private Person <someone@gmail.com>"],
                cc="Dora <dora@acme.example>")
    send(receiver.port, m, [alice["bcc_address"]])
    receiver.drain()
    [e] = receiver.cli.json("timeline", "someone@gmail.com")
    assert e["contacts"] == ["bob@acme.example", "someone@gmail.com", "dora@acme.example"]
    assert e["companies"] == [{"domain": "acme.example", "name": "Acme"}]
    assert e["owner"] == ALICE


def test_contact_creation_can_be_switched_off(receiver, alice):
    settings = receiver.cli.json("account", "set", "--no-create-contacts")
    assert settings["create_contacts"] is False
    receiver.cli("contacts", "add", "bob@acme.example")
    m = message(ALICE, ["bob@acme.example", "new@newco.example"])
    send(receiver.port, m, [alice["bcc_address"]])
    receiver.drain()
    assert len(receiver.cli.json("timeline", "bob@acme.example")) == 1
    receiver.cli("contacts", "show", "new@newco.example", expect=1)
