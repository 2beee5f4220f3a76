"""Webhook endpoints over the API: created only for URLs the SSRF guard accepts (the `whsec_`
secret is in the creation answer and nowhere else), listed, deleted, and their delivery
attempts listed newest first. Delivering is run/webhooks.py's job.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from smtp_logger.api import pages
from smtp_logger.api.deps import Account, State
from smtp_logger.api.problems import ApiProblem
from smtp_logger.api.schemas import Delivery, Page, Webhook, WebhookCreated, WebhookIn
from smtp_logger.run import netguard
from smtp_logger.store import webhooks

router = APIRouter(prefix="/v1", tags=["webhooks"])
Id = Annotated[int, Path(ge=1, le=pages.MAX_ID)]


def webhook_out(row) -> dict:
    return {"id": row.id, "url": row.url, "events": row.event_types, "description": row.description,
            "active": row.active, "disabled_reason": row.disabled_reason, "created_at": pages.utc(row.created_at)}


@router.post("/webhooks", response_model=WebhookCreated, status_code=201,
             summary="Register a URL for the account's events; the answer carries its signing secret, once")
def create(body: WebhookIn, account: Account, api: State):
    try:
        netguard.check(body.url, api.settings.webhook_allow_private_networks, api.resolve)
    except netguard.UrlRefused as exc:
        raise ApiProblem("webhook-url-refused", str(exc)) from exc
    with api.unit() as session:
        row = webhooks.create(session, account, body.url, list(body.events), body.description)
        return dict(webhook_out(row), secret=row.secret)


@router.get("/webhooks", response_model=Page[Webhook], summary="The account's webhook endpoints")
def list_all(account: Account, api: State):
    with api.unit() as session:
        return {"items": [webhook_out(r) for r in webhooks.of_account(session, account)], "next_cursor": None}


@router.delete("/webhooks/{webhook_id}", status_code=204, response_class=Response,
               summary="Stop sending to an endpoint and forget its deliveries")
def delete(webhook_id: Id, account: Account, api: State):
    with api.unit() as session:
        webhooks.remove(session, account, webhook_id)
    return Response(status_code=204)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=Page[Delivery],
            summary="Delivery attempts to an endpoint, newest first")
def deliveries(webhook_id: Id, account: Account, api: State, limit: pages.Limit = 100,
               cursor: pages.CursorParam = None):
    before = pages.decode("deliveries", cursor)
    with api.unit() as session:
        rows = webhooks.deliveries(session, account, webhook_id, before[0] if before else None, limit + 1)
    items, next_cursor = pages.page(rows, limit, lambda r: pages.encode("deliveries", r[0].id))
    return {"items": [{"id": d.id, "event_id": d.event_id, "webhook_id": d.webhook_id, "type": type_,
                       "attempt": d.attempt, "outcome": d.outcome, "status_code": d.status_code, "error": d.error,
                       "duration_ms": d.duration_ms, "attempted_at": pages.utc(d.attempted_at)}
                      for d, type_ in items], "next_cursor": next_cursor}
