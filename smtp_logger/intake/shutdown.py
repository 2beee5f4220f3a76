"""Graceful shutdown of the SMTP side (the listener is already closed): a session waiting for a
command outside a transaction is told `421 4.3.2` and closed at once; a transaction in flight
(MAIL given, or DATA streaming) may finish for up to the grace period, its session answering
421 to any command that is not part of it; whatever is still running then is cut off, never
acknowledged. Owns no spool or database work: what was acknowledged is already on disk.
"""

from __future__ import annotations

import asyncio
import time

import structlog

from smtp_logger.intake import replies

log = structlog.get_logger("smtp_logger.intake.shutdown")
POLL = 0.05  # seconds between looks at the sessions still open
IN_TRANSACTION = frozenset({"RCPT", "DATA", "NOOP"})  # the commands that finish a transaction


def in_transaction(protocol) -> bool:
    envelope = getattr(protocol, "envelope", None)
    return envelope is not None and envelope.mail_from is not None


def waiting_for_command(protocol) -> bool:
    """Outside a transaction, with nothing read and not answered: the handler sits in
    aiosmtpd's readuntil (asyncio's StreamReader keeps a `_waiter` future meanwhile)."""
    reader = getattr(protocol, "_reader", None)
    return (not in_transaction(protocol) and reader is not None
            and getattr(reader, "_waiter", None) is not None and not reader._buffer)


def say_goodbye(protocol) -> None:
    """421 4.3.2, then close (the transport sends what it buffered first)."""
    transport = getattr(protocol, "transport", None)
    if transport is not None and not transport.is_closing():
        transport.write(replies.ERR_SHUTTING_DOWN.encode() + b"\r\n")
        transport.close()


class _Commands(dict):
    """A session's command table while shutting down (aiosmtpd looks commands up with
    `_smtp_methods.get`): what finishes the transaction in flight, and QUIT; else 421."""

    def __init__(self, protocol):
        super().__init__(protocol._smtp_methods)
        self.protocol = protocol

    def get(self, command, default=None):
        if command == "QUIT" or (command in IN_TRANSACTION and in_transaction(self.protocol)):
            return super().get(command, default)
        return self._refuse

    async def _refuse(self, _arg) -> None:
        say_goodbye(self.protocol)


async def close_sessions(sessions: set, grace: float, hurry: asyncio.Event | None = None) -> int:
    """Close every session (the live set, which connection_lost keeps) within `grace` seconds
    as described above, or as soon as `hurry` is set (a second signal). Returns how many were
    cut off at the end."""
    deadline = time.monotonic() + grace
    guarded: set[int] = set()
    while sessions and time.monotonic() < deadline and not (hurry and hurry.is_set()):
        for protocol in list(sessions):
            if waiting_for_command(protocol):
                say_goodbye(protocol)
                sessions.discard(protocol)  # connection_lost follows
            elif id(protocol) not in guarded and hasattr(protocol, "_smtp_methods"):
                protocol._smtp_methods = _Commands(protocol)
                guarded.add(id(protocol))
        await asyncio.sleep(POLL)
    cut_off = len(sessions)
    for protocol in list(sessions):
        say_goodbye(protocol)
    if cut_off:
        log.warning("sessions_cut_off", sessions=cut_off, grace_seconds=grace)
    await asyncio.sleep(0)  # let the closed transports report connection_lost
    return cut_off
