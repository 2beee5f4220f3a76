"""The event outbox: store functions that change what a CRM mirrors call `record`; the events are
inserted at commit, in the transaction of the change, after the account rows are locked (on
PostgreSQL; SQLite has one writer), so event ids grow in commit order per account and a cursor
over them never skips one. Payloads carry ids and what a CRM renders, never the raw message.
SQL only; delivering is run/webhooks.py's job.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timezone

from sqlalchemy import event, func, insert, select
from sqlalchemy.orm import Session

from smtp_logger.store import rows  # noqa: F401  (its before_commit writer is registered first)
from smtp_logger.store.apimodels import OutboxEvent
from smtp_logger.store.models import Account

ENGAGEMENT_LOGGED = "engagement.logged"
ENGAGEMENT_UPDATED = "engagement.updated"
ENGAGEMENT_DELETED = "engagement.deleted"
MESSAGE_HELD = "message.held"
MESSAGE_NOT_LOGGED = "message.not_logged"
MESSAGE_RELEASED = "message.released"
TYPES = (ENGAGEMENT_LOGGED, ENGAGEMENT_UPDATED, ENGAGEMENT_DELETED, MESSAGE_HELD, MESSAGE_NOT_LOGGED,
         MESSAGE_RELEASED)
FEED_TYPES = (ENGAGEMENT_LOGGED, ENGAGEMENT_UPDATED, ENGAGEMENT_DELETED)
SNIPPET = 200  # characters of the reply text a payload carries

_PENDING = "outbox_pending"
_WRITTEN = "outbox_written"
_listeners: list[Callable[[], None]] = []


def record(session: Session, account_id: int, type_: str, data: dict) -> None:
    """An event of this transaction, inserted when it commits (dropped if it rolls back)."""
    session.info.setdefault(_PENDING, []).append((account_id, type_, data))


def on_commit(listener: Callable[[], None]) -> None:
    """Call `listener()` after a commit of this process wrote events (wakes the deliverer)."""
    _listeners.append(listener)


def forget(listener: Callable[[], None]) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def lock_account(session: Session, account_id: int) -> None:
    """Serialise event writers of one account until commit (SQLite has one writer already)."""
    if session.get_bind().dialect.name == "sqlite":
        return
    session.execute(select(Account.id).where(Account.id == account_id).with_for_update(key_share=True))


@event.listens_for(Session, "before_commit")
def write_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    for account_id in sorted({account_id for account_id, _, _ in pending}):
        lock_account(session, account_id)
    session.execute(insert(OutboxEvent), [dict(account_id=a, type=t, data=d) for a, t, d in pending])
    session.info[_WRITTEN] = True


@event.listens_for(Session, "after_commit")
def _notify(session: Session) -> None:
    if session.info.pop(_WRITTEN, False):
        for listener in list(_listeners):
            listener()


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_WRITTEN, None)


def last_id(session: Session, account_id: int) -> int:
    return session.scalar(select(func.max(OutboxEvent.id)).where(OutboxEvent.account_id == account_id)) or 0


def events_after(session: Session, account_id: int, after_id: int, limit: int,
                 types: tuple[str, ...] | None = None) -> list[OutboxEvent]:
    query = select(OutboxEvent).where(OutboxEvent.account_id == account_id, OutboxEvent.id > after_id)
    if types:
        query = query.where(OutboxEvent.type.in_(types))
    return list(session.scalars(query.order_by(OutboxEvent.id).limit(limit)))


# -- what each event carries ----------------------------------------------------------------

def utc_iso(value) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _addresses(boxes) -> list[str]:
    return [b["address"] for b in boxes or [] if b.get("address")]


def engagement_logged(session: Session, account_id: int, engagement_id: int, values: dict,
                      contact_ids: list[int], attachments: list) -> None:
    """`values` are the engagement row's columns as written."""
    record(session, account_id, ENGAGEMENT_LOGGED, {
        "engagement_id": engagement_id, "direction": values["direction"], "source": values["source"],
        "subject": values["subject"], "from": values["from_address"], "from_name": values["from_name"],
        "to": _addresses(values["to_addresses"]), "cc": _addresses(values["cc_addresses"]),
        "sent_at": utc_iso(values["sent_at"]), "thread_id": values["thread_id"],
        "message_id": values["message_id"], "owner_user_id": values["owner_user_id"],
        "received_message_id": values["received_message_id"], "contact_ids": sorted(set(contact_ids)),
        "snippet": (values["reply_text"] or "")[:SNIPPET],
        "attachments": [{"filename": a.filename, "content_type": a.content_type, "size": a.size,
                         "stored": a.stored} for a in attachments],
    })


def engagements_deleted(session: Session, account_id: int, engagement_ids: list[int], why: str) -> None:
    for engagement_id in engagement_ids:
        record(session, account_id, ENGAGEMENT_DELETED, {"engagement_id": engagement_id, "reason": why})


def engagements_moved(session: Session, account_id: int, engagement_ids: list[int], keep_id: int,
                      merged_id: int) -> None:
    """A merge moved these engagements from contact `merged_id` (now gone) to `keep_id`."""
    for engagement_id in engagement_ids:
        record(session, account_id, ENGAGEMENT_UPDATED, {
            "engagement_id": engagement_id, "reason": "contacts_merged", "contact_id": keep_id,
            "merged_contact_id": merged_id})


def message_decided(session: Session, account_id: int, received_id: int, message_id: str | None,
                    logging_address: str, status: str, reason: str, explanation: str,
                    engagement_id: int | None = None) -> None:
    """A received message held or not logged, or (status "released") a held one logged now."""
    type_ = {"held": MESSAGE_HELD, "not_logged": MESSAGE_NOT_LOGGED, "released": MESSAGE_RELEASED}[status]
    data = {"received_message_id": received_id, "message_id": message_id, "logging_address": logging_address,
            "reason": reason, "explanation": explanation}
    if status == "released":
        data["engagement_id"] = engagement_id
    record(session, account_id, type_, data)
