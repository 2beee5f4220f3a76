"""Floods (FLOOD: held beyond flood_limit, released by `held release`) and loops (554 5.4.6 for too
many Received: fields; our own notices never logged nor answered), over real SMTP connections."""

from __future__ import annotations

import smtplib

from .conftest import start_receiver
from .mailers import message, msgid
from .smtpclient import send_raw

ALICE, CUSTOMER = "alice@ours.example", "customer@acme.example"


def _send_many(port: int, messages, rcpt: str, per_connection: int = 60) -> None:
    for start in range(0, len(messages), per_connection):
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
            for m in messages[start:start + per_connection]:
                assert client.send_message(m, from_addr=CUSTOMER, to_addrs=[rcpt]) == {}


def test_flood_beyond_the_limit_is_held_and_released_by_the_command(tmp_path, db_url):
    rx = start_receiver(tmp_path, db_url, flood_limit=100, flood_window_minutes=60)
    try:
        forward = rx.add_user(ALICE)["forward_address"]
        rx.cli("contacts", "add", CUSTOMER, "--name", "Customer")
        rx.cli("account", "set", "--log-all-from-contacts")
        mails = [message(CUSTOMER, ALICE, subject=f"Order {n}") for n in range(120)]
        _send_many(rx.port, mails, forward)
        rx.drain()
        reasons = [rx.cli.json("why", msgid(m))[0]["reason"] for m in mails]
        assert reasons.count("LOGGED") == 100 and reasons.count("FLOOD") == 20
        held = rx.cli.json("held", "list")
        assert len(held) == 20 and {h["reason"] for h in held} == {"FLOOD"}
        assert "unusual number of emails" in held[0]["explanation"]

        one = mails[110]
        assert rx.cli.json("held", "release", msgid(one)) == {"released": 1, "logged": 1}
        assert rx.cli.json("why", msgid(one))[-1]["reason"] == "LOGGED"
        assert rx.cli.json("held", "release", "--reason", "FLOOD", "--user", ALICE) == {"released": 19, "logged": 19}
        assert rx.cli.json("held", "list") == []
        assert len(rx.cli.json("timeline", CUSTOMER)) == 120
        assert rx.cli("held", "release", msgid(one), expect=1).output.startswith("error: no message")
    finally:
        rx.stop()


def test_flood_counts_per_sender_and_logging_address(tmp_path, db_url):
    rx = start_receiver(tmp_path, db_url, flood_limit=2)
    try:
        user = rx.add_user(ALICE)
        outreach = [message(ALICE, f"lead{n}@acme.example", subject=f"Intro {n}") for n in range(3)]
        for m in outreach:
            send_raw(rx.port, ALICE, [user["bcc_address"]], m.as_bytes())
        other = message("bob@ours.example", "lead@acme.example")  # another sender: counted apart
        send_raw(rx.port, "bob@ours.example", [user["bcc_address"]], other.as_bytes())
        rx.drain()
        assert sorted(rx.cli.json("why", msgid(m))[0]["reason"] for m in outreach) == ["FLOOD", "LOGGED", "LOGGED"]
        assert rx.cli.json("why", msgid(other))[0]["reason"] == "SENDER_NOT_ALLOWED"
    finally:
        rx.stop()


def _with_received(count: int) -> tuple[str, bytes]:
    m = message(ALICE, CUSTOMER)
    trace = b"".join(b"Received: from hop%d.example by hop%d.example; Mon, 23 Nov 2026 10:00:00 +0000\r\n"
                     % (n, n + 1) for n in range(count))
    return msgid(m), trace + m.as_bytes()


def test_more_than_max_received_headers_is_refused_554_at_end_of_data(tmp_path, db_url):
    rx = start_receiver(tmp_path, db_url, max_received_headers=50)
    try:
        bcc = rx.add_user(ALICE)["bcc_address"]
        looped_id, looped = _with_received(51)
        fine_id, fine = _with_received(50)
        assert send_raw(rx.port, ALICE, [bcc], looped) == "554 5.4.6 Too many Received: header fields: mail loop"
        assert send_raw(rx.port, ALICE, [bcc], fine).startswith("250 2.0.0")
        rx.drain()
        assert rx.cli.json("why", looped_id) == []
        assert rx.cli.json("why", fine_id)[0]["reason"] == "LOGGED"
    finally:
        rx.stop()


def test_our_own_notices_are_never_logged_nor_answered(tmp_path, db_url):
    rx = start_receiver(tmp_path, db_url)
    try:
        bcc = rx.add_user(ALICE)["bcc_address"]
        notice = message(ALICE, CUSTOMER, headers={"X-Smtp-Logger-Notice": "original-not-found"})
        stranger = message("notices@smtp-logger.localhost", ALICE, headers={"X-Smtp-Logger-Notice": "auth-failed"})
        for m, sender in ((notice, ALICE), (stranger, "notices@smtp-logger.localhost")):
            assert send_raw(rx.port, sender, [bcc], m.as_bytes()).startswith("250")
        rx.drain()
        for m in (notice, stranger):  # OWN_NOTICE before SENDER_NOT_ALLOWED: no notice about a notice
            [row] = rx.cli.json("why", msgid(m))
            assert row["reason"] == "OWN_NOTICE" and "never logged or answered" in row["explanation"]
        assert rx.cli("timeline", CUSTOMER, expect=1)
    finally:
        rx.stop()
