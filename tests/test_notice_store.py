"""The outbox is written in the decision's own transaction (store/notices.py `consider`), on a
real database: committed decisions leave exactly one notice, rolled-back ones none; reasons
recorded outside the rules (the quarantine's PROCESSING_FAILED, the flood check's FLOOD) are
told through the same call once their code exists."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from smtp_logger.base.config import Settings
from smtp_logger.decide.rules import Decision
from smtp_logger.store import accounts, lifecycle, notices, outbox
from smtp_logger.store.db import session_factory
from smtp_logger.store.models import Notice

SETTINGS = Settings(notify_smtp_host="127.0.0.1")


def _received(session, user, n: int, reason: str) -> int:
    decision = Decision(reason, "recorded outside the rules")
    received_id = lifecycle.receive(
        session, decision, account_id=user.account_id, user_id=user.id, spool_id=f"spool{n}",
        logging_address="tok@fwd.smtp-logger.localhost", address_kind="forward", mail_from="alice@ours.example",
        message_id=f"m{n}@ours.example", raw_sha256="0" * 64, size=10, subject=f"Subject {n}",
        received_at=datetime.now(timezone.utc))
    lifecycle.decided(session, user.account_id, received_id, f"m{n}@ours.example", "tok@fwd.smtp-logger.localhost",
                      decision)
    notices.consider(session, SETTINGS, user.account_id, user.id, received_id, decision)
    return received_id


def _outbox(sessions) -> list[tuple[str, str, str]]:
    with sessions() as session:
        return [(n.reason, n.mode, n.recipient) for n in session.query(Notice).order_by(Notice.id)]


def test_committed_decisions_leave_one_notice_and_rolled_back_ones_none(db_url):
    sessions = session_factory(db_url)
    with sessions() as session:
        account = accounts.default_account(session)
        user = accounts.add_user(session, account.id, "alice@ours.example", None, [], SETTINGS)
        session.commit()
    with sessions() as session:
        _received(session, user, 1, "PROCESSING_FAILED")
        session.rollback()
    assert _outbox(sessions) == []
    with sessions() as session:
        first = _received(session, user, 2, "PROCESSING_FAILED")
        session.commit()
    with sessions() as session:  # the same decision recorded again: told once
        decision = Decision("PROCESSING_FAILED")
        notices.consider(session, SETTINGS, user.account_id, user.id, first, decision)
        session.commit()
    with sessions() as session:
        for n in range(3, 6):  # a flood is told once an hour
            _received(session, user, n, "FLOOD")
            session.commit()
    assert _outbox(sessions) == [("PROCESSING_FAILED", "immediate", "alice@ours.example"),
                                 ("FLOOD", "immediate", "alice@ours.example")]


def test_no_relay_no_notices(db_url):
    sessions = session_factory(db_url)
    with sessions() as session:
        account = accounts.default_account(session)
        user = accounts.add_user(session, account.id, "alice@ours.example", None, [], SETTINGS)
        decision = Decision("PROCESSING_FAILED")
        received_id = _received(session, user, 1, "UNPARSEABLE")
        notices.consider(session, Settings(), user.account_id, user.id, received_id, decision)
        session.commit()
    assert _outbox(sessions) == []


def test_the_daily_digest_takes_what_waited_since_before_the_digest_hour(db_url):
    sessions = session_factory(db_url)
    with sessions() as session:
        account = accounts.default_account(session)
        user = accounts.add_user(session, account.id, "alice@ours.example", None, [], SETTINGS)
        user.notify = "daily"
        for n in range(1, 4):
            _received(session, user, n, "PROCESSING_FAILED")
        session.commit()
    with sessions() as session:
        created = [n.created_at for n in session.query(Notice).order_by(Notice.id)]
        assert [n.status for n in session.query(Notice)] == ["waiting"] * 3
        before = created[0] - timedelta(seconds=1)  # a digest time before they were decided
        assert outbox.make_digests(session, created[-1], before) == 0
        assert outbox.make_digests(session, created[-1], created[-1]) == 1
        session.commit()
    with sessions() as session:
        [digest] = session.query(Notice).filter(Notice.kind == "digest").all()
        assert digest.status == "queued" and digest.recipient == "alice@ours.example"
        assert [i["subject"] for i in digest.facts["items"]] == ["Subject 1", "Subject 2", "Subject 3"]
        assert {n.status for n in session.query(Notice).filter(Notice.kind == "notice")} == {"digested"}


def test_digest_times():
    at = datetime(2026, 11, 24, 7, 59, tzinfo=timezone.utc)
    assert outbox.digest_cutoff(at, 8) == datetime(2026, 11, 23, 8, tzinfo=timezone.utc)
    assert outbox.digest_cutoff(at.replace(hour=8, minute=0), 8) == datetime(2026, 11, 24, 8, tzinfo=timezone.utc)
    assert outbox.digest_cutoff(at.replace(hour=23), 8) == datetime(2026, 11, 24, 8, tzinfo=timezone.utc)
