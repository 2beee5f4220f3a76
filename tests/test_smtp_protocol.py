"""The SMTP side as an MX endpoint: limits, enhanced codes, smuggling, 451 on our own failures."""

from __future__ import annotations

import shutil
import smtplib
import socket

import pytest

from .conftest import free_port, start_receiver
from .mailers import message, msgid, send

ALICE = "alice@ours.example"


@pytest.fixture
def alice(receiver):
    return receiver.add_user(ALICE)


def test_ehlo_advertises_size_8bitmime_smtputf8(receiver):
    with smtplib.SMTP("127.0.0.1", receiver.port) as client:
        client.ehlo()
        assert client.has_extn("8bitmime") and client.has_extn("smtputf8")
        assert int(client.esmtp_features["size"]) >= 80_000_000


def test_every_smtp_command_is_still_known(receiver):
    """The protocol narrows what dir() lists to speed up aiosmtpd's per-connection set-up; the
    commands it serves must stay the ones aiosmtpd implements."""
    from aiosmtpd.smtp import SMTP

    documented = {name[len("smtp_"):] for name in dir(SMTP) if name.startswith("smtp_")
                  and getattr(SMTP, name).__dict__.get("__smtp_syntax_when__", "") is None}
    with smtplib.SMTP("127.0.0.1", receiver.port) as client:
        code, text = client.docmd("HELP")
        assert code == 250
        assert set(text.decode().split(":", 1)[1].split()) == documented  # STARTTLS: no TLS here
        assert client.docmd("EXPN", "sales")[0] == 502  # known, not implemented
        assert client.noop()[0] == 250
        assert client.rset()[0] == 250
        assert client.docmd("VRFY", "alice@ours.example")[0] == 252
        assert client.docmd("AUTH", "PLAIN")[0] in (500, 503, 530)  # no AUTH offered, but known
        assert client.docmd("FOO")[0] == 500


def test_declared_size_over_limit_is_refused_at_mail_from(receiver, alice):
    with smtplib.SMTP("127.0.0.1", receiver.port) as client:
        client.ehlo()
        code, text = client.mail(ALICE, options=[f"SIZE={receiver.settings.max_message_size + 1}"])
        assert code == 552 and text.startswith(b"5.3.4")


def test_undeclared_oversize_is_refused_after_data(tmp_path, db_url):
    rx = start_receiver(tmp_path, db_url, max_message_size=20_000)
    port = rx.port
    try:
        user = rx.add_user(ALICE)
        big = message(ALICE, "bob@acme.example", body="x" * 70 + "\n" * 1 + ("y" * 75 + "\n") * 400)
        with smtplib.SMTP("127.0.0.1", port) as client:  # no SIZE= declared
            client.ehlo()
            assert client.mail(ALICE)[0] == 250
            assert client.rcpt(user["bcc_address"])[0] == 250
            code, text = client.data(big.as_bytes())
        assert code == 552 and text.startswith(b"5.3.4")
        small = message(ALICE, "bob@acme.example")
        assert send(port, small, [user["bcc_address"]]) == {}  # the session still works
        rx.drain()
        assert rx.cli.json("why", msgid(small))[0]["reason"] == "LOGGED"
        assert rx.cli.json("why", msgid(big)) == []
    finally:
        rx.stop()


def test_lines_longer_than_1000_octets_are_accepted(receiver, alice):
    long_line = "word " * 2000  # 10,000 octets on one line
    raw = (f"From: {ALICE}\r\nTo: bob@acme.example\r\nSubject: long\r\nMessage-ID: <long-1@x>\r\n"
           f"Content-Type: text/plain; charset=utf-8\r\n\r\n{long_line}\r\n").encode()
    send(receiver.port, raw, [alice["bcc_address"]], mail_from=ALICE)
    receiver.drain()
    [e] = receiver.cli.json("timeline", "bob@acme.example")
    assert e["body_text"].strip() == long_line.strip()


def _raw_session(port: int, commands: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(commands)
        data = b""
        while b"\r\n221 " not in data and (chunk := s.recv(65536)):
            data += chunk
        return data


def test_bare_lf_dot_does_not_end_data_no_smuggling(receiver, alice):
    bcc = alice["bcc_address"].encode()
    smuggled = (b"MAIL FROM:<evil@evil.example>\r\nRCPT TO:<" + bcc + b">\r\nDATA\r\n"
                b"From: evil@evil.example\r\nTo: bob@acme.example\r\nSubject: smuggled\r\n"
                b"Message-ID: <smuggled@evil>\r\n\r\nhidden\r\n")
    payload = (b"EHLO test\r\nMAIL FROM:<" + ALICE.encode() + b">\r\nRCPT TO:<" + bcc + b">\r\nDATA\r\n"
               b"From: " + ALICE.encode() + b"\r\nTo: bob@acme.example\r\nSubject: outer\r\n"
               b"Message-ID: <outer@ours>\r\n\r\nbody\r\n\n.\n" + smuggled + b"\r\n.\r\nQUIT\r\n")
    replies = _raw_session(receiver.port, payload)
    assert replies.count(b"250 2.0.0") == 1  # one message, not two
    receiver.drain()
    assert receiver.cli.json("why", "smuggled@evil") == []
    [e] = receiver.cli.json("timeline", "bob@acme.example")
    assert e["subject"] == "outer" and "hidden" in e["body_text"]


def test_dot_stuffing_is_undone(receiver, alice):
    raw = (f"From: {ALICE}\r\nTo: bob@acme.example\r\nSubject: dots\r\nMessage-ID: <dots@x>\r\n\r\n"
           ".leading dot\r\n..two dots\r\n").encode()
    send(receiver.port, raw, [alice["bcc_address"]], mail_from=ALICE)
    receiver.drain()
    [e] = receiver.cli.json("timeline", "bob@acme.example")
    assert e["body_text"].splitlines()[:2] == [".leading dot", "..two dots"]


def test_too_many_recipients(tmp_path, db_url):
    rx = start_receiver(tmp_path, db_url, max_recipients=2)
    port = rx.port
    try:
        users = [rx.add_user(f"u{i}@ours.example") for i in range(3)]
        with smtplib.SMTP("127.0.0.1", port) as client:
            client.ehlo()
            client.mail("u0@ours.example")
            assert client.rcpt(users[0]["bcc_address"])[0] == 250
            assert client.rcpt(users[1]["bcc_address"])[0] == 250
            code, text = client.rcpt(users[2]["bcc_address"])
            assert code == 452 and text.startswith(b"4.5.3")
    finally:
        rx.stop()


def test_disk_failure_answers_451_and_nothing_is_acknowledged(receiver, alice):
    spool_new = receiver.app.spool.new
    shutil.rmtree(spool_new)
    spool_new.write_text("not a directory")  # the rename into new/ now fails
    try:
        with pytest.raises(smtplib.SMTPDataError) as err:
            send(receiver.port, message(ALICE, "bob@acme.example"), [alice["bcc_address"]])
        assert err.value.smtp_code == 451
    finally:
        spool_new.unlink()
        spool_new.mkdir()
    m = message(ALICE, "bob@acme.example")
    assert send(receiver.port, m, [alice["bcc_address"]]) == {}
    receiver.drain()
    assert receiver.cli.json("why", msgid(m))[0]["reason"] == "LOGGED"


def test_lmtp_mode_answers_per_recipient(tmp_path, db_url):
    rx = start_receiver(tmp_path, db_url, lmtp="true")
    port = rx.port
    try:
        a, b = rx.add_user(ALICE), rx.add_user("bert@ours.example")
        m = message(ALICE, "bob@acme.example", cc="bert@ours.example")
        # RFC 2033: one reply per accepted recipient after DATA (smtplib.LMTP reads only one).
        session = (f"LHLO test\r\nMAIL FROM:<{ALICE}>\r\nRCPT TO:<{a['bcc_address']}>\r\n"
                   f"RCPT TO:<{b['bcc_address']}>\r\nDATA\r\n").encode() \
            + m.as_bytes().replace(b"\n", b"\r\n") + b".\r\nQUIT\r\n"
        replies = _raw_session(port, session)
        assert replies.count(b"250 2.1.5 OK: delivered") == 2
        rx.drain()
        reasons = sorted((d["logging_address"] == a["bcc_address"], d["reason"]) for d in rx.cli.json("why", msgid(m)))
        assert reasons == [(False, "SENDER_NOT_ALLOWED"), (True, "LOGGED")]
    finally:
        rx.stop()


def test_metrics_endpoint_counts_accepted_mail(tmp_path, db_url):
    import urllib.request
    metrics_port = free_port()
    rx = start_receiver(tmp_path, db_url, metrics_port=metrics_port)
    port = rx.port
    try:
        user = rx.add_user(ALICE)

        def metric(name: str) -> float:
            text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
            return float(next(line.split()[1] for line in text.splitlines()
                              if line.startswith(f"{name} ")))

        accepted, processed = metric("smtp_logger_accepted_total"), metric("smtp_logger_processed_total")
        send(port, message(ALICE, "bob@acme.example"), [user["bcc_address"]])
        rx.drain()
        assert metric("smtp_logger_accepted_total") == accepted + 1
        assert metric("smtp_logger_processed_total") == processed + 1
        assert metric("smtp_logger_spool_backlog") == 0
    finally:
        rx.stop()
