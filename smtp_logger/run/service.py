"""The running receiver: one event loop serving SMTP/LMTP, a group committer making accepted
mail durable, workers turning the spool into decisions, and start-up recovery (whatever a
crash left in the spool is processed again). Owns start and stop; no SMTP or SQL details.
"""

from __future__ import annotations

import asyncio
import gc
import signal
from concurrent.futures import ThreadPoolExecutor

import structlog
from prometheus_client import REGISTRY, Counter, Gauge, start_http_server

from smtp_logger.intake.committer import GroupCommitter
from smtp_logger.intake.server import protocol_factory
from smtp_logger.intake.spool import Spool, SpoolEntry
from smtp_logger.run.notifier import Notifier
from smtp_logger.run.pipeline import Pipeline
from smtp_logger.run.workers import Workers
from smtp_logger.store import accounts
from smtp_logger.store.db import lookup_engine, session_factory, upgrade

log = structlog.get_logger("smtp_logger.run.service")

ACCEPTED = Counter("smtp_logger_accepted_total", "Deliveries acknowledged with 250")
BACKLOG = Gauge("smtp_logger_spool_backlog", "Deliveries spooled and not yet processed")
WATCH_INTERVAL = 1.0  # seconds between checks that every worker is alive


class _WorkerCounts:
    """/metrics view of the running App's worker counters (shared with worker processes)."""

    counts = None

    def collect(self):
        if self.counts is not None:
            yield from self.counts.collect()


WORKER_COUNTS = _WorkerCounts()
REGISTRY.register(WORKER_COUNTS)


class App:
    def __init__(self, settings):
        self.settings = settings
        self.sessions = session_factory(settings.db_url)
        self.engine = lookup_engine(settings.db_url)
        self.spool = Spool(settings.data_path)
        self.pipeline = Pipeline(settings, self.sessions, self.spool)
        self.workers = Workers(settings, self.pipeline, self.spool)
        self.notifier = Notifier(settings, self.sessions) if settings.notices_on else None
        self.committer: GroupCommitter | None = None
        self.connections = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._watch: asyncio.Task | None = None

    def _is_live_address(self, address: str) -> bool:
        with self.engine.connect() as connection:
            return accounts.is_live(connection, address)

    async def is_live_address(self, address: str) -> bool:
        """The RCPT TO check. SQLite answers an indexed look-up in microseconds: on the loop,
        which spares a thread hand-off per recipient; a database server is asked from a thread."""
        if self.settings.is_embedded:
            return self._is_live_address(address)
        return await asyncio.to_thread(self._is_live_address, address)

    def accepted(self, entry: SpoolEntry) -> None:
        """A delivery just acknowledged with 250 (counted; the workers find it in the spool)."""
        ACCEPTED.inc()

    async def start(self):
        self.loop = asyncio.get_running_loop()
        # RCPT look-ups on a database server run in threads: enough of them for every session.
        self.loop.set_default_executor(ThreadPoolExecutor(
            max_workers=min(256, self.settings.max_connections), thread_name_prefix="smtp-logger-io"))
        if self.settings.is_embedded:
            await asyncio.to_thread(upgrade, self.settings.db_url)
        waiting = await asyncio.to_thread(self.spool.recover)
        if waiting:
            log.info("recovering_spooled", deliveries=waiting)
        self.committer = GroupCommitter(self.spool, self.loop)
        self.workers.start()
        if self.notifier is not None:
            self.notifier.start()
        self._watch = asyncio.ensure_future(self._watch_workers())
        if self.settings.metrics_port:
            BACKLOG.set_function(self.spool.backlog)
            WORKER_COUNTS.counts = self.workers.counts
            start_http_server(self.settings.metrics_port, addr=self.settings.host)
        # Modules, caches and start-up state are never garbage; left tracked, every full
        # collection walked them all and paused the event loop for 70-105 ms (bench (c)).
        gc.collect()
        gc.freeze()
        server = await self.loop.create_server(protocol_factory(self), self.settings.host,
                                               self.settings.port, reuse_address=True)
        log.info("listening", host=self.settings.host, port=self.settings.port,
                 lmtp=self.settings.lmtp, database=self.settings.db_url.split("://")[0])
        return server

    async def _watch_workers(self) -> None:
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            self.workers.replace_dead()

    async def drain(self, poll: float = 0.02) -> None:
        """Wait until every accepted delivery has been processed (used by tests and shutdown)."""
        while await asyncio.to_thread(self.spool.backlog):
            await asyncio.sleep(poll)

    async def close(self) -> None:
        """Stop the workers (after their current delivery) and the committer."""
        if self._watch is not None:
            self._watch.cancel()
        await asyncio.to_thread(self.workers.stop)
        if self.notifier is not None:
            await asyncio.to_thread(self.notifier.stop)
        if self.committer is not None:
            await asyncio.to_thread(self.committer.close)

    async def serve_forever(self) -> None:
        server = await self.start()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self.loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):
                pass
        await stop.wait()
        log.info("stopping")
        server.close()
        await server.wait_closed()
        try:
            await asyncio.wait_for(self.drain(), timeout=30)
        except asyncio.TimeoutError:
            log.warning("stopped_with_backlog", deliveries=self.spool.backlog())  # kept for the next start
        await self.close()
