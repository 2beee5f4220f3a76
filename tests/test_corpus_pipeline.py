"""Every message of the shared third-party corpus through the whole receiver, over real SMTP.

Each file (sisimai bounces and auto-replies, flanker's MIME torture, CPython's email test data,
spamscope's captured spam, talon's replies) is sent as raw bytes to a user's BCC address *and*
forwarding address in one transaction. Each must be answered 250, get exactly one decision per
logging address, and leave nothing behind in the spool; no processing attempt may fail.
The corpus is read in place, never copied; without it the test is skipped. SQLite only: the
sweep checks the pipeline against odd mail, not the database (the other tests cover both).
Run with -s to see the distribution of reasons.
"""

from __future__ import annotations

import os
import smtplib
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from smtp_logger.base.config import load_settings
from smtp_logger.store.db import get_engine, upgrade
from smtp_logger.store.models import Decision, ReceivedMessage

from .conftest import Cli, Receiver, free_port, make_env

CORPUS = Path(os.environ.get("SMTP_LOGGER_CORPUS")
              or Path(__file__).resolve().parents[2] / "shared" / "corpus")
CONNECTIONS = 6

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"mail corpus not found at {CORPUS} "
                                "(set SMTP_LOGGER_CORPUS to its directory)")


def corpus_messages() -> list[Path]:
    """Whole RFC 5322 messages only (the reply/forward parser corpora hold bare bodies)."""
    patterns = ("**/*.eml", "sisimai-set-of-emails/maildir/*/*",
                "cpython-test-email/Lib/test/test_email/data/msg_*.txt",
                "spamscope-mail-parser/tests/mails/*")
    found = {p for pattern in patterns for p in CORPUS.glob(pattern) if p.is_file()}
    return sorted(found)


def failures() -> float:
    return REGISTRY.get_sample_value("smtp_logger_processing_failures_total") or 0.0


@pytest.fixture
def sweep_receiver(tmp_path):
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    upgrade(url)
    port = free_port()
    env = make_env(tmp_path, url, port=port, workers=4, log_level="error",
                   max_messages_per_connection=0)  # each connection sends hundreds
    rx = Receiver(load_settings(environ=env), Cli(env), port).start()
    yield rx
    rx.stop()
    get_engine(url).dispose()


def _send_all(port: int, files: list[Path], rcpts: list[str]) -> list[str]:
    """One connection sends its share; returns the files that were not answered 250."""
    problems = []
    with smtplib.SMTP("127.0.0.1", port, timeout=120) as client:
        for path in files:
            try:
                refused = client.sendmail("corpus@test.example", rcpts, path.read_bytes())
                if refused:
                    problems.append(f"{path.relative_to(CORPUS)}: refused {refused}")
            except smtplib.SMTPException as exc:
                problems.append(f"{path.relative_to(CORPUS)}: {exc!r}")
                client.rset()
    return problems


def _sweep_facts(rx) -> tuple[dict, int, Counter, dict, int]:
    with get_engine(rx.settings.db_url).connect() as db:
        per_address = dict(db.execute(
            select(ReceivedMessage.logging_address, func.count()).group_by(ReceivedMessage.logging_address)).all())
        deliveries = db.scalar(select(func.count(func.distinct(ReceivedMessage.spool_id))))
        decisions_per_message = Counter(db.scalars(
            select(func.count(Decision.id)).select_from(ReceivedMessage)
            .outerjoin(Decision, Decision.received_message_id == ReceivedMessage.id)
            .group_by(ReceivedMessage.id)))
        reasons = {(kind, reason): n for kind, reason, n in db.execute(
            select(ReceivedMessage.address_kind, Decision.reason, func.count())
            .join(Decision, Decision.received_message_id == ReceivedMessage.id)
            .group_by(ReceivedMessage.address_kind, Decision.reason))}
        undecided = db.scalar(select(func.count()).where(ReceivedMessage.status == "received"))
    return per_address, deliveries, decisions_per_message, reasons, undecided


def _print_reasons(title: str, reasons: dict) -> None:
    print(f"\n{title}; reasons per logging address:")
    for (kind, reason), n in sorted(reasons.items(), key=lambda item: (item[0][0], -item[1])):
        print(f"  {kind:8} {reason:28} {n}")


def _assert_nothing_left(rx, failed_before: float) -> None:
    assert failures() == failed_before, "a delivery failed processing (see the processing_failed log)"
    assert list((rx.settings.data_path / "spool" / "new").iterdir()) == []


def test_every_corpus_message_gets_one_decision_per_logging_address(sweep_receiver):
    files = corpus_messages()
    assert len(files) > 800, f"only {len(files)} corpus messages found under {CORPUS}"
    user = sweep_receiver.add_user("alice@ours.example")
    rcpts = [user["bcc_address"], user["forward_address"]]
    failed_before = failures()

    started = time.monotonic()
    shares = [files[i::CONNECTIONS] for i in range(CONNECTIONS)]
    with ThreadPoolExecutor(CONNECTIONS) as pool:
        problems = [p for share in pool.map(lambda s: _send_all(sweep_receiver.port, s, rcpts), shares)
                    for p in share]
    sent = time.monotonic()
    assert problems == []
    sweep_receiver.drain(timeout=600)
    drained = time.monotonic()

    _assert_nothing_left(sweep_receiver, failed_before)
    per_address, deliveries, decisions_per_message, reasons, undecided = _sweep_facts(sweep_receiver)
    _print_reasons(f"{len(files)} corpus messages: sent in {sent - started:.0f}s, all decided "
                   f"{drained - started:.0f}s after the first", reasons)
    assert deliveries == len(files)
    assert per_address == {rcpts[0]: len(files), rcpts[1]: len(files)}
    assert decisions_per_message == Counter({1: 2 * len(files)})
    assert undecided == 0


def _forward_of(raw: bytes, user: str, to: str, n: int) -> bytes:
    """The user forwarding a corpus message as an attachment (the raw bytes enclosed as is)."""
    boundary = f"=_fwd_{n}_" + "x" * 24
    body = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    head = (f"From: Alice Seller <{user}>\r\nTo: {to}\r\nSubject: Fwd: corpus {n}\r\n"
            f"Date: Mon, 23 Nov 2026 10:00:00 +0100\r\nMessage-ID: <corpus-fwd-{n}@ours.example>\r\n"
            f'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
            f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nPlease log this.\r\n"
            f"--{boundary}\r\nContent-Type: message/rfc822\r\n\r\n").encode()
    return head + body + f"\r\n--{boundary}--\r\n".encode()


def test_corpus_messages_forwarded_as_attachments_do_not_crash(sweep_receiver):
    """The forward path (find the original, create contacts, store attachments, thread) over the
    MIME-heavy corpora: flanker, CPython, spamscope, talon and sisimai's non-bounces."""
    files = [f for f in corpus_messages() if "sisimai" not in str(f) or "/not/" in str(f)]
    assert len(files) > 100
    user = sweep_receiver.add_user("alice@ours.example")
    address = user["forward_address"]
    failed_before = failures()
    with smtplib.SMTP("127.0.0.1", sweep_receiver.port, timeout=120) as client:
        for n, path in enumerate(files):
            assert client.sendmail(user["email"], [address], _forward_of(path.read_bytes(), user["email"],
                                                                         address, n)) == {}, path
    sweep_receiver.drain(timeout=600)
    _assert_nothing_left(sweep_receiver, failed_before)
    per_address, deliveries, decisions_per_message, reasons, undecided = _sweep_facts(sweep_receiver)
    _print_reasons(f"{len(files)} corpus messages forwarded as attachments", reasons)
    assert deliveries == len(files) and per_address == {address: len(files)}
    assert sum(decisions_per_message.values()) == len(files) and undecided == 0
    assert reasons.get(("forward", "LOGGED"), 0) > len(files) // 2
