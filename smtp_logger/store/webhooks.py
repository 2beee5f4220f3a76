"""Webhook endpoints and their delivery state: created with a `whsec_` secret (returned once),
starting after the account's latest event; claimed by one delivering process at a time (a
lease in the row, taken with a conditional UPDATE, so receivers on several hosts never send
one endpoint's events in parallel or out of order); advanced past an event only once it was
delivered or given up. Every attempt is kept in webhook_deliveries. SQL only.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, delete, exists, or_, select, update
from sqlalchemy.orm import Session

from smtp_logger.store import events
from smtp_logger.store.accounts import NotFound
from smtp_logger.store.apimodels import OutboxEvent, WebhookDelivery, WebhookEndpoint


def _now() -> datetime:
    return datetime.now(timezone.utc)


def create(session: Session, account_id: int, url: str, event_types: list[str], description: str) -> WebhookEndpoint:
    """A new endpoint: told about events committed after this one."""
    events.lock_account(session, account_id)  # no event of the account commits between the two lines
    start = events.last_id(session, account_id)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    row = WebhookEndpoint(account_id=account_id, url=url, event_types=list(dict.fromkeys(event_types)),
                          description=description, secret=secret, cursor=start, attempt=0, active=True)
    session.add(row)
    session.flush()
    return row


def of_account(session: Session, account_id: int) -> list[WebhookEndpoint]:
    return list(session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.account_id == account_id)
                                .order_by(WebhookEndpoint.id)))


def get(session: Session, account_id: int, endpoint_id: int) -> WebhookEndpoint:
    row = session.get(WebhookEndpoint, endpoint_id)
    if row is None or row.account_id != account_id:
        raise NotFound(f"no webhook {endpoint_id}")
    return row


def remove(session: Session, account_id: int, endpoint_id: int) -> None:
    row = get(session, account_id, endpoint_id)
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == row.id))
    session.delete(row)
    session.flush()


def deliveries(session: Session, account_id: int, endpoint_id: int, before_id: int | None,
               limit: int) -> list[tuple[WebhookDelivery, str]]:
    """Attempts, newest first, with their event's type."""
    get(session, account_id, endpoint_id)
    query = select(WebhookDelivery, OutboxEvent.type).join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id) \
        .where(WebhookDelivery.endpoint_id == endpoint_id)
    if before_id is not None:
        query = query.where(WebhookDelivery.id < before_id)
    return [tuple(row) for row in session.execute(query.order_by(WebhookDelivery.id.desc()).limit(limit))]


# -- the delivering side ----------------------------------------------------------------------

def claim(session: Session, owner: str, lease_seconds: float) -> WebhookEndpoint | None:
    """An active endpoint with events waiting whose next attempt is due, leased to `owner`."""
    now = _now()
    waiting = exists().where(OutboxEvent.account_id == WebhookEndpoint.account_id,
                             OutboxEvent.id > WebhookEndpoint.cursor)
    free = or_(WebhookEndpoint.lease_until.is_(None), WebhookEndpoint.lease_until < now,
               WebhookEndpoint.lease_owner == owner)
    due = or_(WebhookEndpoint.next_attempt_at.is_(None), WebhookEndpoint.next_attempt_at <= now)
    for endpoint_id in session.scalars(select(WebhookEndpoint.id).where(
            WebhookEndpoint.active.is_(True), due, free, waiting).order_by(WebhookEndpoint.next_attempt_at)
            .limit(5)):
        taken = session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id, free).values(
            lease_owner=owner, lease_until=now + timedelta(seconds=lease_seconds)))
        session.commit()
        if taken.rowcount == 1:
            return session.get(WebhookEndpoint, endpoint_id)
    return None


def release(session: Session, endpoint_id: int, owner: str) -> None:
    session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id,
                                                  WebhookEndpoint.lease_owner == owner)
                    .values(lease_owner=None, lease_until=None))


def next_events(session: Session, endpoint: WebhookEndpoint, limit: int) -> list[OutboxEvent]:
    return events.events_after(session, endpoint.account_id, endpoint.cursor, limit)


def record_attempt(session: Session, endpoint: WebhookEndpoint, event: OutboxEvent, webhook_id: str,
                   outcome: str, status_code: int | None, error: str | None, duration_ms: int) -> None:
    session.add(WebhookDelivery(endpoint_id=endpoint.id, event_id=event.id, webhook_id=webhook_id,
                                attempt=endpoint.attempt + 1, outcome=outcome, status_code=status_code,
                                error=(error or None) and error[:300], duration_ms=duration_ms))


def advance(endpoint: WebhookEndpoint, event_id: int) -> None:
    """Done with the head event (delivered, skipped or given up): the next one starts afresh."""
    endpoint.cursor, endpoint.attempt = event_id, 0
    endpoint.failing_since = endpoint.next_attempt_at = None


def failed(endpoint: WebhookEndpoint, retry_in: float) -> None:
    endpoint.attempt += 1
    endpoint.failing_since = endpoint.failing_since or _now()
    endpoint.next_attempt_at = _now() + timedelta(seconds=retry_in)


def disable(endpoint: WebhookEndpoint, reason: str) -> None:
    endpoint.active, endpoint.disabled_reason = False, reason[:200]


def has_due(session: Session) -> bool:
    """Whether any endpoint may have work now (a cheap look before claiming)."""
    now = _now()
    return session.scalar(select(exists().where(
        WebhookEndpoint.active.is_(True),
        or_(WebhookEndpoint.next_attempt_at.is_(None), WebhookEndpoint.next_attempt_at <= now),
        and_(exists().where(OutboxEvent.account_id == WebhookEndpoint.account_id,
                            OutboxEvent.id > WebhookEndpoint.cursor))))) or False


def renew(endpoint: WebhookEndpoint, lease_seconds: float) -> None:
    endpoint.lease_until = _now() + timedelta(seconds=lease_seconds)
