"""The sender check of each spooled delivery: worked out once before its decision (DNS outside
any transaction), waited for while DNS fails (`wait_seconds`), kept until the delivery is
decided, and written beside the message (`keep_raw`). Held messages decided again use the
verdict stored with them, never a new look-up.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from smtp_logger.intake.spool import Spool, SpoolEntry
from smtp_logger.verify.sender import Envelope, authenticate
from smtp_logger.verify.verdict import NOT_CHECKED, AuthVerdict

KEEP = 4096  # verdicts kept for deliveries not yet decided (more wait only when DNS is down)


def client_ip(peer: str) -> str:
    """The address part of the spool's "host:port" peer (the PROXY header's client when used)."""
    host = peer.rpartition(":")[0] if ":" in peer else peer
    return host.strip("[]")


def envelope_of(entry: SpoolEntry) -> Envelope:
    return Envelope(client_ip(entry.peer), entry.helo, entry.mail_from)


def stored(row) -> AuthVerdict:
    """The verdict stored with a received message (held ones decided again)."""
    method = getattr(row, "auth_method", None)
    if not method or method == "none":
        return NOT_CHECKED
    authenticated = {"pass": True, "fail": False}.get(getattr(row, "auth_verdict", None) or "")
    return AuthVerdict(method, row.auth_spf, row.auth_dkim, row.auth_dmarc, authenticated)


def columns(verdict: AuthVerdict) -> dict:
    """The received_messages columns of a verdict."""
    passed = {True: "pass", False: "fail", None: None}[verdict.authenticated]
    return dict(auth_method=verdict.method, auth_spf=verdict.spf, auth_dkim=verdict.dkim,
                auth_dmarc=verdict.dmarc, auth_verdict=passed)


class SenderAuth:
    """A verdict pending on DNS (a temperror) keeps the delivery in the spool: the worker asks
    `wait_seconds` and looks again every `dns_retry_interval` (30 s) until `dns_retry_minutes`
    (30) after it arrived; then it is decided with what is known (`verdict`).

    Where our Authentication-Results field goes: into a new raw copy, the field prepended to the
    message, content-addressed by the sha256 of those bytes, the copy the received message
    names. Not at intake, before the 250: the verdict needs DNS, which may fail for a while and
    must not delay the 250. Not in a column beside the message: the stored raw copy then tells
    whoever reads it (a re-decision, an export) what we found, as RFC 8601 has it. Forged fields
    claiming our authserv-id never reach the spool: intake drops them (intake/headers.py)."""

    def __init__(self, settings):
        self.settings = settings
        self._verdicts: OrderedDict[str, AuthVerdict] = OrderedDict()

    def _check(self, entry: SpoolEntry) -> AuthVerdict:
        verdict = authenticate(self.settings, entry.path, envelope_of(entry))
        self._verdicts[entry.spool_id] = verdict
        self._verdicts.move_to_end(entry.spool_id)
        while len(self._verdicts) > KEEP:
            self._verdicts.popitem(last=False)
        return verdict

    def wait_seconds(self, entry: SpoolEntry, now: float | None = None) -> float | None:
        """Seconds before this delivery's sender check is worth trying again, or None: decide it
        now. Checks (again) each time it is asked."""
        if self.settings.sender_auth != "verify":
            return None
        self._verdicts.pop(entry.spool_id, None)
        if not self._check(entry).pending:
            return None
        left = entry.received_at + 60 * float(self.settings.dns_retry_minutes) - (now or time.time())
        return min(float(self.settings.dns_retry_interval), left) if left > 0 else None

    def verdict(self, entry: SpoolEntry) -> AuthVerdict:
        """The verdict the decision uses: the one worked out last, or now; pending = not passed."""
        found = self._verdicts.get(entry.spool_id)
        return (found or self._check(entry)).final()

    def keep_raw(self, spool: Spool, entries: list[SpoolEntry]) -> list[SpoolEntry]:
        """Keep each message raw; one we checked ourselves with our field prepended (the entry
        returned names that copy)."""
        kept, plain = [], []
        for entry in entries:
            header = self.verdict(entry).header
            if header:
                kept.append(spool.keep_raw_prefixed(entry, header.encode("utf-8", "replace") + b"\r\n"))
            else:
                plain.append(entry)
                kept.append(entry)
        spool.keep_raw(plain)
        return kept

    def forget(self, entries: list[SpoolEntry]) -> None:
        for entry in entries:
            self._verdicts.pop(entry.spool_id, None)
