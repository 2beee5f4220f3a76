"""Graceful shutdown: SIGTERM in the middle of 20 concurrent transfers. The listener closes at
once, transfers that finish within shutdown_grace_seconds are acknowledged, the rest are cut
off and never acknowledged; idle sessions and commands outside the transaction in flight get
421 4.3.2; the process exits 0, and after a restart every acknowledged message is decided,
none missing, while nothing that was cut off ever is."""

from __future__ import annotations

import signal
import smtplib
import socket
import threading
import time

import pytest

from .conftest import free_port, make_env
from .mailers import message, msgid
from .servers import serve, stop, wait_for

ALICE = "alice@ours.example"
GRACE = 4
FAST, SLOW = 16, 4


def _payload(i: int) -> tuple[bytes, str]:
    body = "".join(f"Line {n} of offer {i}: prices, terms and delivery dates.\n" for n in range(300))
    m = message(ALICE, [f"buyer{i}@acme.example"], subject=f"Offer {i}", body=body)
    return m.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"), msgid(m)


class Transfer(threading.Thread):
    """One SMTP client sending one message in pieces, `pause` seconds apart."""

    def __init__(self, port: int, rcpt: str, i: int, pause: float, in_data: threading.Semaphore):
        super().__init__(daemon=True)
        self.port, self.rcpt, self.i, self.pause, self.in_data = port, rcpt, i, pause, in_data
        self.data, self.message_id = _payload(i)
        self.reply: int | None = None  # the reply to the end of data (None: connection lost)
        self.after: tuple[int, bytes] | None = None  # what the server said next, unasked

    def run(self):
        client = smtplib.SMTP("127.0.0.1", self.port, timeout=30)
        client.ehlo("client.test")
        client.mail(ALICE)
        client.rcpt(self.rcpt)
        assert client.docmd("DATA")[0] == 354
        self.in_data.release()
        pieces = [self.data[n:n + len(self.data) // 10 + 1] for n in range(0, len(self.data), len(self.data) // 10 + 1)]
        try:
            for piece in pieces:
                client.sock.sendall(piece)
                time.sleep(self.pause)
            client.sock.sendall(b".\r\n")
            self.reply = client.getreply()[0]
            if self.reply == 250:
                self.after = client.getreply()
        except (OSError, smtplib.SMTPServerDisconnected):
            pass
        finally:
            client.close()


def _reply(client: smtplib.SMTP) -> tuple[int, bytes]:
    try:
        return client.getreply()
    except smtplib.SMTPServerDisconnected:
        return (-1, b"disconnected")


@pytest.mark.parametrize("worker_processes", [2])
def test_sigterm_during_twenty_transfers_loses_nothing_and_acknowledges_nothing_cut_off(
        tmp_path, db_url, cli, worker_processes):
    port = free_port()
    env = make_env(tmp_path, db_url, port=port, worker_processes=worker_processes,
                   shutdown_grace_seconds=GRACE, log_level="info")
    cli.env = env
    bcc = cli.json("users", "add", ALICE)["bcc_address"]
    log = tmp_path / "server.log"
    proc = serve(env, log)
    in_data = threading.Semaphore(0)
    transfers = [Transfer(port, bcc, i, 0.15 if i < FAST else 1.0, in_data) for i in range(FAST + SLOW)]
    try:
        idle = smtplib.SMTP("127.0.0.1", port, timeout=10)
        idle.ehlo("idle.test")
        between_data, between_rset = (smtplib.SMTP("127.0.0.1", port, timeout=10) for _ in range(2))
        for client in (between_data, between_rset):
            client.ehlo("between.test")
            assert client.mail(ALICE)[0] == 250 and client.rcpt(bcc)[0] == 250
        for transfer in transfers:
            transfer.start()
        for _ in transfers:
            assert in_data.acquire(timeout=30), "every transfer is in DATA before the signal"
        time.sleep(0.3)
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)

        code, text = _reply(idle)
        assert (code, text[:5]) == (421, b"4.3.2"), "an idle session is told at once"
        time.sleep(0.5)
        with pytest.raises(OSError):  # the listener closed at once
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        last, msg_id = _payload(99)
        assert between_data.data(last)[0] == 250, "a transaction in flight may finish"
        assert between_rset.docmd("RSET") == (421, b"4.3.2 Service shutting down, try again later")
        for transfer in transfers:
            transfer.join(GRACE + 30)
        assert proc.wait(GRACE + 60) == 0, log.read_text()[-3000:]
        took = time.monotonic() - signalled
    finally:
        stop(proc)
    fast, slow = transfers[:FAST], transfers[FAST:]
    assert [t.reply for t in fast] == [250] * FAST, "transfers finishing within the grace are acknowledged"
    assert all(t.after and t.after[0] == 421 and t.after[1].startswith(b"4.3.2") for t in fast)
    assert all(t.reply != 250 for t in slow), "a transfer cut off is never acknowledged"
    assert GRACE - 0.5 <= took <= GRACE + 30
    print(f"stopped {took:.1f} s after SIGTERM; slow transfers got {[t.reply for t in slow]}")

    proc = serve(env, log)  # after a restart: every acknowledged message decided, once
    try:
        acknowledged = [t.message_id for t in fast] + [msg_id]
        wait_for(lambda: all(cli.json("why", m) for m in acknowledged), what="every acknowledged message decided")
        wait_for(lambda: cli.json("spool", "list") == [], what="an empty spool")
    finally:
        assert stop(proc) == 0
    for m in acknowledged:
        assert [d["reason"] for d in cli.json("why", m)] == ["LOGGED"]
    for t in slow:
        assert cli.json("why", t.message_id) == []
    for folder in ("new", "tmp"):
        assert not list((tmp_path / "data" / "spool" / folder).iterdir())


def test_a_second_signal_cuts_the_grace_short(tmp_path, db_url, cli):
    port = free_port()
    env = make_env(tmp_path, db_url, port=port, worker_processes=0, shutdown_grace_seconds=60)
    cli.env = env
    bcc = cli.json("users", "add", ALICE)["bcc_address"]
    proc = serve(env, tmp_path / "server.log")
    in_data = threading.Semaphore(0)
    slow = Transfer(port, bcc, 0, 2.0, in_data)
    try:
        slow.start()
        assert in_data.acquire(timeout=30)
        proc.send_signal(signal.SIGTERM)
        time.sleep(1)
        assert proc.poll() is None, "the first signal waits for the transfer in flight"
        signalled = time.monotonic()
        proc.send_signal(signal.SIGINT)  # Ctrl-C again
        assert proc.wait(30) == 0
        assert time.monotonic() - signalled < 15, "not the 60 s grace"
        slow.join(30)
    finally:
        stop(proc)
    assert slow.reply != 250
    assert cli.json("why", slow.message_id) == []
