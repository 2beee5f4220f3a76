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

from smtp_logger.config import load_settings
from smtp_logger.db import get_engine, upgrade
from smtp_logger.models import Decision, ReceivedMessage

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
    env = make_env(tmp_path, url, port=port, workers=4, log_level="error")
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

    assert failures() == failed_before, "a delivery failed processing (see the processing_failed log)"
    assert list((sweep_receiver.settings.data_path / "spool" / "new").iterdir()) == []
    with get_engine(sweep_receiver.settings.db_url).connect() as db:
        per_address = dict(db.execute(
            select(ReceivedMessage.logging_address, func.count()).group_by(ReceivedMessage.logging_address)).all())
        deliveries = db.scalar(select(func.count(func.distinct(ReceivedMessage.spool_id))))
        decisions_per_message = Counter(db.scalars(
            select(func.count(Decision.id)).select_from(ReceivedMessage)
            .outerjoin(Decision, Decision.received_message_id == ReceivedMessage.id)
            .group_by(ReceivedMessage.id)))
        reasons = {(way, reason): n for way, reason, n in db.execute(
            select(ReceivedMessage.way, Decision.reason, func.count())
            .join(Decision, Decision.received_message_id == ReceivedMessage.id)
            .group_by(ReceivedMessage.way, Decision.reason))}
        undecided = db.scalar(select(func.count()).where(ReceivedMessage.status == "received"))

    print(f"\n{len(files)} corpus messages: sent in {sent - started:.0f}s, all decided "
          f"{drained - started:.0f}s after the first; reasons per logging address:")
    for (way, reason), n in sorted(reasons.items(), key=lambda item: (item[0][0], -item[1])):
        print(f"  {way:8} {reason:28} {n}")
    assert deliveries == len(files)
    assert per_address == {rcpts[0]: len(files), rcpts[1]: len(files)}
    assert decisions_per_message == Counter({1: 2 * len(files)})
    assert undecided == 0
