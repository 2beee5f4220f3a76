"""Threads, engagements, attachments rows and the facts the rules need about them.

SQL only; callers own the transaction. The unique (account, dedup_key) constraint on
engagements and (account, message_id) on thread ids make a racing duplicate fail loudly
(IntegrityError) instead of logging twice.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from ..models import Engagement, EngagementContact, Thread, ThreadMessageId
from ..rules import ThreadFacts

SUBJECT_THREAD_WINDOW = timedelta(days=30)


def is_logged(session: Session, account_id: int, dedup_key: str) -> bool:
    return session.scalar(select(exists().where(
        Engagement.account_id == account_id, Engagement.dedup_key == dedup_key))) or False


def _facts(session: Session, thread: Thread) -> ThreadFacts:
    has = session.scalar(select(exists().where(Engagement.thread_id == thread.id))) or False
    return ThreadFacts(thread.id, thread.owner_user_id, thread.owner_team_id, thread.never_log, has)


def thread_by_keys(session: Session, account_id: int, keys: tuple[str, ...]) -> ThreadFacts | None:
    """The oldest thread that knows any of these Message-IDs."""
    if not keys:
        return None
    thread = session.scalars(select(Thread).join(ThreadMessageId, ThreadMessageId.thread_id == Thread.id)
                             .where(ThreadMessageId.account_id == account_id,
                                    ThreadMessageId.message_id.in_(keys))
                             .order_by(Thread.id).limit(1)).first()
    return _facts(session, thread) if thread else None


def thread_by_subject(session: Session, account_id: int, subject_key: str, contact_ids: list[int],
                      sent_at) -> ThreadFacts | None:
    """For forwards without headers: same normalised subject, same contact, within 30 days."""
    if not subject_key or not contact_ids:
        return None
    thread = session.scalars(
        select(Thread).join(Engagement, Engagement.thread_id == Thread.id)
        .join(EngagementContact, EngagementContact.engagement_id == Engagement.id)
        .where(Thread.account_id == account_id, Thread.subject_key == subject_key,
               EngagementContact.contact_id.in_(contact_ids),
               Engagement.sent_at >= sent_at - SUBJECT_THREAD_WINDOW,
               Engagement.sent_at <= sent_at + SUBJECT_THREAD_WINDOW)
        .order_by(Thread.id).limit(1)).first()
    return _facts(session, thread) if thread else None


def new_thread(session: Session, account_id: int, owner_user_id: int, owner_team_id: int | None,
               subject_key: str, never_log: bool) -> Thread:
    thread = Thread(account_id=account_id, owner_user_id=None if owner_team_id else owner_user_id,
                    owner_team_id=owner_team_id, subject_key=subject_key[:500], never_log=never_log)
    session.add(thread)
    session.flush()
    return thread


def remember_keys(session: Session, account_id: int, thread_id: int, keys: tuple[str, ...],
                  new_thread: bool = False) -> None:
    """Tie these Message-IDs to the thread (ones another thread already knows stay there).

    For a thread created just now every key is inserted: if a racing receiver tied one of them
    to its own new thread meanwhile, the unique constraint fails this transaction, and its retry
    joins that thread instead of splitting the conversation in two."""
    if not keys:
        return
    known = set() if new_thread else set(session.scalars(select(ThreadMessageId.message_id).where(
        ThreadMessageId.account_id == account_id, ThreadMessageId.message_id.in_(keys))))
    for key in dict.fromkeys(keys):
        if key not in known:
            session.add(ThreadMessageId(account_id=account_id, thread_id=thread_id, message_id=key[:998]))
    session.flush()
