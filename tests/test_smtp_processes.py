"""smtp_processes = 2: two SMTP processes answer on one port (SO_REUSEPORT), each spooling with
its own group committer; mail sent over many connections is decided exactly once, both
processes take connections, and SIGTERM stops the whole tree cleanly (exit 0, no process left)."""

from __future__ import annotations

import smtplib
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .conftest import free_port, make_env
from .mailers import message, msgid
from .servers import serve, stop, wait_for

ALICE = "alice@ours.example"
COUNT = 60


def _children(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                kids = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            found += kids
            todo += kids
    return found


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":  # LISTEN
            inodes.add(fields[9])
    return inodes


def _holders(pids: list[int], inodes: set[str]) -> set[int]:
    """Which of these processes hold one of the listening sockets."""
    holding = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").glob("*"):
            try:
                target = fd.readlink().as_posix()
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                holding.add(pid)
    return holding


def _send(port: int, bcc: str, i: int) -> str:
    m = message(ALICE, [f"buyer{i}@acme{i % 7}.example"], subject=f"Offer {i}", body=f"Offer number {i}.")
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        client.sendmail(ALICE, [bcc], m.as_bytes())
    return msgid(m)


def test_two_smtp_processes_share_the_port_and_every_message_is_decided_once(tmp_path, db_url, cli):
    port = free_port()
    env = make_env(tmp_path, db_url, port=port, smtp_processes=2, worker_processes=1)
    cli.env = env
    bcc = cli.json("users", "add", ALICE)["bcc_address"]
    proc = serve(env, tmp_path / "server.log")
    try:
        smtp_kids = wait_for(lambda: [p for p in _children(proc.pid) if _comm(p).startswith("sl-smtp")],
                             what="the second SMTP process")
        listening = wait_for(lambda: len(_listening_inodes(port)) >= 2 and _listening_inodes(port),
                             what="two listening sockets on the port")
        assert _holders([proc.pid, *smtp_kids], listening) == {proc.pid, *smtp_kids}, \
            "both SMTP processes listen on the port"
        with ThreadPoolExecutor(8) as pool:
            sent = list(pool.map(lambda i: _send(port, bcc, i), range(COUNT)))
        assert len(set(sent)) == COUNT
        if db_url.startswith("sqlite"):
            db = db_url.split("///", 1)[1]

            def decided() -> dict:
                with sqlite3.connect(db) as conn:
                    return dict(conn.execute("SELECT message_id, count(*) FROM decisions GROUP BY message_id"))
        else:
            import psycopg
            url = db_url.replace("postgresql+psycopg", "postgresql")

            def decided() -> dict:
                with psycopg.connect(url) as conn:
                    return dict(conn.execute("SELECT message_id, count(*) FROM decisions GROUP BY message_id"))
        rows = wait_for(lambda: (found := decided()) and len(found) >= COUNT and found, what="every decision")
        assert {mid: n for mid, n in rows.items() if mid in sent} == {mid: 1 for mid in sent}
        timeline = cli.json("timeline", "buyer3@acme3.example")
        assert timeline, "logged onto the contact's timeline"
        tree = [proc.pid, *_children(proc.pid)]
        assert len(tree) >= 3  # the server, its SMTP process and its worker
    finally:
        code = stop(proc)
    assert code == 0
    deadline = time.monotonic() + 10  # multiprocessing's resource tracker ends once it sees the server gone
    while (left := {p: _comm(p) for p in tree if _comm(p)}) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == {}, "no process is left"
