"""Notices over real SMTP both ways: mail sent to a real receiver, notices caught by a real
relay (an aiosmtpd sink started by the test). Each notified reason gives exactly one notice to
the owner's primary address and nothing to anyone else; strangers' mail gives none; a notice
that comes back is neither logged nor answered; the hourly cap sends the rest in the digest."""

from __future__ import annotations

import re
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from .conftest import start_receiver
from .mailers import message, msgid, send
from .relay import Sink

ALICE = "alice@ours.example"
BOB = "bob@ours.example"
PASS = "mx.ours.example; dkim=pass header.d=ours.example; dmarc=pass header.from=ours.example"
FAIL = "mx.ours.example; dkim=fail header.d=ours.example; dmarc=fail header.from=ours.example"
CONFIRMATIONS = Path(__file__).parent / "confirmations"


@pytest.fixture
def sink():
    relay = Sink().start()
    yield relay
    relay.stop()


def notifying_receiver(tmp_path, db_url, relay_port: int, **settings):
    return start_receiver(tmp_path, db_url, notify_smtp_host="127.0.0.1", notify_smtp_port=relay_port,
                          sender_auth="authentication-results", trusted_authserv_ids="mx.ours.example",
                          **settings)


def signed(sender: str, to, auth: str = PASS, **kw) -> EmailMessage:
    headers = {"Authentication-Results": auth, **kw.pop("headers", {})}
    return message(sender, to, headers=headers, **kw)


def gmail_confirmation(forward_address: str, name: str = "gmail_with_code.eml") -> bytes:
    return (CONFIRMATIONS / name).read_bytes().replace(b"{{FORWARD}}", forward_address.encode())


def name_only_forward(subject: str) -> EmailMessage:
    block = ("________________________________\nFrom: Anna Buyer\nSent: Monday, November 23, 2026 10:15 AM\n"
             "To: Alice\nSubject: Quote for 2027\n\nCould you send the revised quote?\n")
    return signed(ALICE, "me@ours.example", subject=subject, body=f"FYI\n\n{block}")


def with_attachment(m: EmailMessage, size: int) -> EmailMessage:
    m.add_attachment(b"x" * size, maintype="application", subtype="pdf", filename="big-quote.pdf")
    return m


def wait_until(predicate, timeout: float = 30, what: str = "condition") -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def all_sent(rx, count: int) -> list[dict]:
    """Wait until the outbox holds `count` notices, every one sent; returns them."""
    wait_until(lambda: [n["status"] for n in rx.cli.json("notices", "list")] == ["sent"] * count,
               what=f"{count} notices sent")
    return rx.cli.json("notices", "list")


def test_each_notified_reason_sends_one_notice_to_the_owner_and_nobody_else(tmp_path, db_url, sink):
    rx = notifying_receiver(tmp_path, db_url, sink.port, max_attachment_size=1000)
    try:
        alice, _bob = rx.add_user(ALICE), rx.add_user(BOB)
        bcc, fwd = alice["bcc_address"], alice["forward_address"]
        home = "alice.home@homemail.example"
        # what the envelope sender of logged mail shows: an address of Alice's not registered
        send(rx.port, signed(ALICE, "buyer@acme.example", subject="Logged via home"), [bcc], mail_from=home)
        rx.drain()
        rows = {
            "ORIGINAL_NOT_FOUND": (signed(ALICE, "me@ours.example", subject="Fwd: nothing inside",
                                          body="meant to forward"), fwd, ALICE),
            "ORIGINAL_SENDER_UNKNOWN": (name_only_forward("FW: Quote for 2027"), fwd, ALICE),
            "SENDER_NOT_ALLOWED": (signed("a.seller@ours.example", "buyer@acme.example",
                                          subject="From my other address"), bcc, "a.seller@ours.example"),
            "LOGGED": (with_attachment(signed(ALICE, "buyer@acme.example", subject="Quote attached"), 5000),
                       bcc, ALICE),
            "AUTH_FAILED": (signed(ALICE, "buyer@acme.example", auth=FAIL, subject="Forged?"), bcc, ALICE),
        }
        for m, rcpt, envelope in rows.values():
            send(rx.port, m, [rcpt], mail_from=envelope)
        home_alias = signed(home, "buyer@acme.example", subject="From home")
        send(rx.port, home_alias, [bcc], mail_from=home)
        send(rx.port, gmail_confirmation(fwd), [fwd], mail_from="forwarding-noreply@google.com")
        rx.drain()
        notices = all_sent(rx, 7)
        caught = sink.wait(7)
        assert len(caught) == 7
        assert all(c.rcpt_tos == [ALICE] and c.mail_from in ("", "<>") for c in caught)
        by_id = {c.message["X-Smtp-Logger-Notice"]: c.message for c in caught}
        assert sorted(n["reason"] for n in notices) == sorted(
            [*rows, "SENDER_NOT_ALLOWED", "FORWARDING_CONFIRMATION"])
        for n in notices:
            got = by_id[str(n["id"])]
            assert n["to"] == ALICE and n["attempts"] == 1 and n["mode"] == "immediate"
            assert got["Auto-Submitted"] == "auto-generated" and got["X-Auto-Response-Suppress"] == "All"
            text = got.get_body(("plain",)).get_content()
            assert n["message_id"] in text
            if n["reason"] == "LOGGED":
                assert got["Subject"] == "Attachment not stored: Quote attached" and "big-quote.pdf" in text
            else:
                assert got["Subject"] == f"Not logged: {n['subject']}"
        aliases = [by_id[str(n["id"])] for n in notices if n["reason"] == "SENDER_NOT_ALLOWED"]
        assert sorted(a.get_body(("plain",)).get_content().count("users add-alias") for a in aliases) == [1, 1]
        assert rx.cli.json("why", msgid(home_alias))[0]["reason"] == "SENDER_NOT_ALLOWED"
    finally:
        rx.stop()


def test_strangers_get_nothing_and_the_owner_hears_nothing_of_them(tmp_path, db_url, sink):
    rx = notifying_receiver(tmp_path, db_url, sink.port)
    try:
        alice = rx.add_user(ALICE)
        bcc, fwd = alice["bcc_address"], alice["forward_address"]
        strangers = [
            (message("mallory@evil.example", "buyer@acme.example", subject="Cheap pills"), bcc),
            (message("someone@gmail.com", "buyer@acme.example", subject="Hi from free mail"), bcc),
            (message("random@customer.example", ALICE, subject="Unknown sender"), fwd),
            (message("mallory@evil.example", ALICE, subject="Out of office", headers={
                "Auto-Submitted": "auto-replied"}), bcc),
        ]
        for m, rcpt in strangers:
            send(rx.port, m, [rcpt], mail_from=m["From"])
        rx.drain()
        assert [d["reason"] for m, _ in strangers for d in rx.cli.json("why", msgid(m))] == [
            "SENDER_NOT_ALLOWED", "SENDER_NOT_ALLOWED", "SENDER_NOT_CONTACT", "SENDER_NOT_ALLOWED"]
        assert rx.cli.json("notices", "list") == []
        # the notifier works: the owner's own failure is told, and nothing else was waiting
        sentinel = signed(ALICE, "me@ours.example", subject="Fwd: sentinel", body="nothing inside")
        send(rx.port, sentinel, [fwd], mail_from=ALICE)
        rx.drain()
        [caught] = sink.wait(1)
        time.sleep(1)
        assert len(sink.caught) == 1 and caught.message["Subject"] == "Not logged: Fwd: sentinel"
        assert caught.rcpt_tos == [ALICE]
    finally:
        rx.stop()


def test_a_notice_that_comes_back_is_not_logged_and_not_answered(tmp_path, db_url, sink):
    # notify_from on the users' own domain: only the loop protection keeps a notice redirected
    # to the BCC address from being told as "an unregistered alias of yours"
    rx = notifying_receiver(tmp_path, db_url, sink.port, notify_from="crm-notices@ours.example")
    try:
        alice = rx.add_user(ALICE)
        bcc, fwd = alice["bcc_address"], alice["forward_address"]
        send(rx.port, signed(ALICE, "me@ours.example", subject="Fwd: nothing", body="nothing"), [fwd], mail_from=ALICE)
        rx.drain()
        [first] = sink.wait(1)
        notice = first.message
        raw = notice.as_bytes()
        as_attachment = signed(ALICE, "me@ours.example", subject=f"Fwd: {notice['Subject']}", body="what is this?")
        as_attachment.add_attachment(notice)
        inline = signed(ALICE, "me@ours.example", subject=f"Fwd: {notice['Subject']}", body=(
            "why?\n\n---------- Forwarded message ---------\nFrom: smtp-logger <crm-notices@ours.example>\n"
            f"Date: Mon, Nov 23, 2026 at 10:15 AM\nSubject: {notice['Subject']}\nTo: <{ALICE}>\n\n"
            + notice.get_body(("plain",)).get_content()))
        sent_back = [(raw, fwd, "crm-notices@ours.example"), (raw, bcc, "crm-notices@ours.example"),
                     (as_attachment, fwd, ALICE), (inline, fwd, ALICE)]
        for m, rcpt, envelope in sent_back:
            send(rx.port, m, [rcpt], mail_from=envelope)
        rx.drain()
        decisions = rx.cli.json("recent", "--limit", "4")
        assert [d["logged"] for d in decisions] == [False] * 4
        # OWN_NOTICE comes first: even the one redirected to the BCC address from a stranger's
        # address is our notice, not a SENDER_NOT_ALLOWED that could be answered
        assert [d["reason"] for d in decisions] == ["OWN_NOTICE"] * 4
        rx.cli("timeline", "crm-notices@ours.example", expect=1)  # never made a contact
        time.sleep(2)
        assert len(rx.cli.json("notices", "list")) == 1 and len(sink.caught) == 1
    finally:
        rx.stop()


def test_a_flood_is_told_once_and_its_release_tells_nothing_more(tmp_path, db_url, sink):
    rx = notifying_receiver(tmp_path, db_url, sink.port, flood_limit=2)
    try:
        forward = rx.add_user(ALICE)["forward_address"]
        rx.cli("contacts", "add", "buyer@acme.example", "--name", "Buyer")
        rx.cli("account", "set", "--log-all-from-contacts")
        mails = [message("buyer@acme.example", ALICE, subject=f"Order {n}") for n in range(6)]
        for m in mails:
            send(rx.port, m, [forward], mail_from="buyer@acme.example")
        rx.drain()
        reasons = [rx.cli.json("why", msgid(m))[0]["reason"] for m in mails]
        assert reasons.count("LOGGED") == 2 and reasons.count("FLOOD") == 4
        [told] = sink.wait(1)
        assert told.rcpt_tos == [ALICE] and "held release" in told.message.get_body(("plain",)).get_content()
        assert rx.cli.json("held", "release", "--reason", "FLOOD") == {"released": 4, "logged": 4}
        time.sleep(2)
        assert len(sink.caught) == 1 and [n["reason"] for n in rx.cli.json("notices", "list")] == ["FLOOD"]
    finally:
        rx.stop()


def test_fifty_failures_in_an_hour_send_ten_and_the_rest_in_the_digest(tmp_path, db_url, sink):
    rx = notifying_receiver(tmp_path, db_url, sink.port)
    try:
        alice = rx.add_user(ALICE)
        for i in range(50):
            send(rx.port, signed(ALICE, "me@ours.example", subject=f"Fwd: lost {i}", body="nothing"),
                 [alice["forward_address"]], mail_from=ALICE)
        rx.drain()
        notices = rx.cli.json("notices", "list", "--user", ALICE)
        assert sorted((n["mode"], n["status"]) for n in notices).count(("digest", "waiting")) == 40
        sink.wait(10)
        time.sleep(1)
        assert len(sink.caught) == 10
        assert rx.cli.json("notices", "digest") == {"digests": 1}
        caught = sink.wait(11)
        digest = caught[-1].message
        assert digest["Subject"] == "Not logged: 40 emails (daily summary)" and caught[-1].rcpt_tos == [ALICE]
        text = digest.get_body(("plain",)).get_content()
        immediate = {c.message["Subject"].removeprefix("Not logged: ") for c in caught[:10]}
        listed = set(re.findall(r"Fwd: lost \d+", text))
        assert len(listed) == 40 and not listed & immediate
        wait_until(lambda: all(n["status"] == "sent" for n in rx.cli.json("notices", "list")), what="all sent")
    finally:
        rx.stop()


def test_gmail_confirmation_is_passed_on_whatever_the_notify_setting(tmp_path, db_url, sink):
    rx = notifying_receiver(tmp_path, db_url, sink.port)
    try:
        alice = rx.add_user(ALICE)
        rx.cli("notices", "set", "off", "--user", ALICE)
        fwd = alice["forward_address"]
        send(rx.port, signed(ALICE, "me@ours.example", subject="Fwd: not told", body="x"), [fwd], mail_from=ALICE)
        for name in ("gmail_with_code.eml", "gmail_2026_no_code.eml"):
            send(rx.port, gmail_confirmation(fwd, name), [fwd], mail_from="forwarding-noreply@google.com")
        rx.drain()
        caught = sink.wait(2)
        time.sleep(1)
        assert len(sink.caught) == 2 and all(c.rcpt_tos == [ALICE] for c in caught)
        texts = {c.message["Subject"]: c.message.get_body(("plain",)).get_content() for c in caught}
        text = texts["Not logged: (#481516234) Gmail Forwarding Confirmation - Receive Mail from bob.seller@gmail.com"]
        assert "481516234" in text and "bob.seller@gmail.com" in text
        assert "https://mail-settings.google.com/mail/vf-%5BANGjdJ_Lq3cXfake7Rk%5D-Wq9nB2vHkfakeT0k" in text
        assert "/mail/uf-" not in text
        newer = texts["Not logged: (Gmail Forwarding Confirmation - Receive Mail from carla.rep@gmail.com"]
        assert "https://mail.google.com/mail/vf-%5BANGjdJ9e4eXp5hFAKE8Wz%5D-158Amv9LHmEseFAKE" in newer
        assert "carla.rep@gmail.com" in newer and "/mail/uf-" not in newer
        why = rx.cli.json("why", "CAGoyuSY7f1s3Z=fake1-Vn2K@mail.gmail.com")
        assert [d["reason"] for d in why] == ["FORWARDING_CONFIRMATION"] and "481516234" in why[0]["explanation"]
        held = [h for h in rx.cli.json("held", "list") if h["reason"] == "FORWARDING_CONFIRMATION"]
        assert len(held) == 2 and "481516234" in held[0]["explanation"]
    finally:
        rx.stop()


def test_dutch_account_and_daily_users(tmp_path, db_url, sink):
    rx = notifying_receiver(tmp_path, db_url, sink.port)
    try:
        alice, bob = rx.add_user(ALICE), rx.add_user(BOB)
        rx.cli("account", "set", "--language", "nl")
        rx.cli("notices", "set", "daily", "--user", BOB)
        for user, who in ((alice, ALICE), (bob, BOB)):
            send(rx.port, signed(who, "me@ours.example", subject="Fwd: vergeten", body="x"),
                 [user["forward_address"]], mail_from=who)
        rx.drain()
        [told] = sink.wait(1)
        assert told.rcpt_tos == [ALICE] and told.message["Subject"] == "Niet gelogd: Fwd: vergeten"
        assert "Stuur het opnieuw door" in told.message.get_body(("plain",)).get_content()
        assert [n["status"] for n in rx.cli.json("notices", "list", "--user", BOB)] == ["waiting"]
        rx.cli("notices", "digest", "--user", BOB)
        caught = sink.wait(2)
        assert caught[1].rcpt_tos == [BOB]
        assert caught[1].message["Subject"] == "Niet gelogd: 1 e-mail (dagelijks overzicht)"
    finally:
        rx.stop()
