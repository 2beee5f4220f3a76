"""Threads, engagements, attachments rows and the facts the rules need about them.

SQL only; callers own the transaction. The unique (account, dedup_key) constraint on
engagements and (account, message_id) on thread ids make a racing duplicate fail loudly
(IntegrityError) instead of logging twice.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import bindparam, exists, func, select
from sqlalchemy.orm import Session

from smtp_logger.decide.rules import ThreadFacts
from smtp_logger.store import batchreads
from smtp_logger.store.models import Attachment, Engagement, EngagementContact, Thread, ThreadMessageId
from smtp_logger.store.rows import defer_rows, insert_all, insert_id, write_deferred

SUBJECT_THREAD_WINDOW = timedelta(days=30)


# Statements run for every message are built once; only their parameters change.
_IS_LOGGED = select(exists().where(Engagement.account_id == bindparam("account_id"),
                                   Engagement.dedup_key == bindparam("dedup_key")))


def is_logged(session: Session, account_id: int, dedup_key: str) -> bool:
    if (batch := batchreads.reads(session, account_id)) is not None:
        batch.look_logged(session, account_id, [dedup_key])
        return dedup_key in batch.logged
    return bool(session.scalar(_IS_LOGGED, {"account_id": account_id, "dedup_key": dedup_key}))


# A thread as the rules see it, with whether it holds any engagement yet, in one query.
_THREAD_FACTS = select(Thread.id, Thread.owner_user_id, Thread.owner_team_id, Thread.never_log,
                       exists().where(Engagement.thread_id == Thread.id))


def _facts(row) -> ThreadFacts | None:
    return ThreadFacts(row[0], row[1], row[2], bool(row[3]), bool(row[4])) if row else None


_THREAD_BY_KEYS = (_THREAD_FACTS.join(ThreadMessageId, ThreadMessageId.thread_id == Thread.id)
                   .where(ThreadMessageId.account_id == bindparam("account_id"),
                          ThreadMessageId.message_id.in_(bindparam("keys", expanding=True)))
                   .order_by(Thread.id).limit(1))


def thread_by_keys(session: Session, account_id: int, keys: tuple[str, ...]) -> ThreadFacts | None:
    """The oldest thread that knows any of these Message-IDs."""
    if not keys:
        return None
    if (batch := batchreads.reads(session, account_id)) is not None:
        batch.look_threads(session, account_id, keys)
        known, found = batch.thread_of(keys)
        if known:
            return found
        write_deferred(session)  # keys tied to a thread it did not read: the query sees them
    return _facts(session.execute(_THREAD_BY_KEYS, {"account_id": account_id, "keys": list(keys)}).first())


def thread_by_subject(session: Session, account_id: int, subject_key: str, contact_ids: list[int],
                      sent_at) -> ThreadFacts | None:
    """For forwards without headers: same normalised subject, same contact, within 30 days."""
    if not subject_key or not contact_ids:
        return None
    in_window = select(Engagement.thread_id).join(
        EngagementContact, EngagementContact.engagement_id == Engagement.id).where(
        Engagement.account_id == account_id, EngagementContact.contact_id.in_(contact_ids),
        Engagement.sent_at >= sent_at - SUBJECT_THREAD_WINDOW,
        Engagement.sent_at <= sent_at + SUBJECT_THREAD_WINDOW)
    return _facts(session.execute(
        _THREAD_FACTS.where(Thread.account_id == account_id, Thread.subject_key == subject_key,
                            Thread.id.in_(in_window))
        .order_by(Thread.id).limit(1)).first())


def new_thread(session: Session, account_id: int, owner_user_id: int, owner_team_id: int | None,
               subject_key: str, never_log: bool) -> int:
    """A new thread's id; a team-owned thread has no owning user."""
    owner = None if owner_team_id else owner_user_id
    thread_id = insert_id(session, Thread, account_id=account_id, owner_user_id=owner,
                          owner_team_id=owner_team_id, subject_key=subject_key[:500], never_log=never_log)
    if (batch := batchreads.reads(session, account_id)) is not None:
        batch.threads[thread_id] = ThreadFacts(thread_id, owner, owner_team_id, bool(never_log), False)
    return thread_id


def remember_keys(session: Session, account_id: int, thread_id: int, keys: tuple[str, ...],
                  new_thread: bool = False) -> None:
    """Tie these Message-IDs to the thread (ones another thread already knows stay there).

    For a thread created just now every key is inserted: if a racing receiver tied one of them
    to its own new thread meanwhile, the unique constraint fails this transaction, and its retry
    joins that thread instead of splitting the conversation in two."""
    if not keys:
        return
    batch = batchreads.reads(session, account_id)
    if new_thread:
        known = set()
    elif batch is not None:
        batch.look_threads(session, account_id, keys)
        known = {key for key in keys if key in batch.key_threads}
    else:
        known = set(session.scalars(select(ThreadMessageId.message_id).where(
            ThreadMessageId.account_id == account_id, ThreadMessageId.message_id.in_(keys))))
    new = [key for key in dict.fromkeys(keys) if key not in known]
    rows = [dict(account_id=account_id, thread_id=thread_id, message_id=key[:998]) for key in new]
    if batch is None:
        insert_all(session, ThreadMessageId, rows)
    else:  # the batch reads them from there; the rows are written at commit with the batch's
        defer_rows(session, ThreadMessageId, rows)
        batch.key_threads.update(dict.fromkeys((key[:998] for key in new), thread_id))
        batch.keys_looked.update(key[:998] for key in new)


SIGNATURE_REPEATS = 3  # an inline image the same sender sent in this many earlier emails is a logo


def repeated_images(session: Session, account_id: int, sender: str | None, hashes: list[str]) -> set[str]:
    """Which of these content hashes `sender` has sent in SIGNATURE_REPEATS or more earlier emails."""
    if not sender or not hashes:
        return set()
    rows = session.execute(
        select(Attachment.sha256).join(Engagement, Engagement.id == Attachment.engagement_id)
        .where(Engagement.account_id == account_id, Engagement.from_address == sender,
               Attachment.sha256.in_(sorted(set(hashes))))
        .group_by(Attachment.sha256).having(func.count(func.distinct(Engagement.id)) >= SIGNATURE_REPEATS))
    return {sha for (sha,) in rows}
