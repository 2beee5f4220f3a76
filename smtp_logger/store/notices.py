"""Deciding a notice in the transaction of the decision that causes it: `consider` is called
where a decision is written (run/deliver.py `Deliverer.write`) and queues the work for that
transaction's commit (store/rows.py `defer`), so the user's row is locked for the hourly count
only at the very end; the policy itself is the pure decide/notices.py. A rolled-back decision leaves no notice; a committed one leaves exactly
one outbox row (unique per received message and reason), which run/notifier.py sends after the
commit. SQL only; the caller owns the transaction. Sends nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from smtp_logger.decide import notices as policy
from smtp_logger.decide.reasons import LOGGED
from smtp_logger.decide.rules import Candidate, Decision
from smtp_logger.store import directory
from smtp_logger.store.blobs import SavedAttachment
from smtp_logger.store.models import Account, Notice, ReceivedMessage, User
from smtp_logger.store.rows import defer, insert_id
from smtp_logger.understand.addresses import domain_of
from smtp_logger.understand.companies import FREE_MAIL_DOMAINS

AUTOMATIC = ("OWN_NOTICE", "BOUNCE", "AUTO_REPLY")  # classifications of mail written by machines: never answered


@dataclass(frozen=True)
class _Pending:
    """A decision that may deserve a notice, with what its candidate said (no SQL yet)."""

    settings: object
    account_id: int
    user_id: int
    received_id: int
    reason: str
    detail: str
    delivery: str | None = None  # bcc | manual_forward | auto_copy
    automatic: bool = False
    from_name: str | None = None
    from_address: str | None = None
    sent_at: str | None = None
    attachments: tuple[dict, ...] = ()  # of a logged email: the ones not stored
    confirmation: dict | None = None


def consider(session: Session, settings, account_id: int, user_id: int, received_id: int,
             decision: Decision, candidate: Candidate | None = None,
             attachments: Sequence[SavedAttachment] | None = None) -> None:
    """The one call at a decision point, with its candidate and the attachment files saved for
    it when there are some: whether the owner is told is settled when this transaction
    commits. Costs nothing when notices are off, the reason is never notified, or a logged
    email kept all its attachments."""
    if not settings.notices_on or not policy.may_notify(decision.reason):
        return
    left_out = [{"filename": a.filename, "size": a.size, "reason": a.reason or "not stored"}
                for a in attachments or () if not a.stored]
    if decision.reason == LOGGED and not left_out:
        return
    c = candidate
    confirmation = c.confirmation if c is not None else None
    defer(session, _enqueue_all, _Pending(
        settings, account_id, user_id, received_id, decision.reason, decision.detail,
        delivery=c.delivery if c else None,
        automatic=bool(c and c.automatic and c.automatic[0] in AUTOMATIC),
        from_name=c.from_.name if c and c.from_ else None,
        from_address=c.from_.address if c and c.from_ else None,
        sent_at=c.sent_at.isoformat() if c and c.sent_at else None,
        attachments=tuple(left_out),
        confirmation=asdict(confirmation) if confirmation else None))


def _enqueue_all(session: Session, pending: list[_Pending]) -> None:
    for item in pending:
        _enqueue(session, item, datetime.now(timezone.utc))


def _was_envelope_sender(session: Session, item: _Pending, address: str) -> bool:
    """Whether `address` was the envelope sender of mail of this user that got logged."""
    return bool(session.scalar(select(exists().where(
        ReceivedMessage.account_id == item.account_id, ReceivedMessage.user_id == item.user_id,
        ReceivedMessage.status == "logged", ReceivedMessage.mail_from == address))))


def _counts(session: Session, user_id: int, reason: str, since: datetime) -> tuple[int, int]:
    """(immediate notices, notices with this reason) the user was given since `since`."""
    recent = (Notice.user_id == user_id, Notice.kind == "notice", Notice.created_at > since)
    immediate = session.scalar(select(func.count()).select_from(Notice).where(*recent, Notice.mode == "immediate"))
    same = session.scalar(select(func.count()).select_from(Notice).where(*recent, Notice.reason == reason))
    return immediate or 0, same or 0


def _situation(session: Session, item: _Pending, user: User, account: Account, now: datetime) -> policy.Situation:
    known = directory.get(session, account)
    own = frozenset(d for d in (domain_of(a) for a in known.addresses_of(user.id)) if d not in FREE_MAIL_DOMAINS)
    sender = item.from_address
    needs_history = item.reason == "SENDER_NOT_ALLOWED" and sender and domain_of(sender) not in own
    immediate, same = _counts(session, user.id, item.reason, now - timedelta(hours=1))
    return policy.Situation(
        reason=item.reason, notify=policy.resolve_notify(user.notify, account.notify),
        automatic=item.automatic, sender=sender, own_domains=own,
        sender_was_envelope=bool(needs_history and _was_envelope_sender(session, item, sender)),
        sender_other_user=bool(sender and sender in known.internal),
        attachments_left_out=len(item.attachments), sent_last_hour=immediate, same_reason_last_hour=same,
        max_per_hour=item.settings.notify_max_per_hour)


def _enqueue(session: Session, item: _Pending, now: datetime) -> None:
    if session.scalar(select(exists().where(Notice.received_message_id == item.received_id,
                                            Notice.reason == item.reason))):
        return  # told already (a held message decided again the same way)
    # One user's notices are counted and written one transaction at a time (PostgreSQL: the
    # row lock), so the hourly cap holds with several workers; SQLite writes one at a time anyway.
    user = session.scalars(select(User).where(User.id == item.user_id).with_for_update()).one()
    account = session.get(Account, item.account_id)
    plan = policy.notice_for(_situation(session, item, user, account, now))
    if plan is None:
        return
    received = session.execute(select(
        ReceivedMessage.subject, ReceivedMessage.message_id, ReceivedMessage.mail_from,
        ReceivedMessage.logging_address, ReceivedMessage.received_at).where(
        ReceivedMessage.id == item.received_id)).one()
    facts = dict(
        subject=received.subject, message_id=received.message_id, logging_address=received.logging_address,
        received_at=received.received_at.isoformat(), date=item.sent_at or received.received_at.isoformat(),
        from_name=item.from_name, from_address=item.from_address or received.mail_from or None,
        detail=item.detail, delivery=item.delivery, attachments=list(item.attachments),
        confirmation=item.confirmation,
        language=account.language or "en", user=user.email,
        retention_days=item.settings.held_retention_days)
    insert_id(session, Notice, account_id=item.account_id, user_id=user.id, received_message_id=item.received_id,
              kind="notice", reason=plan.reason, mode=plan.mode,
              status="queued" if plan.mode == "immediate" else "waiting",
              recipient=user.email, facts=facts, created_at=now)


def set_notify(session: Session, account: Account, user: User | None, mode: str | None) -> None:
    """`notify` for the account (user None) or one user; None: back to the default (a user's
    default is the account's)."""
    if mode is not None and mode not in policy.NOTIFY_MODES:
        raise ValueError(f"notify must be one of {', '.join(policy.NOTIFY_MODES)}")
    (user if user is not None else account).notify = mode
    session.flush()


def notify_of(user: User, account: Account) -> str:
    return policy.resolve_notify(user.notify, account.notify)
