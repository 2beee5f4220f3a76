"""The running receiver: one event loop serving SMTP/LMTP, a group committer making accepted
mail durable, workers turning the spool into decisions, and start-up recovery (whatever a
crash left in the spool is processed again). Owns start and stop; no SMTP or SQL details.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property

import structlog
from prometheus_client import REGISTRY, Counter, Gauge

from smtp_logger.intake.committer import GroupCommitter
from smtp_logger.intake.disk import DiskSpace
from smtp_logger.intake.server import protocol_factory
from smtp_logger.intake.shutdown import close_sessions
from smtp_logger.intake.spool import Spool, SpoolEntry
from smtp_logger.intake.tls import Certificates
from smtp_logger.run.addresses import AddressBook
from smtp_logger.run.health import HealthServer
from smtp_logger.run.notifier import Notifier
from smtp_logger.run.quarantine import Quarantine
from smtp_logger.run.smtpprocs import SmtpProcesses, take_over_signals
from smtp_logger.run.workers import Workers
from smtp_logger.store.db import lookup_engine, session_factory, upgrade

log = structlog.get_logger("smtp_logger.run.service")

ACCEPTED = Counter("smtp_logger_accepted_total", "Deliveries acknowledged with 250")
BACKLOG = Gauge("smtp_logger_spool_backlog", "Deliveries spooled and not yet processed")
FAILED = Gauge("smtp_logger_spool_failed", "Deliveries quarantined in spool/failed (PROCESSING_FAILED)")
WATCH_INTERVAL = 1.0  # seconds between checks that every worker is alive
GC_YOUNG_THRESHOLD = 10_000  # container objects allocated (net) between young collections


class _WorkerCounts:
    """/metrics view of the running App's worker counters (shared with worker processes)."""

    counts = None

    def collect(self):
        if self.counts is not None:
            yield from self.counts.collect()


WORKER_COUNTS = _WorkerCounts()
REGISTRY.register(WORKER_COUNTS)


class App:
    def __init__(self, settings, smtp_only: bool = False, forks=None):
        """`smtp_only`: one of the extra SMTP processes (run/smtpprocs.py): it listens and
        spools; recovery, workers, notices and metrics are the server process's. `forks`: the
        worker processes' parent, forked by `serve` at its start (run/workers.py)."""
        self.settings = settings
        self.smtp_only = smtp_only
        self.sessions = session_factory(settings.db_url)
        self.engine = lookup_engine(settings.db_url)
        self.addresses = AddressBook(settings, self.engine)
        self.spool = Spool(settings.data_path)
        self.disk = DiskSpace(settings.data_path, settings.min_free_bytes)  # MAIL and EHLO ask it
        self.tls = Certificates(settings.tls_cert, settings.tls_key)  # renewed without a restart
        # Worker processes build their own pipeline: the SMTP process imports none of it then.
        self.workers = None if smtp_only else Workers(settings, lambda: self.pipeline, self.spool, forks)
        self.notifier = Notifier(settings, self.sessions) if settings.notices_on and not smtp_only else None
        self.smtp_processes = SmtpProcesses(settings, smtp_process_main) if settings.smtp_processes > 1 and not smtp_only else None
        self.committer: GroupCommitter | None = None
        self.connections = 0
        self.smtp_sessions: set = set()  # the SMTP sessions open now (intake/server.py keeps it)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._watch: asyncio.Task | None = None
        self.health: HealthServer | None = None
        self._tasks: list[asyncio.Task] = []

    @cached_property
    def pipeline(self):
        """Parsing, rules and the write path, for workers run as threads in this process."""
        from smtp_logger.run.pipeline import Pipeline
        return Pipeline(self.settings, self.sessions, self.spool)

    async def is_live_address(self, address: str) -> bool | None:
        """The RCPT TO check: our own copy of the live addresses, else the database (None: it
        cannot be asked and the copy does not have the address; run/addresses.py)."""
        return await self.addresses.is_live(address)

    def accepted(self, entry: SpoolEntry) -> None:
        """A delivery just acknowledged with 250 (counted; the workers find it in the spool)."""
        ACCEPTED.inc()

    async def start(self):
        self.loop = asyncio.get_running_loop()
        # RCPT look-ups on a database server run in threads: enough of them for every session.
        self.loop.set_default_executor(ThreadPoolExecutor(
            max_workers=min(256, self.settings.max_connections), thread_name_prefix="smtp-logger-io"))
        if self.settings.is_embedded and not self.smtp_only:
            await asyncio.to_thread(upgrade, self.settings.db_url)
        waiting = 0 if self.smtp_only else await asyncio.to_thread(self.spool.recover)
        await asyncio.to_thread(self.addresses.load_saved)
        if waiting:
            log.info("recovering_spooled", deliveries=waiting)
        self.committer = GroupCommitter(self.spool, self.loop)
        if self.workers is not None:
            self.workers.start()
        if self.notifier is not None:
            self.notifier.start()
        if not self.smtp_only:
            self._watch = asyncio.ensure_future(self._watch_workers())
        self._tasks = [asyncio.ensure_future(self._watch_certificates()),
                       asyncio.ensure_future(self.addresses.keep_fresh())]
        if self.settings.metrics_port and not self.smtp_only:
            BACKLOG.set_function(self.spool.backlog)
            FAILED.set_function(Quarantine(self.spool).count_failed)
            WORKER_COUNTS.counts = self.workers.counts
            self.health = HealthServer(self.settings, self.spool)  # /metrics, /healthz, /readyz
        # Several SMTP processes share the port: each binds it with SO_REUSEPORT.
        server = await self.loop.create_server(protocol_factory(self), self.settings.host, self.settings.port,
                                               reuse_address=True, reuse_port=self.settings.smtp_processes > 1)
        if self.smtp_processes is not None:
            self.smtp_processes.start()
        # Modules, caches and start-up state are never garbage; left tracked, every full
        # collection walked them all and paused the event loop for 70-105 ms (bench (c)).
        # Done once listening: the collection takes 0.1-0.2 s that the first 220 need not wait.
        self.loop.call_soon(_freeze_startup_objects)
        log.info("listening", host=self.settings.host, port=self.settings.port,
                 lmtp=self.settings.lmtp, database=self.settings.db_url.split("://")[0])
        return server

    async def _watch_workers(self) -> None:
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            self.workers.replace_dead()
            if self.smtp_processes is not None:
                self.smtp_processes.replace_dead()

    async def _watch_certificates(self) -> None:
        while self.settings.tls_cert:
            await asyncio.sleep(max(1.0, self.settings.tls_check_seconds))
            await asyncio.to_thread(self.tls.check)

    def reload_certificates(self) -> None:
        """SIGHUP: new sessions use the certificate files as they are now."""
        asyncio.ensure_future(asyncio.to_thread(self.tls.reload, "SIGHUP"))

    async def drain(self, poll: float = 0.02) -> None:
        """Wait until every accepted delivery has been processed (used by tests and shutdown)."""
        while await asyncio.to_thread(self.spool.backlog):
            await asyncio.sleep(poll)

    async def close(self, timeout: float = 30) -> None:
        """Stop the workers (after their current delivery) and the committer."""
        for task in [self._watch, *self._tasks]:
            if task is not None:
                task.cancel()
        if self.smtp_processes is not None:  # they finished their sessions meanwhile (shutdown)
            await asyncio.to_thread(self.smtp_processes.join, timeout)
        if self.workers is not None:
            await asyncio.to_thread(self.workers.stop, timeout)
        if self.notifier is not None:
            await asyncio.to_thread(self.notifier.stop)
        if self.committer is not None:
            await asyncio.to_thread(self.committer.close)
        if self.health is not None:
            await asyncio.to_thread(self.health.close)

    async def serve_forever(self) -> None:
        server = await self.start()
        stop, hurry = asyncio.Event(), asyncio.Event()
        self._on_signals((signal.SIGINT, signal.SIGTERM), stop.set)
        self._on_signals((signal.SIGHUP,), self.reload_certificates)
        await stop.wait()
        self._on_signals((signal.SIGINT, signal.SIGTERM), hurry.set)  # a second one: no more grace
        await self.shutdown(server, hurry)

    def _on_signals(self, signals, callback) -> None:
        for sig in signals:
            try:
                self.loop.add_signal_handler(sig, callback)
            except (NotImplementedError, RuntimeError, AttributeError):
                pass

    async def shutdown(self, server, hurry: asyncio.Event | None = None) -> None:
        """Stop listening at once; transactions in flight get shutdown_grace_seconds to finish
        (intake/shutdown.py), the workers what is left of it to process what was acknowledged
        (the rest waits in the spool for the next start), then finish what they hold."""
        grace = self.settings.shutdown_grace_seconds
        deadline = time.monotonic() + grace
        log.info("stopping", sessions=len(self.smtp_sessions), grace_seconds=grace)
        if self.smtp_processes is not None:
            self.smtp_processes.begin_shutdown()
        server.close()
        cut_off = await close_sessions(self.smtp_sessions, grace, hurry)
        await server.wait_closed()
        left = 0.0 if hurry is not None and hurry.is_set() else max(1.0, deadline - time.monotonic())
        try:
            if not self.smtp_only:  # the workers' work: an SMTP process only finishes its sessions
                await asyncio.wait_for(self.drain(), timeout=left)
        except asyncio.TimeoutError:
            if waiting := self.spool.backlog():
                log.warning("stopped_with_backlog", deliveries=waiting)  # kept for the next start
        await self.close(timeout=max(1.0, grace))
        log.info("stopped", sessions_cut_off=cut_off)


def _freeze_startup_objects() -> None:
    gc.collect()
    gc.freeze()
    # Each SMTP session makes a few hundred container objects that reference counting frees;
    # at the default threshold (700) the collector still ran every few sessions (2-3 % of the
    # SMTP process's CPU under load). Cycles are collected all the same, less often.
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def smtp_process_main(settings, index: int, stop_pipe) -> None:
    """An extra SMTP process (run/smtpprocs.py): serves until the server closes `stop_pipe`."""
    take_over_signals(index)
    from smtp_logger.base.logsetup import configure
    configure(settings.log_format, settings.log_level)
    asyncio.run(_serve_until_closed(App(settings, smtp_only=True), stop_pipe))


async def _serve_until_closed(app: App, stop_pipe) -> None:
    server = await app.start()
    closed = asyncio.Event()
    app.loop.add_reader(stop_pipe.fileno(), closed.set)  # readable at EOF: the server closed its end
    await closed.wait()
    app.loop.remove_reader(stop_pipe.fileno())
    await app.shutdown(server)
