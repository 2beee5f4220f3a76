"""Test relays that catch our notices: a real aiosmtpd SMTP server (the operator's relay as
far as the notifier can tell) recording every envelope, and a tarpit that accepts connections
and never answers (a relay that hangs)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from .conftest import free_port


@dataclass
class Caught:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


class Sink:
    """A relay on 127.0.0.1:port (a free one unless given); `caught` lists what it accepted."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.caught: list[Caught] = []
        self._lock = threading.Lock()
        self.controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            self.caught.append(Caught(envelope.mail_from, list(envelope.rcpt_tos),
                                      message_from_bytes(envelope.original_content or envelope.content,
                                                         policy=policy.default)))
        return "250 2.0.0 caught"

    def start(self) -> "Sink":
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def wait(self, count: int, timeout: float = 30) -> list[Caught]:
        """At least `count` messages caught (the test fails otherwise)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self._lock:
                if len(self.caught) >= count:
                    return list(self.caught)
            time.sleep(0.05)
        raise AssertionError(f"relay caught {len(self.caught)} messages, expected {count}")

    def with_header(self, name: str, value: str) -> list[Caught]:
        with self._lock:
            return [c for c in self.caught if c.message[name] == value]


class Tarpit:
    """Accepts TCP connections and never says a word."""

    def __init__(self):
        self.port = free_port()
        self.server = socket.create_server(("127.0.0.1", self.port))
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.server.close()
        for conn in self.held:
            conn.close()


class SecureSink(Sink):
    """A relay that insists on STARTTLS and AUTH (username and password given)."""

    def __init__(self, tls_context, username: str, password: str, port: int | None = None):
        super().__init__(port)
        self.tls_context, self.username, self.password = tls_context, username, password
        self.logins: list[tuple[str, bool]] = []

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult
        ok = (auth_data.login.decode(), auth_data.password.decode()) == (self.username, self.password)
        self.logins.append((auth_data.login.decode(), ok))
        return AuthResult(success=ok, handled=False)

    def start(self) -> "SecureSink":
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, tls_context=self.tls_context,
                                     require_starttls=True, auth_required=True, auth_require_tls=True,
                                     authenticator=self.authenticate)
        self.controller.start()
        return self
