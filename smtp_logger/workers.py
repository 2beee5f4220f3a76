"""Processing workers: each takes the oldest spooled deliveries (claimed by an atomic rename,
so two workers never take the same one), turns them into decisions, and removes them from the
spool only once committed. With nothing to take it looks again every POLL seconds; the SMTP
side never hands work over, so accepting mail costs it no inter-process traffic.

A delivery whose processing fails stays claimed and is retried by the same worker after a
growing delay (1 s doubling to 5 min); a restarted worker or server retries it too. Workers
run as processes (production: parsing and SQL off the SMTP process's core and GIL, niced so
the SMTP side answers first) or, with worker_processes = 0, as threads (tests). A worker
process whose server died, even by SIGKILL, exits: the restarted server redoes its work.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from dataclasses import dataclass

import structlog
from prometheus_client.core import CounterMetricFamily

from .db import session_factory
from .pipeline import Pipeline
from .spool import Spool, SpoolEntry

log = structlog.get_logger("smtp_logger.workers")
BATCH = 16  # deliveries claimed at a time: the other workers take the rest
POLL = 0.02  # seconds between looks at an empty spool
MAX_DELAY = 300.0


@dataclass
class _Retry:
    entry: SpoolEntry
    due: float
    delay: float


class SpoolWorker:
    def __init__(self, name: str, pipeline: Pipeline, spool: Spool, stop, counts: "Counts"):
        self.name, self.pipeline, self.spool, self.stop, self.counts = name, pipeline, spool, stop, counts
        self.retries: dict[str, _Retry] = {}

    def run(self) -> None:
        self.spool.release_claims(self.name)  # what this worker held when it last died
        while not self.stop.is_set():
            retried = self._retry_due()
            entries = self._claim()
            for entry in entries:
                self._process(entry, delay=1.0)
            if not entries and not retried:
                self.stop.wait(POLL)

    def _claim(self) -> list[SpoolEntry]:
        try:
            return self.spool.claim(self.name, BATCH)
        except OSError as exc:  # the spool folder is unusable: retried, the SMTP side answers 451
            log.error("spool_unreadable", worker=self.name, error=exc.__class__.__name__)
            self.stop.wait(1.0)
            return []

    def _retry_due(self) -> bool:
        now = time.monotonic()
        due = [retry for retry in self.retries.values() if retry.due <= now]
        for retry in due:
            del self.retries[retry.entry.spool_id]
            self._process(retry.entry, delay=min(retry.delay * 2, MAX_DELAY))
        return bool(due)

    def _process(self, entry: SpoolEntry, delay: float) -> None:
        try:
            self.pipeline.process(entry)
            self.counts.add(processed=1)
        except Exception as exc:  # stays claimed in the spool; retried here and at the next start
            self.counts.add(failed=1)
            log.error("processing_failed", spool_id=entry.spool_id, error=exc.__class__.__name__,
                      detail=str(exc)[:300], retry_in=delay)
            self.retries[entry.spool_id] = _Retry(entry, time.monotonic() + delay, delay)


class Counts:
    """Processed and failed deliveries, shared by worker processes, read by /metrics."""

    def __init__(self, context):
        self.processed = context.Value("q", 0)
        self.failed = context.Value("q", 0)

    def add(self, processed: int = 0, failed: int = 0) -> None:
        for value, n in ((self.processed, processed), (self.failed, failed)):
            if n:
                with value.get_lock():
                    value.value += n

    def collect(self):
        yield CounterMetricFamily("smtp_logger_processed", "Deliveries processed into decisions",
                                  value=self.processed.value)
        yield CounterMetricFamily("smtp_logger_processing_failures",
                                  "Processing attempts that failed (retried)", value=self.failed.value)


def _exit_with_parent(parent: int) -> None:
    while True:
        time.sleep(1)
        if os.getppid() != parent:
            os._exit(0)


def _process_main(name: str, settings, server_pid: int, stop, counts: Counts) -> None:
    """A worker process: logging, a database pool and a pipeline of its own."""
    threading.Thread(target=_exit_with_parent, args=(server_pid,), daemon=True).start()
    os.nice(10)
    from .logsetup import configure
    configure(settings.log_format, settings.log_level)
    spool = Spool(settings.data_path)
    pipeline = Pipeline(settings, session_factory(settings.db_url), spool)
    SpoolWorker(name, pipeline, spool, stop, counts).run()


class Workers:
    """Starts, watches (a dead worker process is replaced) and stops the workers."""

    def __init__(self, settings, pipeline: Pipeline, spool: Spool):
        self.settings, self.pipeline, self.spool = settings, pipeline, spool
        self.in_processes = settings.worker_processes > 0
        self.context = multiprocessing.get_context("spawn")
        self.stop_event = self.context.Event() if self.in_processes else threading.Event()
        self.counts = Counts(self.context)
        self.running: dict[str, object] = {}

    def start(self) -> None:
        count = self.settings.worker_processes if self.in_processes else max(1, self.settings.workers)
        for i in range(count):
            self._start(f"w{i}")

    def _start(self, name: str) -> None:
        if self.in_processes:
            worker = self.context.Process(target=_process_main, name=f"smtp-logger-{name}", daemon=True,
                                          args=(name, self.settings, os.getpid(), self.stop_event, self.counts))
        else:
            runner = SpoolWorker(name, self.pipeline, self.spool, self.stop_event, self.counts)
            worker = threading.Thread(target=runner.run, name=f"smtp-logger-{name}", daemon=True)
        worker.start()
        self.running[name] = worker

    def replace_dead(self) -> None:
        for name, worker in list(self.running.items()):
            if not worker.is_alive() and not self.stop_event.is_set():
                log.error("worker_died", worker=name, exitcode=getattr(worker, "exitcode", None))
                self._start(name)

    def stop(self, timeout: float = 30) -> None:
        self.stop_event.set()
        deadline = time.monotonic() + timeout
        for worker in self.running.values():
            worker.join(max(0.1, deadline - time.monotonic()))
            if self.in_processes and worker.is_alive():
                worker.kill()  # its claims go back to the spool at the next start
