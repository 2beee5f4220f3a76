"""A PostgreSQL outage: the test starts its own PostgreSQL (the machine's initdb/pg_ctl, in a
temporary folder), stops it and starts it again. While it is down, SMTP keeps acknowledging
into the spool (RCPT answered from the receiver's own copy of the live logging addresses, saved
on disk, so a restart during the outage still has it): 200 messages, all acknowledged, none
refused; an address not in the copy gets 451 4.3.0; /readyz says database; the workers wait
without burning CPU or counting attempts toward quarantine. When it is back, every
acknowledged message gets exactly one decision. Also: a rotated token stops working within
one refresh even when the change was made where the receiver cannot see its marker file."""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import signal
import smtplib
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from smtp_logger.store.db import get_engine

from .conftest import Cli, free_port, make_env
from .mailers import message, msgid, send
from .servers import serve, stop, wait_for

ALICE = "alice@ours.example"
BINS = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))


def _as_postgres(*command: str, **kwargs) -> subprocess.CompletedProcess:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run([*prefix, *command], capture_output=True, text=True, **kwargs)


class OwnPostgres:
    """A PostgreSQL server of the test's own, in a temporary folder owned by `postgres` when
    the test runs as root (initdb refuses root)."""

    def __init__(self):
        self.bin = Path(BINS[-1]).parent
        self.folder = Path(tempfile.mkdtemp(prefix="sl-own-pg-"))
        self.data, self.port = self.folder / "data", free_port()
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        done = _as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "root",
                            "--no-sync")
        assert done.returncode == 0, done.stderr
        self.start()
        self.url = f"postgresql+psycopg://root@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        done = _as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "log"), "-w",
                            "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off",
                            "start")
        assert done.returncode == 0, done.stderr + done.stdout

    def stop(self) -> None:
        done = _as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        assert done.returncode == 0, done.stderr + done.stdout

    def remove(self) -> None:
        _as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def own_postgres():
    if not BINS:
        pytest.skip("no initdb in /usr/lib/postgresql/*/bin: cannot start a PostgreSQL of the test's own")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root without a postgres user to run initdb as")
    server = OwnPostgres()
    try:
        yield server
    finally:
        server.remove()


def _ready(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _send_many(port: int, rcpt: str, messages) -> dict[str, int]:
    """Each message in its own transaction (20 a connection); the reply code for each."""
    codes = {}
    for start in range(0, len(messages), 20):
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            for m in messages[start:start + 20]:
                try:
                    client.send_message(m, from_addr=ALICE, to_addrs=[rcpt])
                    codes[msgid(m)] = 250
                except smtplib.SMTPRecipientsRefused as refused:
                    codes[msgid(m)] = refused.recipients[rcpt][0]
    return codes


def _workers_cpu_seconds(server_pid: int) -> float:
    """CPU time (user + system) of the server's worker processes so far."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == server_pid:  # ppid
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def test_two_hundred_messages_during_a_postgresql_outage_are_all_acknowledged_and_decided_once(
        tmp_path, own_postgres):
    port, metrics_port = free_port(), free_port()
    env = make_env(tmp_path, own_postgres.url, port=port, metrics_port=metrics_port, worker_processes=2,
                   address_sync_seconds=1, max_attempts=2, shutdown_grace_seconds=3, log_level="info")
    cli = Cli(env)
    cli("db", "upgrade")
    alice = cli.json("users", "add", ALICE)
    log = tmp_path / "server.log"
    proc = serve(env, log)
    try:
        before = [message(ALICE, [f"early{i}@acme.example"], subject=f"Before {i}") for i in range(5)]
        assert set(_send_many(port, alice["bcc_address"], before).values()) == {250}
        wait_for(lambda: all(cli.json("why", msgid(m)) for m in before), what="the first messages decided")
        assert _ready(metrics_port)[0] == 200
        time.sleep(1.5)  # one refresh: the copy (and its saved file) has alice's addresses

        own_postgres.stop()
        status, body = _ready(metrics_port)
        assert status == 503 and body["failing"] == ["database"]
        during = [message(ALICE, [f"buyer{i}@acme.example"], subject=f"Offer {i}") for i in range(200)]
        codes = _send_many(port, alice["bcc_address"], during[:150])
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            client.ehlo("client.test")
            client.mail(ALICE)
            code, text = client.rcpt("notinthecopy@bcc.smtp-logger.localhost")
            assert (code, text[:5]) == (451, b"4.3.0"), "unknown to the copy while the database is down"

        cpu_before = _workers_cpu_seconds(proc.pid)
        time.sleep(4)  # more than max_attempts' back-off: nothing may be quarantined
        cpu = _workers_cpu_seconds(proc.pid) - cpu_before
        assert cpu < 0.5, f"the workers burned {cpu:.2f} s of CPU in 4 s of outage"
        assert not list((tmp_path / "data" / "spool" / "failed").iterdir())

        assert stop(proc) == 0  # a restart during the outage
        proc = serve(env, log)
        codes.update(_send_many(port, alice["bcc_address"], during[150:]))
        assert list(codes.values()) == [250] * 200, "every message acknowledged during the outage"
        assert len(cli.json("spool", "list")) == 200  # all waiting for the database

        own_postgres.start()
        get_engine(own_postgres.url).dispose()  # this test process's own pool (the command line's) died with it
        wait_for(lambda: cli.json("spool", "list") == [], timeout=120, what="the spool processed")
        for m in before + during:
            assert [d["reason"] for d in cli.json("why", msgid(m))] == ["LOGGED"], msgid(m)
        assert cli.json("spool", "list", "--failed") == []
        wait_for(lambda: _ready(metrics_port)[0] == 200, timeout=15, what="ready again")
    finally:
        stop(proc)
    events = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert any(e["event"] == "database_unavailable" for e in events)
    assert not any(e["event"] == "delivery_quarantined" for e in events)
    print(f"workers' CPU in 4 s of outage: {cpu:.3f} s")


def test_a_rotated_token_stops_working_within_one_refresh(tmp_path, own_postgres):
    """The rotation is made by a command line on "another host" (its own data_dir, so the
    receiver's marker file is not touched): the receiver's copy notices at its next refresh."""
    port = free_port()
    env = make_env(tmp_path, own_postgres.url, port=port, worker_processes=0, address_sync_seconds=1)
    cli = Cli(env)
    cli("db", "upgrade")
    old = cli.json("users", "add", ALICE)
    log = tmp_path / "server.log"
    proc = serve(env, log)
    elsewhere = Cli(dict(env, SMTP_LOGGER_DATA_DIR=str(tmp_path / "other-host")))
    try:
        assert send(port, message(ALICE, "bob@acme.example"), [old["bcc_address"]]) == {}
        time.sleep(1.5)  # in the copy by now: accepted without asking the database
        new = elsewhere.json("users", "rotate", ALICE)
        rotated_at = time.monotonic()

        def refused() -> bool:
            try:
                send(port, message(ALICE, "bob@acme.example"), [old["bcc_address"]])
                return False
            except smtplib.SMTPRecipientsRefused as error:
                assert error.recipients[old["bcc_address"]][0] == 550
                return True
        wait_for(refused, timeout=10, what="the old token refused")
        took = time.monotonic() - rotated_at
        assert took < 1 + 2, f"within one refresh (1 s) and a margin: {took:.2f} s"
        print(f"the rotated token was refused {took:.2f} s after the rotation")
        assert send(port, message(ALICE, "bob@acme.example"), [new["bcc_address"]]) == {}
    finally:
        assert stop(proc) == 0


def test_the_saved_copy_is_private(tmp_path, own_postgres):
    port = free_port()
    env = make_env(tmp_path, own_postgres.url, port=port, worker_processes=0, address_sync_seconds=0.5)
    cli = Cli(env)
    cli("db", "upgrade")
    user = cli.json("users", "add", ALICE)
    proc = serve(env, tmp_path / "server.log")
    saved = tmp_path / "data" / "live_addresses.json"
    try:
        wait_for(lambda: saved.exists() and user["bcc_address"] in saved.read_text(), what="the saved copy")
        assert saved.stat().st_mode & 0o077 == 0, "the tokens are secrets: owner-only"
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(30)
