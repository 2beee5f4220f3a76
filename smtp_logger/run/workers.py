"""Processing workers: each takes the oldest spooled deliveries (claimed by an atomic rename,
so two workers never take the same one), turns them into decisions, and removes them from the
spool only once committed. With nothing to take it looks again every POLL seconds; the SMTP
side never hands work over, so accepting mail costs it no inter-process traffic.

A delivery whose processing fails stays claimed and is retried by the same worker after a
growing delay (1 s doubling to 5 min); a restarted worker or server retries it too. After
max_attempts failures it is quarantined (run/quarantine.py). A failure while the database does
not answer is not the delivery's: it is not counted, and the worker pauses (growing to 10 s)
until the database answers again, then retries at once; nor is a full disk (ENOSPC). Workers
run as processes (production: parsing and SQL off the SMTP process's core and GIL, niced so
the SMTP side answers first; forked by their own parent, run/forkserver.py, so that they share
its pages) or, with worker_processes = 0, as threads (tests). A worker process whose server
died, even by SIGKILL, exits: the restarted server redoes its work.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
from prometheus_client.core import CounterMetricFamily

from smtp_logger.base.process import ignore_group_signals
from smtp_logger.intake.disk import is_out_of_space
from smtp_logger.intake.spool import Spool, SpoolEntry
from smtp_logger.run.forkserver import ForkServer
from smtp_logger.run.quarantine import Quarantine
from smtp_logger.store.db import get_engine, session_factory
from smtp_logger.store.health import database_error

if TYPE_CHECKING:
    from smtp_logger.run.pipeline import Pipeline

log = structlog.get_logger("smtp_logger.run.workers")
BATCH = 16  # deliveries claimed at a time: the other workers take the rest
POLL = 0.02  # seconds between looks at an empty spool
MAX_DELAY = 300.0
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies
OUTAGE_PAUSE, OUTAGE_MAX_PAUSE = 0.5, 10.0  # seconds between asking a database that is down


@dataclass
class _Retry:
    entry: SpoolEntry
    due: float
    delay: float


class _Outage:
    """Whether the database answers, asked after a failure and, while it does not, again after
    a growing pause (a sleep: an outage costs no CPU)."""

    def __init__(self, url: str, stop):
        self.url, self.stop = url, stop
        self.down = False
        self.pause = OUTAGE_PAUSE

    def explains_failure(self) -> bool:
        """After a failed attempt: True when the database is down (so the failure is not the
        delivery's fault)."""
        if not self.down and (error := database_error(self.url)) is not None:
            log.warning("database_unavailable", error=error)
            self.down = True
        return self.down

    def wait_until_back(self) -> bool:
        """Pause, then ask again; True once the database answers."""
        if self.stop.wait(self.pause):
            return False
        if database_error(self.url) is not None:
            self.pause = min(self.pause * 2, OUTAGE_MAX_PAUSE)
            return False
        log.info("database_available")
        self.down, self.pause = False, OUTAGE_PAUSE
        return True


class SpoolWorker:
    def __init__(self, name: str, pipeline: Pipeline, spool: Spool, stop, counts: "WorkerCounts"):
        self.name, self.pipeline, self.spool, self.stop, self.counts = name, pipeline, spool, stop, counts
        self.retries: dict[str, _Retry] = {}
        self.quarantine = Quarantine(spool)
        self.max_attempts = max(1, pipeline.settings.max_attempts)
        self.outage = _Outage(pipeline.settings.db_url, stop)
        self.dns_waits: dict[str, tuple[SpoolEntry, float]] = {}  # sender checks waiting for DNS

    def run(self) -> None:
        self.spool.release_claims(self.name)  # what this worker held when it last died
        while not self.stop.is_set():
            if self.outage.down:
                if self.outage.wait_until_back():
                    self._all_due_now()
                continue
            retried = self._retry_due() | self._dns_due()
            entries = self._claim()
            if entries:
                self._process_batch(entries)
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
            if self.outage.down:
                break  # the rest wait for the database
        return bool(due)

    def _all_due_now(self) -> None:
        """The database answers again: what failed while it was down is retried at once."""
        now = time.monotonic()
        for retry in self.retries.values():
            retry.due, retry.delay = now, 1.0

    def _ready(self, entries: list[SpoolEntry]) -> list[SpoolEntry]:
        """Deliveries whose sender check waits for DNS stay claimed, and are looked at again later
        (senderauth.py); the rest are processed now."""
        ready = []
        for entry in entries:
            try:
                wait = self.pipeline.auth.wait_seconds(entry)
            except Exception as exc:  # processing will meet it again and retry as for any failure
                log.error("sender_check_failed", spool_id=entry.spool_id, error=exc.__class__.__name__)
                wait = None
            if wait is None:
                ready.append(entry)
            else:
                self.dns_waits[entry.spool_id] = (entry, time.monotonic() + wait)
                log.info("sender_check_waits_for_dns", spool_id=entry.spool_id, retry_in=round(wait, 1))
        return ready

    def _dns_due(self) -> bool:
        now = time.monotonic()
        due = [entry for entry, at in self.dns_waits.values() if at <= now]
        for entry in due:
            del self.dns_waits[entry.spool_id]
        if due:
            self._process_batch(due)
        return bool(due)

    def _process_batch(self, entries: list[SpoolEntry]) -> None:
        entries = self._ready(entries)
        if not entries:
            return
        try:
            failed = self.pipeline.process_batch(entries)
        except Exception as exc:  # not even one by one: each is retried on its own later
            failed = [(entry, exc) for entry in entries]
        self.counts.add(processed=len(entries) - len(failed))
        failed_ids = {entry.spool_id for entry, _exc in failed}
        for entry in entries:
            if entry.spool_id not in failed_ids:
                self.quarantine.succeeded(entry)
        for entry, exc in failed:
            self._failed(entry, exc, delay=1.0)

    def _failed(self, entry: SpoolEntry, exc: Exception, delay: float) -> None:
        self.counts.add(failed=1)
        if self.outage.explains_failure():  # not the delivery's fault: not counted
            self.retries[entry.spool_id] = _Retry(entry, time.monotonic(), 1.0)
            return
        if is_out_of_space(exc):  # nor is a full disk: retried with the back-off, not counted
            log.error("processing_postponed_disk_full", spool_id=entry.spool_id, retry_in=delay)
            self.retries[entry.spool_id] = _Retry(entry, time.monotonic() + delay, delay)
            return
        attempts = self.quarantine.failed_attempt(entry, exc)
        log.error("processing_failed", spool_id=entry.spool_id, error=exc.__class__.__name__,
                  detail=str(exc)[:300], attempt=attempts, retry_in=delay)
        if attempts >= self.max_attempts:
            try:
                self.quarantine.quarantine(entry, self.pipeline.sessions, self.pipeline.settings)
                return
            except Exception as error:  # e.g. the database went away meanwhile: tried again later
                log.error("quarantine_failed", spool_id=entry.spool_id, error=error.__class__.__name__)
        self.retries[entry.spool_id] = _Retry(entry, time.monotonic() + delay, delay)

    def _process(self, entry: SpoolEntry, delay: float) -> None:
        if not self._ready([entry]):
            return
        try:
            self.pipeline.process(entry)
            self.counts.add(processed=1)
            self.quarantine.succeeded(entry)
        except Exception as exc:  # stays claimed in the spool; retried here and at the next start
            self._failed(entry, exc, delay)


class Counts:
    """Processed and failed deliveries, read by /metrics. Shared memory without a lock: each
    worker only ever writes its own two slots, so one killed mid-update blocks nobody."""

    def __init__(self, context, workers: int):
        self.slots = context.Array("q", 2 * max(1, workers), lock=False)

    def for_worker(self, index: int) -> "WorkerCounts":
        return WorkerCounts(self.slots, index)

    def collect(self):
        processed = sum(self.slots[0::2])
        failed = sum(self.slots[1::2])
        yield CounterMetricFamily("smtp_logger_processed", "Deliveries processed into decisions",
                                  value=processed)
        yield CounterMetricFamily("smtp_logger_processing_failures",
                                  "Processing attempts that failed (retried)", value=failed)


class WorkerCounts:
    def __init__(self, slots, index: int):
        self.slots, self.index = slots, index

    def add(self, processed: int = 0, failed: int = 0) -> None:
        self.slots[2 * self.index] += processed
        self.slots[2 * self.index + 1] += failed


class StopFlag:
    """Tells worker processes to stop: a shared byte they look at. Not multiprocessing.Event,
    whose set() waits for every sleeper to wake and hangs for ever if one of them was killed."""

    def __init__(self, context):
        self.flag = context.RawValue("b", 0)

    def set(self) -> None:
        self.flag.value = 1

    def is_set(self) -> bool:
        return bool(self.flag.value)

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.is_set() and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, POLL))
        return self.is_set()


def _exit_with_parent(parent: int) -> None:
    """The worker's parent is the fork server (run/forkserver.py), which exits when the server
    is gone: then so does the worker (at once where the kernel can say so, else within a second)."""
    _die_with_parent()
    while True:
        if os.getppid() != parent:
            os._exit(0)
        time.sleep(1)


def _die_with_parent() -> None:
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the look every second does it
        pass


def _process_main(name: str, settings, stop, counts: "WorkerCounts", parent: int) -> None:
    """A worker process, forked by the fork server: logging, a database pool and a pipeline of
    its own. Ctrl-C, SIGTERM and a hang-up reach the whole process group: the server alone
    decides when its workers stop."""
    ignore_group_signals(f"sl-worker-{name}")
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    os.nice(10)
    from smtp_logger.base.logsetup import configure
    configure(settings.log_format, settings.log_level)
    from smtp_logger.run.pipeline import Pipeline
    spool = Spool(settings.data_path)
    pipeline = Pipeline(settings, session_factory(settings.db_url), spool)
    gc.collect()
    gc.freeze()  # start-up objects are never garbage: full collections need not walk them
    SpoolWorker(name, pipeline, spool, stop, counts).run()


@dataclass
class WorkerMain:
    """What the fork server runs (picklable, for a spawned one): preload() once, then one
    worker process per index."""

    settings: object
    stop: StopFlag
    counts: Counts

    @classmethod
    def of(cls, settings) -> "WorkerMain":
        """With a new stop flag and counts for settings.worker_processes workers."""
        context = multiprocessing.get_context("spawn")
        return cls(settings, StopFlag(context), Counts(context, settings.worker_processes))

    def preload(self) -> None:
        """What every worker needs, imported once in the fork server and shared by the workers."""
        from smtp_logger.base.logsetup import configure  # noqa: F401
        from smtp_logger.run.pipeline import Pipeline  # noqa: F401
        from smtp_logger.understand.addresses import warm
        warm()  # the address parser, made now rather than for the first message

    def __call__(self, index: int, parent: int) -> None:
        _process_main(f"w{index}", self.settings, self.stop, self.counts.for_worker(index), parent)


def fork_workers_parent(settings) -> ForkServer | None:
    """For `serve`, before it makes a database engine, a thread or a socket: fork the worker
    processes' parent now, so that it shares this process's pages (run/forkserver.py). None
    with worker threads, or when that is no longer safe (Workers then spawns one)."""
    if settings.worker_processes <= 0 or threading.active_count() > 1 or get_engine.cache_info().currsize:
        return None
    server = ForkServer(WorkerMain.of(settings), settings.worker_processes)
    try:
        server.fork()
    except OSError as exc:  # e.g. no memory for the page tables: a spawned one instead
        log.warning("workers_parent_not_forked", error=str(exc))
        return None
    return server


class Workers:
    """Starts, watches (a dead worker is replaced) and stops the workers: threads, or processes
    forked by their own parent (run/forkserver.py), which this replaces should it die."""

    def __init__(self, settings, pipeline, spool: Spool, forks: ForkServer | None = None):
        """`pipeline`: a Pipeline, or a function making it (asked only for worker threads);
        `forks`: the workers' parent forked early by `serve` (else one is spawned)."""
        self.settings, self.spool = settings, spool
        self._pipeline = pipeline
        self.in_processes = settings.worker_processes > 0
        self.count = settings.worker_processes if self.in_processes else max(1, settings.workers)
        self.running: dict[int, threading.Thread] = {}
        self.forks = None
        if self.in_processes:
            self.forks = forks or ForkServer(WorkerMain.of(settings), self.count)
            self.stop_event, self.counts = self.forks.main.stop, self.forks.main.counts
        else:
            self.stop_event, self.counts = threading.Event(), Counts(multiprocessing.get_context("spawn"), self.count)

    def start(self) -> None:
        if self.forks is not None:
            self.forks.start()
            return
        for index in range(self.count):
            self._start(index)

    def _start(self, index: int) -> None:
        name, counts = f"w{index}", self.counts.for_worker(index)
        runner = SpoolWorker(name, self.pipeline(), self.spool, self.stop_event, counts)
        worker = threading.Thread(target=runner.run, name=f"smtp-logger-{name}", daemon=True)
        worker.start()
        self.running[index] = worker

    def pipeline(self) -> "Pipeline":
        return self._pipeline() if callable(self._pipeline) else self._pipeline

    def replace_dead(self) -> None:
        """A dead worker process is replaced by its parent; a dead parent (and its workers) here."""
        if self.stop_event.is_set():
            return
        if self.forks is not None:
            if not self.forks.is_alive():
                log.error("worker_parent_died")
                self.forks.spawn()
            return
        for index, worker in list(self.running.items()):
            if not worker.is_alive():
                log.error("worker_died", worker=f"w{index}")
                self._start(index)

    def stop(self, timeout: float = 30) -> None:
        self.stop_event.set()
        if self.forks is not None:
            self.forks.join(timeout)
            return
        deadline = time.monotonic() + timeout
        for worker in self.running.values():
            worker.join(max(0.1, deadline - time.monotonic()))
