"""Limits per client over real SMTP connections: each limit of the table refuses with its code,
the PROXY header's client is the one limited, trusted_networks are exempt, every refusal is
counted in smtp_logger_refused_total{reason}, and unknown recipients are answered in the same
time however near they come to a real token."""

from __future__ import annotations

import statistics
import time

import pytest
from prometheus_client import REGISTRY

from .conftest import start_receiver
from .mailers import message
from .smtpclient import RawSMTP

ALICE = "alice@ours.example"


def refused_count(reason: str) -> float:
    return REGISTRY.get_sample_value("smtp_logger_refused_total", {"reason": reason}) or 0.0


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'crm.db'}"


def _data() -> bytes:
    return message(ALICE, "customer@acme.example").as_bytes()


def test_connections_per_ip_refused_with_421_and_trusted_networks_exempt(tmp_path, sqlite_url):
    rx = start_receiver(tmp_path / "a", sqlite_url, max_connections_per_ip=2)
    before = refused_count("connections_per_ip")
    try:
        held = [RawSMTP(rx.port), RawSMTP(rx.port)]
        assert all(c.greeting.startswith("220") for c in held)
        third = RawSMTP(rx.port)
        assert third.greeting.startswith("421 4.7.0")
        assert third.reply() == ""  # and closed
        assert refused_count("connections_per_ip") == before + 1
        held[0].close()
        time.sleep(0.2)
        again = RawSMTP(rx.port)  # a slot is free again
        assert again.greeting.startswith("220")
        for c in (held[1], again):
            c.close()
    finally:
        rx.stop()
    trusted = start_receiver(tmp_path / "b", f"sqlite:///{tmp_path / 'b.db'}", max_connections_per_ip=1,
                             trusted_networks="10.0.0.0/8, 127.0.0.0/8")
    try:
        clients = [RawSMTP(trusted.port) for _ in range(3)]
        assert all(c.greeting.startswith("220") for c in clients)
        for c in clients:
            c.close()
    finally:
        trusted.stop()


def test_the_client_named_by_the_proxy_header_is_the_one_limited(tmp_path, sqlite_url):
    rx = start_receiver(tmp_path, sqlite_url, max_connections_per_ip=1, proxy_protocol_timeout=5)
    try:
        first = RawSMTP(rx.port, proxy_ip="203.0.113.1")
        other = RawSMTP(rx.port, proxy_ip="203.0.113.2")  # same TCP peer, another client
        assert first.greeting.startswith("220") and other.greeting.startswith("220")
        assert RawSMTP(rx.port, proxy_ip="203.0.113.1").greeting.startswith("421 4.7.0")
        first.close()
        other.close()
    finally:
        rx.stop()


def test_messages_per_connection_then_421_and_close(tmp_path, sqlite_url):
    rx = start_receiver(tmp_path, sqlite_url, max_messages_per_connection=3)
    try:
        user = rx.add_user(ALICE)
        with RawSMTP(rx.port) as client:
            for _ in range(3):
                assert client.send(ALICE, [user["bcc_address"]], _data()).startswith("250 2.0.0")
            assert client.command(f"MAIL FROM:<{ALICE}>").startswith("421 4.7.0")
            assert client.reply() == ""  # closed
        with RawSMTP(rx.port) as client:  # a new connection may send again
            assert client.send(ALICE, [user["bcc_address"]], _data()).startswith("250 2.0.0")
        rx.drain()
    finally:
        rx.stop()


def test_rate_limit_per_ip_answers_451_at_mail_from(tmp_path, sqlite_url):
    rx = start_receiver(tmp_path, sqlite_url, rate_limit_per_ip=2)
    before = refused_count("rate_limit_per_ip")
    try:
        user = rx.add_user(ALICE)
        with RawSMTP(rx.port) as client:
            assert client.send(ALICE, [user["bcc_address"]], _data()).startswith("250")
        with RawSMTP(rx.port) as client:
            assert client.send(ALICE, [user["bcc_address"]], _data()).startswith("250")
            assert client.send(ALICE, [user["bcc_address"]], _data()).startswith("451 4.7.1")
            assert client.command("NOOP").startswith("250")  # the connection stays
        assert refused_count("rate_limit_per_ip") == before + 1
        rx.drain()
    finally:
        rx.stop()


def test_unknown_recipients_per_session_then_421_and_close(tmp_path, sqlite_url):
    rx = start_receiver(tmp_path, sqlite_url, max_unknown_recipients=3)
    try:
        user = rx.add_user(ALICE)
        with RawSMTP(rx.port) as client:
            client.command("HELO client.test")
            client.command(f"MAIL FROM:<{ALICE}>")
            for n in range(3):
                assert client.command(f"RCPT TO:<nobody{n}@bcc.smtp-logger.localhost>").startswith("550 5.1.1")
            assert client.command(f"RCPT TO:<{user['bcc_address']}>").startswith("421 4.7.0")
            assert client.reply() == ""
    finally:
        rx.stop()


def test_unknown_recipients_per_ip_blocks_new_connections(tmp_path, sqlite_url):
    rx = start_receiver(tmp_path, sqlite_url, unknown_recipients_per_ip=4, proxy_protocol_timeout=5)
    before = refused_count("unknown_recipients_per_ip")
    try:
        for _ in range(2):
            with RawSMTP(rx.port, proxy_ip="198.51.100.7") as client:
                client.command("HELO harvester.test")
                client.command("MAIL FROM:<x@harvester.test>")
                for n in range(2):
                    assert client.command(f"RCPT TO:<guess{n}@bcc.smtp-logger.localhost>").startswith("550")
        blocked = RawSMTP(rx.port, proxy_ip="198.51.100.7")
        assert blocked.greeting.startswith("421 4.7.0")
        blocked.close()
        assert refused_count("unknown_recipients_per_ip") == before + 1
        with RawSMTP(rx.port, proxy_ip="198.51.100.8") as other:  # only that client
            assert other.greeting.startswith("220")
    finally:
        rx.stop()


def test_trusted_networks_are_exempt_from_every_limit(tmp_path, sqlite_url):
    rx = start_receiver(tmp_path, sqlite_url, trusted_networks="127.0.0.1/32", max_messages_per_connection=1,
                        rate_limit_per_ip=1, max_unknown_recipients=1, unknown_recipients_per_ip=1)
    try:
        user = rx.add_user(ALICE)
        with RawSMTP(rx.port) as client:
            for n in range(3):  # an unknown recipient and a message, three times in one connection
                assert client.send(ALICE, [f"nobody{n}@bcc.smtp-logger.localhost", user["bcc_address"]],
                                   _data()).startswith("250 2.0.0")
        with RawSMTP(rx.port) as client:
            assert client.greeting.startswith("220")
        rx.drain()
    finally:
        rx.stop()


def _rcpt_seconds(port: int, address: str, rounds: int) -> list[float]:
    times = []
    with RawSMTP(port) as client:
        client.command("HELO client.test")
        client.command("MAIL FROM:<x@client.test>")
        for _ in range(rounds):
            started = time.perf_counter()
            assert client.command(f"RCPT TO:<{address}>").startswith("550 5.1.1")
            times.append(time.perf_counter() - started)
    return times


def test_unknown_recipients_take_the_same_time_near_a_token_or_not(tmp_path, db_url):
    rx = start_receiver(tmp_path, db_url, max_unknown_recipients=0, unknown_recipients_per_ip=0)
    try:
        old = rx.add_user(ALICE)["bcc_address"]
        rx.cli("users", "rotate", ALICE)  # the old token is still in the table, refused
        token, domain = old.split("@")
        near = f"{token[:-1]}{'a' if token[-1] != 'a' else 'b'}@{domain}"
        samples = {name: _rcpt_seconds(rx.port, address, 8) for name, address in
                   (("rotated", old), ("near", near), ("random", f"zz{'q' * len(token)}@{domain}"))}
        medians = {name: statistics.median(t) for name, t in samples.items()}
        assert min(min(t) for t in samples.values()) >= 0.095, samples  # every answer waits the fixed time
        assert max(medians.values()) - min(medians.values()) < 0.02, medians
    finally:
        rx.stop()


def test_every_refusal_is_a_log_event_without_the_address_tried(tmp_path, sqlite_url):
    import json
    import signal

    from .conftest import Cli, free_port, make_env
    from .servers import serve

    port = free_port()
    env = make_env(tmp_path, sqlite_url, port=port, log_level="info", worker_processes=1,
                   max_connections_per_ip=1)
    Cli(env)("db", "upgrade")
    log = tmp_path / "serve.log"
    proc = serve(env, log)
    try:
        time.sleep(0.5)  # the start-up probe's connection is gone
        with RawSMTP(port) as client:
            assert client.greeting.startswith("220")
            assert RawSMTP(port).greeting.startswith("421 4.7.0")
            client.command("HELO client.test")
            client.command("MAIL FROM:<x@client.test>")
            assert client.command("RCPT TO:<secretguess42@bcc.smtp-logger.localhost>").startswith("550 5.1.1")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        stderr = log.read_bytes()
    events = [json.loads(line) for line in stderr.decode().splitlines() if line.startswith("{")]
    reasons = [e["reason"] for e in events if e["event"] == "refused"]
    assert reasons == ["connections_per_ip", "unknown_recipient"]
    assert all(e.get("peer", "").startswith("127.0.0.1:") for e in events if e["event"] == "refused")
    assert b"secretguess42" not in stderr
