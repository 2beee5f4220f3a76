"""The STARTTLS certificate in use, renewable without a restart: reloaded on SIGHUP and when
tls_cert's or tls_key's modification time changes (looked at no more than every
tls_check_seconds, default a minute). New sessions get the new pair; one that fails to load is
logged and the old one stays in use. At start-up a broken pair is an error, as before.
"""

from __future__ import annotations

import os
import ssl
import threading

import structlog

log = structlog.get_logger("smtp_logger.intake.tls")


def load_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key or None)
    return context


class Certificates:
    """The current server-side SSLContext (None without tls_cert)."""

    def __init__(self, cert: str, key: str):
        self.cert, self.key = cert, key
        self.lock = threading.Lock()
        self.stamp = self._stamp()
        self.context = load_context(cert, key) if cert else None

    def _stamp(self) -> tuple:
        stamp = []
        for path in (self.cert, self.key):
            try:
                found = os.stat(path) if path else None
                stamp.append((found.st_mtime_ns, found.st_size, found.st_ino) if found else None)
            except OSError:
                stamp.append(None)
        return tuple(stamp)

    def reload(self, why: str) -> bool:
        """Load the pair again; True when the new one is in use."""
        if not self.cert:
            return False
        with self.lock:
            self.stamp = self._stamp()
            try:
                context = load_context(self.cert, self.key)
            except (OSError, ssl.SSLError, ValueError) as exc:
                log.error("tls_reload_failed", why=why, error=exc.__class__.__name__,
                          detail=str(exc)[:200], kept="the certificate loaded before")
                return False
            self.context = context
        log.info("tls_reloaded", why=why)
        return True

    def check(self) -> bool:
        """Reload if either file changed since it was last loaded (or failed to load). The
        server calls this every tls_check_seconds."""
        return bool(self.cert) and self._stamp() != self.stamp and self.reload("changed on disk")
