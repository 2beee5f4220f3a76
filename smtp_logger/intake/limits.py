"""What one client may do: connections per address, messages per connection and per minute,
unknown recipients per session and per address (harvesting), each refused with its reply from
replies.py, logged (`refused`) and counted in `smtp_logger_refused_total{reason}`; the PROXY
header's client is the one limited, `trusted_networks` are exempt. One per event loop; no I/O.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections import deque

import structlog
from prometheus_client import Counter

from smtp_logger.intake import replies

log = structlog.get_logger("smtp_logger.intake")
REFUSED = Counter("smtp_logger_refused_total", "SMTP connections, commands and messages refused",
                  ["reason"])
UNKNOWN_RCPT_SECONDS = 0.1
HARVEST_WINDOW = 600.0  # seconds: unknown_recipients_per_ip counts over, and blocks for, this long
RATE_WINDOW = 60.0
SWEEP_AT = 10_000  # addresses remembered before the stale ones are swept


def peer_text(session) -> str:
    peer = getattr(session, "peer", None)
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else str(peer)


def client_address(session) -> str:
    peer = getattr(session, "peer", None)
    return str(peer[0]) if isinstance(peer, tuple) and peer else str(peer or "")


def refused(session, reason: str, **fields) -> None:
    """Every refusal: one log event, one count."""
    REFUSED.labels(reason=reason).inc()
    log.info("refused", reason=reason, peer=peer_text(session), **fields)


def _recent(times: deque, now: float, window: float) -> int:
    while times and times[0] <= now - window:
        times.popleft()
    return len(times)


class ClientLimits:
    def __init__(self, settings, clock=time.monotonic):
        self.settings = settings
        self.clock = clock
        self.trusted = [ipaddress.ip_network(cidr.strip(), strict=False)
                        for cidr in settings.trusted_networks if cidr.strip()]
        self.connections: dict[str, int] = {}
        self.messages: dict[str, deque] = {}
        self.unknown: dict[str, deque] = {}
        self.blocked_until: dict[str, float] = {}
        self._exempt: dict[str, bool] = {}

    def exempt(self, address: str) -> bool:
        """In trusted_networks (asked several times a connection: the answer is remembered)."""
        known = self._exempt.get(address)
        if known is None:
            if len(self._exempt) > 10_000:
                self._exempt.clear()
            known = self._exempt[address] = self._in_trusted(address)
        return known

    def _in_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)

    # -- connections --------------------------------------------------------------------

    def connect(self, session) -> str | None:
        """At the greeting (after any PROXY header): a refusal to send instead, or None."""
        address = client_address(session)
        session.limits_client = address
        if self.exempt(address):
            return None
        if self.blocked_until.get(address, 0) > self.clock():
            refused(session, "unknown_recipients_per_ip")
            return replies.ERR_HARVESTING
        if self.connections.get(address, 0) >= self.settings.max_connections_per_ip > 0:
            refused(session, "connections_per_ip")
            return replies.ERR_TOO_MANY_FROM_IP
        self.connections[address] = self.connections.get(address, 0) + 1
        session.limits_counted = True
        return None

    def disconnect(self, session) -> None:
        address = getattr(session, "limits_client", None)
        if getattr(session, "limits_counted", False) and address in self.connections:
            session.limits_counted = False
            self.connections[address] -= 1
            if self.connections[address] <= 0:
                del self.connections[address]

    # -- transactions -------------------------------------------------------------------

    def mail(self, session) -> str | None:
        """At MAIL FROM: a refusal, or None (the transaction is counted)."""
        address = client_address(session)
        if self.exempt(address):
            return None
        done = getattr(session, "limits_transactions", 0)
        if done >= self.settings.max_messages_per_connection > 0:
            refused(session, "messages_per_connection")
            return replies.ERR_TOO_MANY_MESSAGES
        if self.settings.rate_limit_per_ip > 0:
            now = self.clock()
            times = self.messages.setdefault(address, deque())
            if _recent(times, now, RATE_WINDOW) >= self.settings.rate_limit_per_ip:
                refused(session, "rate_limit_per_ip")
                return replies.ERR_RATE_LIMITED
            times.append(now)
            self._sweep(self.messages, now, RATE_WINDOW)
        session.limits_transactions = done + 1
        return None

    # -- recipients ---------------------------------------------------------------------

    def rcpt(self, session) -> str | None:
        """Before a recipient is looked up: a refusal once the session had too many unknown."""
        if self.exempt(client_address(session)):
            return None
        if getattr(session, "limits_unknown", 0) >= self.settings.max_unknown_recipients > 0:
            refused(session, "max_unknown_recipients")
            return replies.ERR_TOO_MANY_UNKNOWN
        return None

    async def unknown_recipient(self, session, started: float) -> str:
        """A recipient that is no live logging address: counted, and answered
        UNKNOWN_RCPT_SECONDS after its RCPT arrived however long the look-up took, so the
        timing says nothing about how near the local part came to a real (or rotated) token."""
        address = client_address(session)
        session.limits_unknown = getattr(session, "limits_unknown", 0) + 1
        refused(session, "unknown_recipient")
        limit = self.settings.unknown_recipients_per_ip
        if limit > 0 and not self.exempt(address):
            now = self.clock()
            times = self.unknown.setdefault(address, deque())
            times.append(now)
            if _recent(times, now, HARVEST_WINDOW) >= limit:
                self.blocked_until[address] = now + HARVEST_WINDOW
            self._sweep(self.unknown, now, HARVEST_WINDOW)
        left = started + UNKNOWN_RCPT_SECONDS - time.monotonic()
        if left > 0:
            await asyncio.sleep(left)
        return replies.ERR_UNKNOWN_RCPT

    def _sweep(self, table: dict[str, deque], now: float, window: float) -> None:
        if len(table) < SWEEP_AT:
            return
        for key in [k for k, times in table.items() if not _recent(times, now, window)]:
            del table[key]
        for key in [k for k, until in self.blocked_until.items() if until <= now]:
            del self.blocked_until[key]
