"""STARTTLS and TLS-required mode, sender authenticity (AUTH_FAILED), the PROXY protocol,
connection limits, and a real third-party client (swaks)."""

from __future__ import annotations

import shutil
import smtplib
import socket
import ssl
import subprocess

import pytest
import trustme

from .conftest import start_receiver
from .mailers import message, msgid, send

ALICE = "alice@ours.example"


@pytest.fixture
def tls_files(tmp_path):
    ca = trustme.CA()
    cert = ca.issue_cert("smtp-logger.localhost", "127.0.0.1")
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    for extra in cert.cert_chain_pems[1:]:
        extra.write_to_path(str(cert_path), append=True)
    cert.private_key_pem.write_to_path(str(key_path))
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    client_context.check_hostname = False
    return cert_path, key_path, client_context


def test_starttls_and_tls_required(tmp_path, db_url, tls_files):
    cert, key, client_context = tls_files
    rx = start_receiver(tmp_path, db_url, tls_cert=cert, tls_key=key, require_tls="true")
    try:
        user = rx.add_user(ALICE)
        with smtplib.SMTP("127.0.0.1", rx.port) as client:
            client.ehlo()
            assert client.has_extn("starttls")
            code, _ = client.mail(ALICE)
            assert code == 530  # must issue STARTTLS first
        m = message(ALICE, "bob@acme.example")
        with smtplib.SMTP("127.0.0.1", rx.port) as client:
            client.starttls(context=client_context)
            assert client.send_message(m, from_addr=ALICE, to_addrs=[user["bcc_address"]]) == {}
        rx.drain()
        assert rx.cli.json("why", msgid(m))[0]["reason"] == "LOGGED"
    finally:
        rx.stop()


def test_authentication_results_from_trusted_mta(tmp_path, db_url):
    rx = start_receiver(tmp_path, db_url, sender_auth="authentication-results", trusted_authserv_ids="mx.ours.example")
    try:
        user = rx.add_user(ALICE)
        good = message(ALICE, "bob@acme.example", headers={
            "Authentication-Results": "mx.ours.example; dkim=pass header.d=ours.example; dmarc=pass header.from=ours.example"})
        forged = message(ALICE, "bob@acme.example", headers={
            "Authentication-Results": "mx.ours.example; dkim=fail header.d=ours.example; dmarc=fail header.from=ours.example"})
        untrusted = message(ALICE, "bob@acme.example", headers={
            "Authentication-Results": "evil.example; dkim=pass header.d=ours.example; dmarc=pass header.from=ours.example"})
        for m in (good, forged, untrusted):
            send(rx.port, m, [user["bcc_address"]])
        rx.drain()
        assert rx.cli.json("why", msgid(good))[0]["reason"] == "LOGGED"
        assert rx.cli.json("why", msgid(forged))[0]["reason"] == "AUTH_FAILED"
        assert rx.cli.json("why", msgid(untrusted))[0]["reason"] == "AUTH_FAILED"
    finally:
        rx.stop()


def test_proxy_protocol_header_is_understood(tmp_path, db_url):
    rx = start_receiver(tmp_path, db_url, proxy_protocol_timeout=5)
    try:
        user = rx.add_user(ALICE)
        with socket.create_connection(("127.0.0.1", rx.port), timeout=10) as s:
            s.sendall(b"PROXY TCP4 203.0.113.7 127.0.0.1 40000 25\r\n")
            f = s.makefile("rb")
            assert f.readline().startswith(b"220 ")
            m = message(ALICE, "bob@acme.example")
            s.sendall(f"HELO lb\r\nMAIL FROM:<{ALICE}>\r\nRCPT TO:<{user['bcc_address']}>\r\nDATA\r\n".encode())
            replies = [f.readline() for _ in range(4)]
            assert replies[-1].startswith(b"354")
            s.sendall(m.as_bytes().replace(b"\n", b"\r\n") + b".\r\nQUIT\r\n")
            assert f.readline().startswith(b"250 2.0.0")
        rx.drain()
        assert rx.cli.json("why", msgid(m))[0]["reason"] == "LOGGED"
    finally:
        rx.stop()


def test_connection_limit(tmp_path, db_url):
    rx = start_receiver(tmp_path, db_url, max_connections=2)
    try:
        held = [socket.create_connection(("127.0.0.1", rx.port)) for _ in range(2)]
        for s in held:
            assert s.makefile("rb").readline().startswith(b"220")
        with socket.create_connection(("127.0.0.1", rx.port), timeout=5) as third:
            assert third.makefile("rb").readline().startswith(b"421 4.7.0")
        for s in held:
            s.close()
    finally:
        rx.stop()


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed (apt-get install swaks)")
def test_swaks_bcc_lands_on_the_timeline(receiver):
    user = receiver.add_user("demo@example.com")
    out = subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{receiver.port}", "--from", "demo@example.com",
         "--to", user["bcc_address"], "--header", "To: Customer <customer@acme.example>",
         "--header", "Subject: Our proposal", "--header", "Message-Id: <swaks-1@example.com>",
         "--body", "Hello, here it is."], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    receiver.drain()
    [e] = receiver.cli.json("timeline", "customer@acme.example")
    assert e["subject"] == "Our proposal" and e["direction"] == "outgoing"
    assert "Hello, here it is." in e["body_text"]
    assert receiver.cli.json("why", "swaks-1@example.com")[0]["reason"] == "LOGGED"
