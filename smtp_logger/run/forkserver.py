"""The worker processes' parent (worker_processes > 0): forked from `serve` before it made a
database engine, a thread or a socket, it imports the pipeline once and forks every worker from
that image, so the server, it and the workers share their module pages copy-on-write (the idle
footprint, bench/footprint.py); the server's start-up never waits for it. It replaces a worker
that died, exits once its workers stopped (the server's StopFlag), and at once when the server
is gone, even by SIGKILL (the pipe only the server writes reads EOF); its workers then exit too.
It ignores the group's signals, as the workers do. One that died is replaced by a spawned one.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import select
import signal
import sys
import time

import structlog

from smtp_logger.base.process import GROUP_SIGNALS, ignore_group_signals

log = structlog.get_logger("smtp_logger.run.forkserver")
LOOK = 0.2  # seconds between looks for a worker that died (and, once stopping, for the last one)
NAME = "sl-worker-fs"  # the bench counts it on the workers' side (bench/procmem.py)


class ForkServer:
    """The server's handle on the workers' parent. `main` (run/workers.py WorkerMain) says what
    a worker runs: main.preload() once in the parent, main(index, parent_pid) in each worker; main.stop."""

    def __init__(self, main, count: int):
        self.main, self.count = main, count
        self.pid: int | None = None  # forked: our child, waited for with waitpid
        self.process = None  # spawned (a replacement): a multiprocessing.Process
        self._go: int | None = None  # forked: writing a byte here starts the workers
        self._alive = None  # our end of the pipe whose EOF tells the fork server we are gone

    def fork(self) -> None:
        """Call from the main thread before any engine, thread or socket exists: nothing of
        that kind may be copied into the workers."""
        alive_r, alive_w = os.pipe()
        go_r, go_w = os.pipe()
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, GROUP_SIGNALS)  # until it ignores them
        try:
            gc.freeze()  # collections in either process then leave the shared pages alone
            pid = os.fork()
            if pid == 0:
                os.close(alive_w)
                os.close(go_w)
                _child(self.main, self.count, alive_r, go_r)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        os.close(alive_r)
        os.close(go_r)
        self.pid, self._go, self._alive = pid, go_w, alive_w

    def start(self) -> None:
        """Start the workers: the forked parent is told to; otherwise one is spawned."""
        if self._go is not None:
            os.write(self._go, b"g")
            os.close(self._go)
            self._go = None
        elif self.pid is None:
            self.spawn()

    def spawn(self) -> None:
        """A new interpreter as the workers' parent (it shares pages with its workers only)."""
        context = multiprocessing.get_context("spawn")
        theirs, ours = context.Pipe(duplex=False)
        self.process = context.Process(target=serve_spawned, name="smtp-logger-workers", daemon=True,
                                       args=(self.main, self.count, theirs))
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, GROUP_SIGNALS)
        try:
            self.process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        theirs.close()
        if self._alive is not None:
            _close(self._alive)
        self.pid, self._alive = None, ours

    def is_alive(self) -> bool:
        if self.process is not None:
            return self.process.is_alive()
        if self.pid is None:
            return False
        try:
            return os.waitpid(self.pid, os.WNOHANG) == (0, 0)
        except ChildProcessError:
            return False

    def join(self, timeout: float) -> None:
        """Wait until the workers and their parent exited; past `timeout` it is killed (and its
        workers with it); what they held goes back to the spool at the next start."""
        if self._go is not None:  # never started: closing `go` stops it
            os.close(self._go)
            self._go = None
        deadline = time.monotonic() + timeout
        while self.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.is_alive():
            if self.process is not None:
                self.process.kill()
            else:
                os.kill(self.pid, signal.SIGKILL)
            while self.is_alive():
                time.sleep(0.01)


def _close(end) -> None:
    end.close() if hasattr(end, "close") else os.close(end)


def _child(main, count: int, alive: int, go: int) -> None:
    code = 1
    try:
        serve_forks(main, count, alive, go)
        code = 0
    except BaseException:
        sys.excepthook(*sys.exc_info())
    finally:
        os._exit(code)  # never back into the server's code


def serve_spawned(main, count: int, alive) -> None:
    serve_forks(main, count, alive.fileno(), None)


def serve_forks(main, count: int, alive: int, go: int | None) -> None:
    """The fork server's loop: preload, wait for `go` (None: at once), keep `count` workers."""
    ignore_group_signals(NAME)
    main.preload()
    gc.collect()
    gc.freeze()
    if go is not None and (alive in select.select([alive, go], [], [])[0] or os.read(go, 1) != b"g"):
        return  # the server is gone, or stopped, before it started any worker
    if select.select([alive], [], [], 0)[0]:
        return
    workers = {_fork_worker(main, index): index for index in range(count)}
    while workers or not main.stop.is_set():
        if select.select([alive], [], [], LOOK)[0]:
            return  # the server is gone: its workers notice that we are (run/workers.py)
        while workers and (ended := os.waitpid(-1, os.WNOHANG))[0]:
            index = workers.pop(ended[0], None)
            if index is not None and not main.stop.is_set():
                log.error("worker_died", worker=f"w{index}", exitcode=os.waitstatus_to_exitcode(ended[1]))
                workers[_fork_worker(main, index)] = index


def _fork_worker(main, index: int) -> int:
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            main(index, parent)
            code = 0
        except BaseException:
            sys.excepthook(*sys.exc_info())
        finally:
            os._exit(code)
    return pid
