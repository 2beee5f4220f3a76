"""Quarantine: a delivery whose processing keeps failing ends in spool/failed with
PROCESSING_FAILED while the others are decided; `spool retry` logs it once the cause is gone.

The failure is real, not mocked: the attachment store's folder for the poison message's
attachment is blocked by a plain file (as a broken disk or a wrong permission would), so
storing that one attachment raises every time, and removing the file is the cure."""

from __future__ import annotations

import hashlib
import time
import urllib.request
from email.message import EmailMessage

from smtp_logger.decide.reasons import EXPLANATIONS

from .conftest import free_port, start_receiver
from .mailers import message, msgid, send

ALICE = "alice@ours.example"
ATTACHMENT = b"%PDF-1.4 quarterly numbers that cannot be stored\n" * 40


def _poison() -> EmailMessage:
    m = message(ALICE, ["Bob Buyer <bob@acme.example>"], subject="Numbers attached")
    m.add_attachment(ATTACHMENT, maintype="application", subtype="pdf", filename="numbers.pdf")
    return m


def _wait_for(predicate, timeout=60.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if result := predicate():
            return result
        time.sleep(0.2)
    raise AssertionError("timed out")


def _metric(port: int, name: str) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return float(next(line.split()[1] for line in text.splitlines() if line.startswith(f"{name} ")))


def test_a_delivery_that_keeps_failing_is_quarantined_and_logged_after_a_retry(tmp_path, db_url):
    metrics_port = free_port()
    rx = start_receiver(tmp_path, db_url, max_attempts=3, metrics_port=metrics_port, blob_store="local")
    try:
        user = rx.add_user(ALICE)
        blocker = tmp_path / "data" / "attachments" / hashlib.sha256(ATTACHMENT).hexdigest()[:2]
        blocker.parent.mkdir(parents=True, exist_ok=True)
        blocker.write_text("a file where the attachment store needs a folder")
        poison = _poison()
        others = [message(ALICE, [f"buyer{i}@acme.example"], subject=f"Offer {i}") for i in range(3)]
        started = time.monotonic()
        assert send(rx.port, poison, [user["bcc_address"]]) == {}
        for m in others:
            assert send(rx.port, m, [user["bcc_address"]]) == {}

        failed = _wait_for(lambda: rx.cli.json("spool", "list", "--failed"), timeout=60)
        took = time.monotonic() - started
        assert len(failed) == 1
        row = failed[0]
        assert row["recipients"] == [user["bcc_address"]] and row["attempts"] == 3
        assert row["last_error"].startswith(("FileExistsError", "NotADirectoryError"))
        assert row["size"] > len(ATTACHMENT)
        assert took >= 3, "three attempts take the back-off's 1 s + 2 s"
        rx.drain()
        for m in others:
            assert [d["reason"] for d in rx.cli.json("why", msgid(m))] == ["LOGGED"]
        decisions = rx.cli.json("why", msgid(poison))
        assert [d["reason"] for d in decisions] == ["PROCESSING_FAILED"]
        assert decisions[0]["explanation"].startswith(EXPLANATIONS["PROCESSING_FAILED"])
        assert "no contact" in rx.cli("timeline", "bob@acme.example", expect=1).output  # nothing written
        assert rx.cli.json("spool", "list") == []  # not waiting: quarantined
        assert _metric(metrics_port, "smtp_logger_spool_failed") == 1

        shown = rx.cli.json("spool", "show", row["id"])
        assert shown["state"] == "failed" and shown["attempts"] == 3
        assert shown["message_id"] == msgid(poison)
        assert shown["error"]["type"] == row["last_error"].split(":")[0]
        assert "blobs.py" in shown["error"]["traceback"]
        assert shown["first_failed_at"] <= shown["last_failed_at"] <= shown["quarantined_at"]
        folder = tmp_path / "data" / "spool" / "failed"
        assert sorted(p.name for p in folder.iterdir()) == [f"{row['id']}.json", f"{row['id']}.msg"]

        blocker.unlink()  # the cause is gone
        assert rx.cli.json("spool", "retry", row["id"]) == {"retried": [row["id"]]}
        _wait_for(lambda: len(rx.cli.json("why", msgid(poison))) == 2, timeout=30)
        rx.drain()
        assert [d["reason"] for d in rx.cli.json("why", msgid(poison))] == ["PROCESSING_FAILED", "LOGGED"]
        [logged] = rx.cli.json("timeline", "bob@acme.example")
        assert [a["filename"] for a in logged["attachments"]] == ["numbers.pdf"]
        assert rx.cli.json("spool", "list", "--failed") == []
        assert not list(folder.iterdir())
        assert _metric(metrics_port, "smtp_logger_spool_failed") == 0
        assert not list((tmp_path / "data" / "spool" / "errors").iterdir())
    finally:
        rx.stop()


def test_a_quarantined_delivery_stays_out_of_the_way_across_a_restart(tmp_path, db_url):
    """Quarantined mail is not processed again at start-up; `spool retry --all` takes it back."""
    rx = start_receiver(tmp_path, db_url, max_attempts=1, blob_store="local")
    user = rx.add_user(ALICE)
    blocker = tmp_path / "data" / "attachments" / hashlib.sha256(ATTACHMENT).hexdigest()[:2]
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("blocked")
    poison = _poison()
    try:
        assert send(rx.port, poison, [user["bcc_address"]]) == {}
        _wait_for(lambda: rx.cli.json("spool", "list", "--failed"), timeout=30)
    finally:
        rx.stop()
    rx = start_receiver(tmp_path, rx.settings.db_url, max_attempts=1, blob_store="local")
    try:
        rx.drain()
        assert [d["reason"] for d in rx.cli.json("why", msgid(poison))] == ["PROCESSING_FAILED"]
        [row] = rx.cli.json("spool", "list", "--failed")
        blocker.unlink()
        assert rx.cli.json("spool", "retry", "--all") == {"retried": [row["id"]]}
        _wait_for(lambda: len(rx.cli.json("why", msgid(poison))) == 2, timeout=30)
        assert [d["reason"] for d in rx.cli.json("why", msgid(poison))] == ["PROCESSING_FAILED", "LOGGED"]
    finally:
        rx.stop()


def test_spool_commands_refuse_what_is_not_there(cli):
    assert "no failed delivery nosuchid" in cli("spool", "retry", "nosuchid", expect=1).output
    assert "give a SPOOL_ID or --all" in cli("spool", "retry", expect=1).output
    assert "no delivery nosuchid" in cli("spool", "show", "nosuchid", expect=1).output
    assert cli.json("spool", "list") == [] and cli.json("spool", "list", "--failed") == []
    assert cli("spool", "retry", "--all", "--json").stdout.strip().startswith("{")


def test_the_owner_is_told_once_that_a_message_could_not_be_processed(tmp_path, db_url):
    """PROCESSING_FAILED goes through the notices like any decision: one notice to the owner
    (to a real relay started here), none again for its retry that logs it."""
    from .relay import Sink
    relay = Sink().start()
    rx = start_receiver(tmp_path, db_url, max_attempts=1, notify_smtp_host="127.0.0.1", notify_smtp_port=relay.port,
                        blob_store="local")
    try:
        user = rx.add_user(ALICE)
        blocker = tmp_path / "data" / "attachments" / hashlib.sha256(ATTACHMENT).hexdigest()[:2]
        blocker.parent.mkdir(parents=True, exist_ok=True)
        blocker.write_text("blocked")
        poison = _poison()
        assert send(rx.port, poison, [user["bcc_address"]]) == {}
        [row] = _wait_for(lambda: rx.cli.json("spool", "list", "--failed"), timeout=30)
        [caught] = relay.wait(1)
        assert caught.rcpt_tos == [ALICE]
        assert caught.message["Subject"].startswith("Not logged")
        assert msgid(poison) in caught.message.get_body(("plain",)).get_content()
        blocker.unlink()
        rx.cli("spool", "retry", row["id"])
        _wait_for(lambda: len(rx.cli.json("why", msgid(poison))) == 2, timeout=30)
        rx.drain()
        assert [n["reason"] for n in rx.cli.json("notices", "list")] == ["PROCESSING_FAILED"]
    finally:
        rx.stop()
        relay.stop()
