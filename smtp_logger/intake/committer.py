"""Group commit for the spool: one thread makes concurrent deliveries durable together.

Each DATA hands its finished delivery over (prepare, publish, discard) and awaits the result.
The thread takes everything queued so far, fsyncs each delivery's spool file (side by side),
renames them into new/ and fsyncs the folder once for the whole group, then wakes the waiting
sessions with one call into the event loop. Under load a group holds many deliveries: one
folder fsync and one thread hand-off instead of one each, and the event loop never blocks on
the disk. A delivery whose file cannot be written fails alone (its session answers 451); if
the folder fsync fails, the whole group fails, since none of it is known to be durable.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import structlog

from smtp_logger.intake.spool import Spool, SpoolEntry

log = structlog.get_logger("smtp_logger.committer")
GROUP_LIMIT = 256
FSYNC_THREADS = 8


class Delivery(Protocol):
    def prepare(self) -> None: ...  # write and fsync its files in spool/tmp
    def publish(self) -> SpoolEntry: ...  # rename them into spool/new
    def discard(self) -> None: ...  # remove what it wrote


class GroupCommitter:
    def __init__(self, spool: Spool, loop: asyncio.AbstractEventLoop):
        self.spool = spool
        self.loop = loop
        self.queue: queue.SimpleQueue[tuple[Delivery, asyncio.Future] | None] = queue.SimpleQueue()
        # fsyncs of one group run side by side: the file system folds them into fewer journal commits
        self.fsyncers = ThreadPoolExecutor(max_workers=FSYNC_THREADS, thread_name_prefix="smtp-logger-fsync")
        self.thread = threading.Thread(target=self._run, name="smtp-logger-spool-commit", daemon=True)
        self.thread.start()

    def commit(self, delivery: Delivery) -> asyncio.Future:
        """A future for the SpoolEntry, set once the delivery is durably in new/."""
        future = self.loop.create_future()
        self.queue.put((delivery, future))
        return future

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join(30)
        self.fsyncers.shutdown(wait=True)

    def _run(self) -> None:
        while True:
            group = self._next_group()
            if group is None:
                return
            try:
                outcomes = self._commit_group(group)
            except Exception as exc:  # never leave sessions waiting: each answers 451
                log.error("spool_commit_failed", error=exc.__class__.__name__, deliveries=len(group))
                outcomes = [(future, None, exc) for _delivery, future in group]
            try:
                self.loop.call_soon_threadsafe(_resolve, outcomes)
            except RuntimeError:  # the event loop is gone (shutdown): nobody waits any more
                return

    def _next_group(self) -> list[tuple[Delivery, asyncio.Future]] | None:
        first = self.queue.get()
        if first is None:
            return None
        group = [first]
        while len(group) < GROUP_LIMIT:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self.queue.put(None)  # stop after this group
                break
            group.append(item)
        return group

    def _commit_group(self, group) -> list[tuple[asyncio.Future, SpoolEntry | None, BaseException | None]]:
        published: list[tuple[asyncio.Future, SpoolEntry]] = []
        outcomes = []
        prepared = self.fsyncers.map(_prepare, [delivery for delivery, _future in group])
        for (delivery, future), error in zip(group, prepared):
            try:
                if error is not None:
                    raise error
                published.append((future, delivery.publish()))
            except Exception as exc:  # this delivery only: its session answers 451
                delivery.discard()
                outcomes.append((future, None, exc))
        try:
            if published:
                self.spool.sync_new()
        except Exception as exc:
            log.error("spool_sync_failed", error=exc.__class__.__name__, deliveries=len(published))
            return outcomes + [(future, None, exc) for future, _entry in published]
        return outcomes + [(future, entry, None) for future, entry in published]


def _prepare(delivery: Delivery) -> BaseException | None:
    try:
        delivery.prepare()
        return None
    except Exception as exc:
        return exc


def _resolve(outcomes) -> None:
    for future, entry, error in outcomes:
        if future.done():  # the session went away meanwhile
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(entry)
