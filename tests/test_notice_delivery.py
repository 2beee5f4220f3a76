"""The outbox keeps its promise: a relay that is down or hangs holds nothing up and loses
nothing (the notices go out when it is back), and the real `smtp-logger serve` killed with
SIGKILL after a notice was decided, or while it was being sent, sends it after the restart,
once."""

from __future__ import annotations

import asyncio
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import trustme

from .conftest import Cli, free_port, make_env, start_receiver
from .mailers import message, msgid, send
from .relay import SecureSink, Sink, Tarpit
from .servers import serve

ALICE = "alice@ours.example"
BIN = Path(sys.executable).parent / "smtp-logger"


def forward_without_original(subject: str):
    return message(ALICE, "me@ours.example", subject=subject, body="I meant to forward something.")


def wait_until(predicate, timeout: float = 30, what: str = "condition") -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class StallingSink(Sink):
    """A relay that takes the whole message and then never answers the final dot."""

    def __init__(self, port: int | None = None):
        super().__init__(port)
        self.data_started = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        self.data_started.set()
        await asyncio.sleep(3600)
        return "250 never"


def kill(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)  # the server and its worker processes
    proc.wait(10)


def test_relay_down_notices_wait_and_go_out_when_it_returns(tmp_path, db_url):
    relay = Sink()  # its port is known, nothing listens yet
    rx = start_receiver(tmp_path, db_url, notify_smtp_host="127.0.0.1", notify_smtp_port=relay.port,
                        notify_retry_seconds=0.2)
    try:
        alice = rx.add_user(ALICE)
        lost = [forward_without_original(f"Fwd: lost {i}") for i in range(3)]
        for m in lost:
            send(rx.port, m, [alice["forward_address"]], mail_from=ALICE)
        rx.drain()
        assert all(rx.cli.json("why", msgid(m))[0]["reason"] == "ORIGINAL_NOT_FOUND" for m in lost)
        wait_until(lambda: all(n["attempts"] >= 2 and n["status"] in ("queued", "sending")
                               for n in rx.cli.json("notices", "list")), what="retries while the relay is down")
        assert all("Connection" in (n["last_error"] or "") for n in rx.cli.json("notices", "list")
                   if n["status"] == "queued")
        relay.start()
        caught = relay.wait(3)
        wait_until(lambda: [n["status"] for n in rx.cli.json("notices", "list")] == ["sent"] * 3, what="all sent")
        time.sleep(1)
        assert len(relay.caught) == 3 and sorted(c.message["Subject"] for c in caught) == [
            f"Not logged: Fwd: lost {i}" for i in range(3)]
    finally:
        rx.stop()
        relay.stop()


def test_logging_is_never_held_up_by_a_relay_that_hangs(tmp_path, db_url):
    tarpit = Tarpit()
    rx = start_receiver(tmp_path, db_url, notify_smtp_host="127.0.0.1", notify_smtp_port=tarpit.port,
                        notify_smtp_timeout=60)
    try:
        alice = rx.add_user(ALICE)
        for i in range(3):
            send(rx.port, forward_without_original(f"Fwd: lost {i}"), [alice["forward_address"]], mail_from=ALICE)
        rx.drain()
        wait_until(lambda: tarpit.held and rx.cli.json("notices", "list")[-1]["status"] == "sending",
                   what="the notifier stuck on the relay")
        started = time.monotonic()
        burst = [message(ALICE, [f"buyer{i}@acme.example"], subject=f"Offer {i}") for i in range(30)]
        for m in burst:
            send(rx.port, m, [alice["bcc_address"]])
        rx.drain()
        elapsed = time.monotonic() - started
        stuck = [n["status"] for n in rx.cli.json("notices", "list")]
        assert elapsed < 30, f"logging took {elapsed:.1f} s behind a hanging relay"
        assert stuck == ["sending"] * 3  # the notifier was stuck all along
        decided = {d["message_id"]: d["reason"] for d in rx.cli.json("recent", "--limit", "40")}
        assert [decided.get(msgid(m)) for m in burst] == ["LOGGED"] * 30
    finally:
        tarpit.close()
        rx.stop()


def test_killed_between_decision_and_send_the_notice_is_sent_after_restart_once(tmp_path, db_url):
    relay = Sink()  # down while the decision is taken
    port = free_port()
    env = make_env(tmp_path, db_url, port=port, worker_processes=2, notify_smtp_host="127.0.0.1",
                   notify_smtp_port=relay.port, notify_retry_seconds=0.5)
    cli = Cli(env)
    alice = cli.json("users", "add", ALICE)
    proc = serve(env, tmp_path / "serve.log")
    lost = forward_without_original("Fwd: decided before the crash")
    try:
        send(port, lost, [alice["forward_address"]], mail_from=ALICE)
        wait_until(lambda: cli.json("why", msgid(lost)), what="the decision")
        wait_until(lambda: cli.json("notices", "list")[0]["attempts"] >= 1, what="a failed attempt")
        assert cli.json("notices", "list")[0]["status"] in ("queued", "sending")
    finally:
        kill(proc)
    relay.start()
    proc = serve(env, tmp_path / "serve.log")
    try:
        [caught] = relay.wait(1)
        wait_until(lambda: cli.json("notices", "list")[0]["status"] == "sent", what="sent after the restart")
        time.sleep(1.5)
        assert len(relay.caught) == 1 and caught.message["Subject"] == "Not logged: Fwd: decided before the crash"
        assert caught.rcpt_tos == [ALICE]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        relay.stop()


def test_killed_while_sending_the_notice_is_sent_once_more_after_its_lease(tmp_path, db_url):
    stalling = StallingSink().start()
    port = free_port()
    env = make_env(tmp_path, db_url, port=port, worker_processes=0, notify_smtp_host="127.0.0.1",
                   notify_smtp_port=stalling.port, notify_smtp_timeout=1)
    cli = Cli(env)
    alice = cli.json("users", "add", ALICE)
    proc = serve(env, tmp_path / "serve.log")
    try:
        send(port, forward_without_original("Fwd: in flight"), [alice["forward_address"]], mail_from=ALICE)
        assert stalling.data_started.wait(30), "the notice never reached the relay"
    finally:
        kill(proc)  # the relay has the message; nobody recorded it as sent
    stalling.stop()
    [notice] = cli.json("notices", "list")
    assert notice["status"] == "sending" and notice["attempts"] == 1
    relay = Sink(stalling.port).start()
    proc = serve(env, tmp_path / "serve.log")
    try:
        [caught] = relay.wait(1, timeout=30)  # once the dead sender's lease (8 s here) ran out
        wait_until(lambda: cli.json("notices", "list")[0]["status"] == "sent", what="sent")
        time.sleep(1.5)
        assert len(relay.caught) == 1 and cli.json("notices", "list")[0]["attempts"] == 2
        assert caught.message["Message-ID"] == f"<notice-{notice['id']}@smtp-logger.localhost>"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        relay.stop()


def test_a_relay_that_wants_starttls_and_a_password(tmp_path, db_url, monkeypatch):
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # the relay's CA, as the system's trust store
    relay = SecureSink(server_context, "notices", "s3cret").start()
    rx = start_receiver(tmp_path, db_url, notify_smtp_host="127.0.0.1", notify_smtp_port=relay.port,
                        notify_smtp_starttls=True, notify_smtp_username="notices", notify_smtp_password="wrong",
                        notify_retry_seconds=0.2)
    try:
        alice = rx.add_user(ALICE)
        send(rx.port, forward_without_original("Fwd: over TLS"), [alice["forward_address"]], mail_from=ALICE)
        rx.drain()
        wait_until(lambda: ("notices", False) in relay.logins and rx.cli.json("notices", "list")[0]["last_error"],
                   what="a refused login")
        [notice] = rx.cli.json("notices", "list")
        assert notice["status"] in ("queued", "sending") and notice["last_error"].startswith("535")
        assert relay.caught == []
    finally:
        rx.stop()
    rx = start_receiver(tmp_path, db_url, notify_smtp_host="127.0.0.1", notify_smtp_port=relay.port,
                        notify_smtp_starttls=True, notify_smtp_username="notices", notify_smtp_password="s3cret",
                        notify_retry_seconds=0.2)
    try:
        [caught] = relay.wait(1)
        assert caught.rcpt_tos == [ALICE] and caught.message["Subject"] == "Not logged: Fwd: over TLS"
    finally:
        rx.stop()
        relay.stop()
