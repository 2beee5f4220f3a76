"""Certificate renewal without a restart: a certificate replaced on disk is served to new
STARTTLS sessions once the files' modification time is looked at (tls_check_seconds), or at
once on SIGHUP; a pair that fails to load is logged and the old one stays in use."""

from __future__ import annotations

import json
import os
import signal
import smtplib
import ssl
import time

import trustme

from .conftest import free_port, make_env, start_receiver
from .mailers import message, msgid, send
from .servers import serve, stop, wait_for

ALICE = "alice@ours.example"


class Pki:
    """A CA, the files the receiver reads, and a client that trusts the CA."""

    def __init__(self, folder):
        self.ca = trustme.CA()
        self.cert_path, self.key_path = folder / "cert.pem", folder / "key.pem"
        self.client = ssl.create_default_context()
        self.ca.configure_trust(self.client)
        self.client.check_hostname = False

    def issue(self) -> bytes:
        """A new certificate written over the files; returns its DER."""
        cert = self.ca.issue_cert("smtp-logger.localhost", "127.0.0.1")
        cert.private_key_pem.write_to_path(str(self.key_path))
        cert.cert_chain_pems[0].write_to_path(str(self.cert_path))
        for extra in cert.cert_chain_pems[1:]:
            extra.write_to_path(str(self.cert_path), append=True)
        return ssl.PEM_cert_to_DER_cert(cert.cert_chain_pems[0].bytes().decode())

    def served(self, port: int) -> bytes:
        """The certificate a new STARTTLS session is shown."""
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.starttls(context=self.client)
            assert client.noop()[0] == 250
            return client.sock.getpeercert(binary_form=True)


def test_a_certificate_replaced_on_disk_is_served_without_a_restart(tmp_path, db_url):
    pki = Pki(tmp_path)
    first = pki.issue()
    rx = start_receiver(tmp_path, db_url, tls_cert=pki.cert_path, tls_key=pki.key_path, tls_check_seconds=1)
    try:
        assert pki.served(rx.port) == first
        with smtplib.SMTP("127.0.0.1", rx.port, timeout=10) as old_session:
            old_session.starttls(context=pki.client)
            second = pki.issue()
            wait_for(lambda: pki.served(rx.port) == second, timeout=15, what="the new certificate")
            assert old_session.noop()[0] == 250  # a session opened before goes on

        pki.cert_path.write_text("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n")
        time.sleep(2.5)  # more than one look at the files
        assert pki.served(rx.port) == second, "a pair that fails to load leaves the old one in use"
        third = pki.issue()
        wait_for(lambda: pki.served(rx.port) == third, timeout=15, what="the next good certificate")
    finally:
        rx.stop()


def test_sighup_reloads_the_certificate_and_keeps_the_workers(tmp_path, db_url, cli):
    pki = Pki(tmp_path)
    first = pki.issue()
    port = free_port()
    env = make_env(tmp_path, db_url, port=port, worker_processes=2, tls_cert=pki.cert_path,
                   tls_key=pki.key_path, tls_check_seconds=3600, log_level="info")
    cli.env = env
    user = cli.json("users", "add", ALICE)
    log = tmp_path / "server.log"
    proc = serve(env, log)
    try:
        assert pki.served(port) == first
        second = pki.issue()
        time.sleep(0.5)
        assert pki.served(port) == first, "without SIGHUP the next look is an hour away"
        os.killpg(proc.pid, signal.SIGHUP)  # the whole group, as a terminal hang-up would
        wait_for(lambda: pki.served(port) == second, timeout=15, what="the certificate after SIGHUP")
        m = message(ALICE, "bob@acme.example", subject="After the reload")
        assert send(port, m, [user["bcc_address"]]) == {}
        wait_for(lambda: cli.json("why", msgid(m)), what="a decision")
        assert proc.poll() is None
    finally:
        assert stop(proc) == 0
    events = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert any(e["event"] == "tls_reloaded" and e.get("why") == "SIGHUP" for e in events)
    assert not any(e["event"] == "worker_died" for e in events), "worker processes ignore SIGHUP"
