"""The SMTP/LMTP session on aiosmtpd: RCPT TO accepts only live logging addresses (550 5.1.1
otherwise; we never relay), DATA streams into the spool and answers 250 only after the spool
file is fsynced; any failure of ours answers 451 so the sender retries. Parsing and database
work run in worker threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import time
from email.errors import HeaderParseError
from functools import lru_cache

import structlog
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, get_addr_spec, get_angle_addr, syntax

from smtp_logger.intake import replies
from smtp_logger.intake.addresses import split_record_address
from smtp_logger.intake.data import CHUNK, DotUnstuffer
from smtp_logger.intake.disk import reply_for_spool_error
from smtp_logger.intake.headers import HeaderScan
from smtp_logger.intake.limits import ClientLimits, refused
from smtp_logger.intake.spool import Spool

log = structlog.get_logger("smtp_logger.intake")


class Handler:
    """aiosmtpd hooks: recipient checks and our own error replies. One per server: aiosmtpd's
    __init__ lists its handle_ and auth_ members for every connection (__dir__ names only those)."""

    def __init__(self, app):
        self.app = app

    def __dir__(self):
        return list(_HANDLER_NAMES)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        started = time.monotonic()
        if len(envelope.rcpt_tos) >= self.app.settings.max_recipients:
            return replies.ERR_TOO_MANY_RCPTS
        refusal = server.limits.rcpt(session)
        if refusal:
            return refusal
        normalized = address.strip().lower()
        live = await self.app.is_live_address(split_record_address(normalized)[0])  # a record address too
        if live is None:  # not in our copy, and the database cannot be asked now
            log.warning("rcpt_deferred", peer=_peer(session), why="database unavailable")
            return replies.ERR_TEMP_LOCAL
        if not live:
            log.info("rcpt_refused", peer=_peer(session))
            return await server.limits.unknown_recipient(session, started)
        envelope.rcpt_tos.append(normalized)
        envelope.rcpt_options.extend(rcpt_options)
        return replies.OK_RCPT

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        refusal = server.limits.mail(session)  # per-client limits: intake/limits.py
        if refusal:
            return refusal
        refusal = self.app.disk.mail_refusal(mail_options)  # a full disk: intake/disk.py
        if refusal:
            log.warning("mail_refused_low_disk", peer=_peer(session))
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_PROXY(self, server, session, envelope, proxy_data):
        """Behind a load balancer: the PROXY header names the real client; log that one."""
        if proxy_data.src_addr is not None:
            session.peer = (str(proxy_data.src_addr), proxy_data.src_port)
        return True

    async def handle_exception(self, error):
        log.error("smtp_session_error", error=error.__class__.__name__, detail=str(error)[:200])
        return replies.ERR_TEMP_LOCAL


def _peer(session) -> str:
    peer = getattr(session, "peer", None)
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else str(peer)


_COMMAND_NAMES: dict[type, list[str]] = {}
_HANDLER_NAMES = tuple(name for name in vars(Handler) if name.startswith(("handle_", "auth_")))


@lru_cache(maxsize=1024)
def _parse_address(arg: str) -> tuple[str | None, str | None]:
    """SMTP._getaddr's parse of a MAIL FROM / RCPT TO argument, remembered: the same few
    arguments come again and again, and email's parser costs ~0.1 ms a call (aiosmtpd also
    defines a typing.Protocol class on every call). Without the local-part limit (per session)."""
    try:
        if arg.lstrip().startswith("<"):
            address, rest = get_angle_addr(arg)
        else:
            address, rest = get_addr_spec(arg)
    except HeaderParseError:
        return None, None
    return address.addr_spec, rest


class StreamingSMTP(SMTP):
    """aiosmtpd's SMTP with DATA streamed to the spool and enhanced status codes.

    aiosmtpd has no public hook for streaming DATA (handle_DATA gets the whole message in
    memory), so this class leans on four of its internals, pinned by `aiosmtpd<1.5` in
    pyproject.toml and checked by tests/test_aiosmtpd_internals.py: the StreamReader `_reader`
    (and its `_buffer`, to hand back pipelined commands read past the end of data),
    `_reset_timeout()`, `_set_post_data_state()`, and `__init__` finding commands with dir().
    """

    lmtp = False

    def __init__(self, app, limits: ClientLimits | None = None, handler: Handler | None = None, **kwargs):
        self.app = app
        self.limits = limits or ClientLimits(app.settings)
        self.line_length_limit = app.settings.max_line_length
        super().__init__(handler or Handler(app), **kwargs)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """As aiosmtpd's (pinned by tests/test_aiosmtpd_internals.py), with the parse remembered."""
        if not arg:
            return "", ""
        addr, rest = _parse_address(arg)
        if addr is None:
            return None, None
        if self.local_part_limit and len(addr.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return addr, rest

    def __dir__(self):
        """aiosmtpd's __init__ runs for every connection and introspects the protocol (dir() and
        inspect.getmembers(), which reads every attribute: ~0.1 ms) only to find its auth_ and
        smtp_ members; listing just those makes that a third of the cost."""
        cls = type(self)
        if cls not in _COMMAND_NAMES:
            _COMMAND_NAMES[cls] = [name for name in object.__dir__(self) if name.startswith(("auth_", "smtp_"))]
        return list(_COMMAND_NAMES[cls])

    def connection_made(self, transport):
        """Called again after STARTTLS with the TLS transport: the connection counts once."""
        super().connection_made(transport)
        if not getattr(self, "_counted", False):
            self.app.connections += 1
            self.app.smtp_sessions.add(self)  # graceful shutdown closes them: intake/shutdown.py
            self._counted = True
            if self.app.connections > self.app.settings.max_connections:
                self._too_many = True

    def connection_lost(self, error):
        self.limits.disconnect(self.session)
        if getattr(self, "_counted", False):
            self.app.connections -= 1
            self.app.smtp_sessions.discard(self)
            self._counted = False
        super().connection_lost(error)

    async def push(self, status):
        text = status.decode() if isinstance(status, bytes) else status
        if text.startswith("220 "):
            refusal = replies.ERR_TOO_MANY_CONNECTIONS if getattr(self, "_too_many", False) \
                else self.limits.connect(self.session)
            if refusal:
                if refusal is replies.ERR_TOO_MANY_CONNECTIONS:
                    refused(self.session, "connections")
                await super().push(refusal)
                self.transport.close()
                return
        if text.startswith("250-SIZE "):  # EHLO/LHLO: no more than fits on disk now
            text = f"250-SIZE {self.app.disk.advertised_size(self.data_size_limit)}"
        await super().push(replies.AIOSMTPD_REWRITES.get(text, text))
        if text.startswith("421 ") and self.transport is not None:  # ours (the limits): closing
            self.transport.close()

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        if not self.envelope.rcpt_tos:
            await self.push("503 5.5.1 Error: need RCPT command")
            return
        if arg:
            await self.push("501 5.5.4 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        statuses = await self._receive_data()
        self._set_post_data_state()
        for status in statuses:
            await self.push(status)

    async def _receive_data(self) -> list[str]:
        envelope = self.envelope
        sink = _SpoolSink(self.app.spool, envelope.mail_from or "", list(envelope.rcpt_tos), _peer(self.session),
                          self.session.host_name or "")
        scan = HeaderScan(sink.buffer, self.app.settings.hostname, self.app.settings.trusted_authserv_ids)
        reader = DotUnstuffer(scan.feed, self.data_size_limit or 0, self.line_length_limit)
        try:
            while not reader.done:
                chunk = await self._reader.read(CHUNK)
                if not chunk:
                    raise ConnectionResetError("connection closed during DATA")
                reader.feed(chunk)
                await sink.spill()
                self._reset_timeout()
            if sink.error is not None:  # the rest of DATA was read and dropped
                raise sink.error
            if reader.result.leftover:
                self._reader._buffer[:0] = reader.result.leftover  # pipelined commands
            if reader.result.too_big:
                await sink.abort()
                return [replies.ERR_TOO_BIG]
            if reader.result.line_too_long:
                await sink.abort()
                return [replies.ERR_LINE_TOO_LONG]
            scan.finish()
            if scan.received > self.app.settings.max_received_headers:  # a mail loop
                await sink.abort()
                refused(self.session, "loop", received=scan.received)
                return [replies.ERR_LOOP] * (len(envelope.rcpt_tos) if self.lmtp else 1)
            entry = await sink.commit(self.app.committer)
        except (ConnectionError, asyncio.CancelledError):
            await sink.abort()
            raise
        except Exception as exc:
            await sink.abort()
            log.error("spool_failed", error=exc.__class__.__name__, detail=str(exc)[:200])
            return [reply_for_spool_error(exc)] * (len(envelope.rcpt_tos) if self.lmtp else 1)
        log.info("accepted", spool_id=entry.spool_id, size=reader.result.size,
                 recipients=len(entry.rcpt_tos), peer=_peer(self.session))
        self.app.accepted(entry)
        if self.lmtp:
            return [replies.OK_LMTP.format(spool_id=entry.spool_id)] * len(entry.rcpt_tos)
        return [replies.OK_QUEUED.format(spool_id=entry.spool_id)]


class _SpoolSink:
    """Collects DATA in memory up to SPILL bytes (the group committer's thread writes, fsyncs
    and renames a small message); a larger one streams to its spool file as it arrives and is
    committed on its own. File work never runs on the event loop."""

    SPILL = 1 << 20

    def __init__(self, spool, mail_from: str, rcpt_tos: list[str], peer: str, helo: str = ""):
        self.spool, self.mail_from, self.rcpt_tos, self.peer, self.helo = spool, mail_from, rcpt_tos, peer, helo
        self.chunks: list[bytes] = []
        self.pending = 0
        self.writer = None
        self.handed_over = False
        self.error: OSError | None = None  # writing failed (e.g. a full disk): the rest is dropped

    def buffer(self, data: bytes) -> None:
        if self.error is None:
            self.chunks.append(data)
            self.pending += len(data)

    def _drain_into_writer(self, start_writeback: bool = False) -> None:
        for chunk in self.chunks:
            self.writer.write(chunk)
        self.chunks, self.pending = [], 0
        if start_writeback:
            self.writer.start_writeback()

    async def spill(self) -> None:
        """Each megabyte of a large message is written and hashed in a thread (both release
        the GIL), so a 70 MB upload does not hold up the event loop serving other sessions."""
        if self.pending < self.SPILL or self.error is not None:
            return
        try:
            if self.writer is None:
                self.writer = await asyncio.to_thread(self.spool.open_writer, self.mail_from, self.rcpt_tos,
                                                      self.peer, self.helo)
            await asyncio.to_thread(self._drain_into_writer, True)
        except OSError as exc:  # the session reads DATA to its end, then answers (452 when full)
            self.error = exc
            await self.abort()

    # The group committer's side (its thread): see smtp/committer.py.
    def prepare(self) -> None:
        if self.writer is None:  # all of it in memory: written and fsynced in one go
            chunks, self.chunks, self.pending = self.chunks, [], 0
            self.writer = self.spool.write_whole(self.mail_from, self.rcpt_tos, self.peer, self.helo, chunks)
            return
        self._drain_into_writer()
        self.writer.prepare()

    def publish(self):
        return self.writer.publish()

    def discard(self) -> None:
        if self.writer is not None:
            self.writer.abort()

    async def commit(self, committer):
        self.handed_over = True  # from now on the committer owns (and on failure removes) the files
        if self.writer is None:
            return await committer.commit(self)
        # A large message commits alone: its long fsync must not delay a group of small ones.
        return await asyncio.to_thread(self._commit_alone)

    def _commit_alone(self):
        try:
            self._drain_into_writer()
            return self.writer.commit()
        except Exception:
            self.discard()
            raise

    async def abort(self) -> None:
        self.chunks, self.pending = [], 0
        if self.writer is not None and not self.handed_over:
            await asyncio.to_thread(self.writer.abort)


class StreamingLMTP(StreamingSMTP, LMTP):
    lmtp = True


def protocol_factory(app):
    """Sessions for the app; each new one takes the certificate in use now (app.tls,
    intake/tls.py: renewed on SIGHUP or when the files change)."""
    settings = app.settings
    cls = StreamingLMTP if settings.lmtp else StreamingSMTP
    kwargs = dict(
        data_size_limit=settings.max_message_size,
        enable_SMTPUTF8=True,
        decode_data=False,
        hostname=settings.hostname,
        ident="smtp_logger",
        require_starttls=bool(settings.tls_cert and settings.require_tls),
        timeout=settings.session_timeout,
    )
    if settings.proxy_protocol_timeout:
        kwargs["proxy_protocol_timeout"] = settings.proxy_protocol_timeout
    certificates = app.tls
    limits = ClientLimits(settings)  # shared by every session of this server
    handler = Handler(app)
    return lambda: cls(app, limits, handler, tls_context=certificates.context, **kwargs)


__all__ = ["protocol_factory", "Spool"]
