"""The running receiver: one event loop serving SMTP/LMTP, a pool of worker threads turning
spooled deliveries into decisions, and start-up recovery (everything left in the spool by a
crash is processed again before new mail). Owns start and stop; no SMTP or SQL details.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import structlog
from prometheus_client import Counter, Gauge, start_http_server

from .db import get_engine, session_factory, upgrade
from .pipeline import Pipeline
from .smtp.server import protocol_factory
from .spool import Spool, SpoolEntry
from .store import accounts

log = structlog.get_logger("smtp_logger.service")

ACCEPTED = Counter("smtp_logger_accepted_total", "Deliveries acknowledged with 250")
PROCESSED = Counter("smtp_logger_processed_total", "Deliveries processed into decisions")
FAILED = Counter("smtp_logger_processing_failures_total", "Processing attempts that failed (retried)")
BACKLOG = Gauge("smtp_logger_spool_backlog", "Deliveries spooled and not yet processed")


_worker_pipeline: Pipeline | None = None


def _exit_with_parent(parent: int) -> None:
    """A worker whose server died (even by SIGKILL) exits too: the restarted server re-runs
    whatever it was doing from the spool, and no orphan keeps holding memory."""
    while True:
        time.sleep(1)
        if os.getppid() != parent:
            os._exit(0)


def _init_worker(settings, server_pid: int) -> None:
    """In each worker process: logging, a database pool and a pipeline of its own."""
    global _worker_pipeline
    threading.Thread(target=_exit_with_parent, args=(server_pid,), daemon=True).start()
    os.nice(10)  # the SMTP process answers first; decisions catch up when it is idle
    from .logsetup import configure
    configure(settings.log_format, settings.log_level)
    _worker_pipeline = Pipeline(settings, session_factory(settings.db_url), Spool(settings.data_path))


def _process_in_worker(entry: SpoolEntry) -> None:
    _worker_pipeline.process(entry)


def make_executor(settings):
    """Worker processes keep parsing and SQL off the SMTP process's core (and GIL);
    worker_processes = 0 runs them in threads of the server process instead."""
    if settings.worker_processes > 0:
        return ProcessPoolExecutor(max_workers=settings.worker_processes,
                                   mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker, initargs=(settings, os.getpid()))
    return ThreadPoolExecutor(max_workers=max(1, settings.workers), thread_name_prefix="smtp-logger-worker")


class App:
    def __init__(self, settings):
        self.settings = settings
        self.sessions = session_factory(settings.db_url)
        self.engine = get_engine(settings.db_url)
        self.spool = Spool(settings.data_path)
        self.pipeline = Pipeline(settings, self.sessions, self.spool)
        self.executor = make_executor(settings)
        self.in_processes = isinstance(self.executor, ProcessPoolExecutor)
        self.connections = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pending: set[asyncio.Future] = set()

    def is_live_address(self, address: str) -> bool:
        with self.engine.connect() as connection:
            return accounts.is_live(connection, address)

    def enqueue(self, entry: SpoolEntry) -> None:
        """A delivery just acknowledged with 250."""
        ACCEPTED.inc()
        self._schedule(entry)

    def _schedule(self, entry: SpoolEntry) -> None:
        BACKLOG.inc()
        future = asyncio.ensure_future(self._process(entry))
        self.pending.add(future)
        future.add_done_callback(self.pending.discard)

    async def _process(self, entry: SpoolEntry) -> None:
        delay = 1.0
        while True:
            try:
                task = _process_in_worker if self.in_processes else self.pipeline.process
                await self.loop.run_in_executor(self.executor, task, entry)
                PROCESSED.inc()
                BACKLOG.dec()
                return
            except BrokenProcessPool:
                log.error("worker_process_died", spool_id=entry.spool_id)
                self.executor = make_executor(self.settings)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 300)
            except Exception as exc:  # stays in the spool; retried here and at the next start
                FAILED.inc()
                log.error("processing_failed", spool_id=entry.spool_id,
                          error=exc.__class__.__name__, detail=str(exc)[:300], retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 300)

    async def start(self):
        self.loop = asyncio.get_running_loop()
        # RCPT look-ups and spool fsyncs run in threads: enough of them for every open session.
        self.loop.set_default_executor(ThreadPoolExecutor(
            max_workers=min(256, self.settings.max_connections), thread_name_prefix="smtp-logger-io"))
        if self.settings.is_embedded:
            await asyncio.to_thread(upgrade, self.settings.db_url)
        for entry in await asyncio.to_thread(self.spool.pending):
            log.info("recovering_spooled", spool_id=entry.spool_id)
            self._schedule(entry)
        if self.settings.metrics_port:
            start_http_server(self.settings.metrics_port, addr=self.settings.host)
        server = await self.loop.create_server(protocol_factory(self), self.settings.host,
                                               self.settings.port, reuse_address=True)
        log.info("listening", host=self.settings.host, port=self.settings.port,
                 lmtp=self.settings.lmtp, database=self.settings.db_url.split("://")[0])
        return server

    async def drain(self) -> None:
        """Wait until every accepted delivery has been processed (used by tests and shutdown)."""
        while self.pending:
            await asyncio.gather(*list(self.pending), return_exceptions=True)

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
        await asyncio.wait_for(self.drain(), timeout=30)
        self.executor.shutdown(wait=True)
