"""Webhook delivery from the outbox, after commit: one endpoint leased at a time, its events sent
in event (= commit) order, signed the Standard Webhooks way (`webhook-id` kept on every retry).
The cursor passes an event only after a 2xx (at least once); failures wait
`webhook_retry_schedule` for up to `webhook_retry_hours`, then the event is given up; 410 Gone
disables the endpoint. Each attempt is re-checked by the SSRF guard. Logs carry ids only.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
from datetime import datetime, timezone
from urllib.parse import urlsplit

import structlog

from smtp_logger.run import netguard
from smtp_logger.store import events, webhooks
from smtp_logger.store.apimodels import OutboxEvent, WebhookEndpoint
from smtp_logger.store.db import session_factory

log = structlog.get_logger("smtp_logger.run.webhooks")
BATCH = 50  # events sent per lease before other endpoints get a turn
POLL = 0.5  # seconds between looks when nothing woke the thread


def body_of(event: OutboxEvent) -> str:
    """The exact bytes signed and sent; the same on every retry."""
    return json.dumps({"type": event.type, "timestamp": events.utc_iso(event.created_at), "data": event.data},
                      separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def webhook_id(event: OutboxEvent) -> str:
    return f"msg_{event.id}"


class WebhookSender:
    def __init__(self, settings, sessions=None, resolve=netguard.system_resolve, poll: float = POLL):
        self.settings = settings
        self.sessions = sessions or session_factory(settings.db_url)
        self.resolve, self.poll = resolve, poll
        self.schedule = [float(s) for s in settings.webhook_retry_schedule] or [3600.0]
        self.lease = max(3 * float(settings.webhook_timeout), 5.0)
        self.owner = f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"
        self._client = None  # made on the first delivery: httpx costs 18 MB where no webhook is set
        self.wake, self.stopping = threading.Event(), threading.Event()
        self.thread: threading.Thread | None = None
        events.on_commit(self.wake.set)

    def start(self) -> "WebhookSender":
        self.thread = threading.Thread(target=self.run, name="smtp-logger-webhooks", daemon=True)
        self.thread.start()
        return self

    def stop(self, timeout: float = 15) -> None:
        self.stopping.set()
        self.wake.set()
        events.forget(self.wake.set)
        if self.thread is not None:
            self.thread.join(timeout)
        if self._client is not None:
            self._client.close()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                worked = self.tick()
            except Exception as exc:  # the database away, a bug: logged, tried again
                log.warning("webhook_tick_failed", error=exc.__class__.__name__)
                worked = False
            if not worked:
                self.wake.wait(self.poll)
                self.wake.clear()

    def tick(self) -> bool:
        """Deliver what one due endpoint has waiting; False when none was due."""
        with self.sessions() as session:
            if not webhooks.has_due(session):
                return False
            endpoint = webhooks.claim(session, self.owner, self.lease)
            if endpoint is None:
                return False
            try:
                self._deliver(session, endpoint)
            finally:
                session.rollback()
                webhooks.release(session, endpoint.id, self.owner)
                session.commit()
        return True

    def _deliver(self, session, endpoint: WebhookEndpoint) -> None:
        for event in webhooks.next_events(session, endpoint, BATCH):
            if self.stopping.is_set():
                return
            if endpoint.event_types and event.type not in endpoint.event_types:
                webhooks.advance(endpoint, event.id)
                session.commit()
                continue
            go_on = self._attempt(session, endpoint, event)
            webhooks.renew(endpoint, self.lease)
            session.commit()
            if not go_on:
                return

    def _attempt(self, session, endpoint: WebhookEndpoint, event: OutboxEvent) -> bool:
        """One attempt; True when the next event may follow."""
        hook_id, started = webhook_id(event), time.monotonic()
        status, error = None, None
        try:
            target = netguard.check(endpoint.url, self.settings.webhook_allow_private_networks, self.resolve)
            status = self._post(target, hook_id, body_of(event), endpoint.secret)
        except netguard.UrlRefused as exc:
            error = f"refused: {exc}"
        except Exception as exc:
            if not isinstance(exc, _httpx().HTTPError):
                raise
            error = exc.__class__.__name__
        took = int((time.monotonic() - started) * 1000)
        if status is not None and 200 <= status < 300:
            webhooks.record_attempt(session, endpoint, event, hook_id, "delivered", status, None, took)
            webhooks.advance(endpoint, event.id)
            return True
        if status == 410:
            webhooks.record_attempt(session, endpoint, event, hook_id, "gone", status, None, took)
            webhooks.disable(endpoint, "the receiver answered 410 Gone")
            log.info("webhook_disabled", endpoint=endpoint.id, event_id=event.id)
            return False
        return self._failed(session, endpoint, event, hook_id, status, error, took)

    def _failed(self, session, endpoint, event, hook_id, status, error, took) -> bool:
        elapsed = (datetime.now(timezone.utc) - endpoint.failing_since).total_seconds() \
            if endpoint.failing_since else 0.0
        if elapsed >= float(self.settings.webhook_retry_hours) * 3600:
            webhooks.record_attempt(session, endpoint, event, hook_id, "given_up", status, error, took)
            webhooks.advance(endpoint, event.id)
            log.warning("webhook_given_up", endpoint=endpoint.id, event_id=event.id)
            return True
        webhooks.record_attempt(session, endpoint, event, hook_id, "failed", status, error, took)
        webhooks.failed(endpoint, self.schedule[min(endpoint.attempt, len(self.schedule) - 1)])
        log.info("webhook_attempt_failed", endpoint=endpoint.id, event_id=event.id, status=status,
                 error=error and error.split(":")[0], attempt=endpoint.attempt)
        return False

    @property
    def client(self):
        if self._client is None:
            self._client = _httpx().Client(timeout=float(self.settings.webhook_timeout), follow_redirects=False)
        return self._client

    def _post(self, target: netguard.Target, hook_id: str, body: str, secret: str) -> int:
        now = datetime.now(timezone.utc)
        headers = {
            "webhook-id": hook_id, "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": _sign(secret, hook_id, now, body),
            "content-type": "application/json", "user-agent": "smtp-logger-webhooks/1",
            "host": urlsplit(target.url).netloc,
        }
        url = _httpx().URL(target.url).copy_with(host=target.address)
        extensions = {"sni_hostname": target.host} if url.scheme == "https" else {}
        with self.client.stream("POST", url, content=body.encode(), headers=headers, extensions=extensions) as r:
            return r.status_code


def _httpx():
    import httpx
    return httpx


def _sign(secret: str, hook_id: str, now: datetime, body: str) -> str:
    from standardwebhooks import Webhook
    return Webhook(secret).sign(hook_id, now, body)
