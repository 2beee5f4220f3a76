"""The outbox after the commit: which notices are due, who is sending one (a claim with a lease,
so a sender that died mid-send is taken over once the lease runs out: at most one more copy per
crash, never none), what became of each (sent, retried later, refused for good), and the daily
digests that gather the notices waiting for them. Race-safe between several receivers: a
claim is a conditional UPDATE. SQL only; the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from smtp_logger.store.models import Account, Notice, User
from smtp_logger.store.rows import insert_id


def claim(session: Session, now: datetime, lease: Callable[[int], timedelta], limit: int) -> list[Notice]:
    """Take up to `limit` due notices for sending until now + lease(how many): queued ones whose
    time has come, and ones whose sender's lease ran out (it died while sending)."""
    fresh = and_(Notice.status == "queued", or_(Notice.next_attempt_at.is_(None), Notice.next_attempt_at <= now))
    stale = and_(Notice.status == "sending", Notice.claimed_until < now)
    ids = list(session.scalars(select(Notice.id).where(or_(fresh, stale)).order_by(Notice.id).limit(limit)))
    if not ids:
        return []
    until = now + lease(len(ids))
    claimed = []
    for notice_id in ids:
        taken = session.execute(update(Notice).where(Notice.id == notice_id, or_(fresh, stale)).values(
            status="sending", claimed_until=until, attempts=Notice.attempts + 1))
        if taken.rowcount == 1:
            claimed.append(notice_id)
    return list(session.scalars(select(Notice).where(Notice.id.in_(claimed)).order_by(Notice.id)))


def _items_follow(session: Session, digest_id: int, **values) -> None:
    session.execute(update(Notice).where(Notice.digest_id == digest_id).values(**values))


def sent(session: Session, notice: Notice, now: datetime) -> None:
    session.execute(update(Notice).where(Notice.id == notice.id, Notice.status == "sending").values(
        status="sent", sent_at=now, claimed_until=None, last_error=None))
    if notice.kind == "digest":
        _items_follow(session, notice.id, status="sent", sent_at=now)


def retry(session: Session, notice: Notice, now: datetime, delay: timedelta, error: str) -> None:
    session.execute(update(Notice).where(Notice.id == notice.id, Notice.status == "sending").values(
        status="queued", next_attempt_at=now + delay, claimed_until=None, last_error=error[:500]))


def failed(session: Session, notice: Notice, error: str) -> None:
    """The relay refused this notice for good (a 5xx for its recipient or its content)."""
    session.execute(update(Notice).where(Notice.id == notice.id, Notice.status == "sending").values(
        status="failed", claimed_until=None, last_error=error[:500]))
    if notice.kind == "digest":
        _items_follow(session, notice.id, status="failed", last_error=error[:500])


def digest_cutoff(now: datetime, hour: int) -> datetime:
    """The latest digest time at or before `now` (every day at `hour`:00 UTC)."""
    today = now.replace(hour=hour % 24, minute=0, second=0, microsecond=0)
    return today if today <= now else today - timedelta(days=1)


def _digest_item(notice: Notice) -> dict:
    facts = notice.facts or {}
    return {"reason": notice.reason, "subject": facts.get("subject"), "date": facts.get("date"),
            "message_id": facts.get("message_id")}


def make_digests(session: Session, now: datetime, cutoff: datetime, user_id: int | None = None) -> int:
    """Gather each user's notices waiting since before `cutoff` into one digest, queued for
    sending now. Returns how many digests were made."""
    waiting = [Notice.status == "waiting", Notice.created_at <= cutoff]
    if user_id is not None:
        waiting.append(Notice.user_id == user_id)
    made = 0
    for uid in list(session.scalars(select(Notice.user_id).where(*waiting).distinct())):
        user = session.get(User, uid)
        account = session.get(Account, user.account_id)
        digest_id = insert_id(session, Notice, account_id=user.account_id, user_id=uid, kind="digest",
                              reason="DIGEST", mode="immediate", status="queued", recipient=user.email,
                              facts={}, created_at=now)
        taken = session.execute(update(Notice).where(*waiting, Notice.user_id == uid).values(
            status="digested", digest_id=digest_id))
        if taken.rowcount == 0:  # another receiver gathered them first
            session.execute(delete(Notice).where(Notice.id == digest_id))
            continue
        items = [_digest_item(n) for n in session.scalars(
            select(Notice).where(Notice.digest_id == digest_id).order_by(Notice.id))]
        session.execute(update(Notice).where(Notice.id == digest_id).values(
            facts={"language": account.language or "en", "items": items}))
        made += 1
    return made


def listing(session: Session, account_id: int, user_id: int | None = None, limit: int = 200) -> list[dict]:
    """What was sent or is waiting, newest first (the shape of `notices list --json`)."""
    query = select(Notice).where(Notice.account_id == account_id)
    if user_id is not None:
        query = query.where(Notice.user_id == user_id)
    rows = []
    for n in session.scalars(query.order_by(Notice.id.desc()).limit(limit)):
        facts = n.facts or {}
        rows.append({
            "id": n.id, "kind": n.kind, "to": n.recipient, "reason": n.reason, "mode": n.mode,
            "status": n.status, "created_at": n.created_at.isoformat(),
            "sent_at": n.sent_at.isoformat() if n.sent_at else None, "attempts": n.attempts,
            "last_error": n.last_error, "digest_id": n.digest_id,
            "message_id": facts.get("message_id"),
            "subject": facts.get("subject") if n.kind == "notice" else f"{len(facts.get('items', []))} emails",
        })
    return rows
