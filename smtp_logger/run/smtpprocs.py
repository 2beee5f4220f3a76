"""More SMTP processes on the same port (`smtp_processes` > 1): each binds it with SO_REUSEPORT
(the kernel spreads new connections over them), runs its own event loop, group committer and
copy of the live addresses, and spools into the same data folder; the server process is the
first of them and alone runs the workers, start-up recovery, metrics and notices.

An SMTP process ignores the group's signals (Ctrl-C, SIGTERM, SIGHUP reach every process of
the group); it shuts down gracefully (intake/shutdown.py) when the server closes the pipe it
was given, which also happens when the server dies, even by SIGKILL. A dead one is replaced.
"""

from __future__ import annotations

import multiprocessing
import signal
import time

import structlog

from smtp_logger.base.process import GROUP_SIGNALS, ignore_group_signals

log = structlog.get_logger("smtp_logger.run.smtpprocs")


class SmtpProcesses:
    """Starts, watches and stops the extra SMTP processes (smtp_processes - 1 of them)."""

    def __init__(self, settings, target):
        """`target(settings, index, stop_pipe)`: an SMTP process's main (run.service)."""
        self.settings, self.target = settings, target
        self.count = max(0, settings.smtp_processes - 1)
        self.context = multiprocessing.get_context("spawn")
        self.running: dict[int, tuple[object, object]] = {}  # index -> (process, our pipe end)
        self.stopping = False

    def start(self) -> None:
        for index in range(1, self.count + 1):
            self._start(index)

    def _start(self, index: int) -> None:
        theirs, ours = self.context.Pipe(duplex=False)
        process = self.context.Process(target=self.target, name=f"smtp-logger-smtp{index}", daemon=True,
                                       args=(self.settings, index, theirs))
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, GROUP_SIGNALS)  # until it ignores them
        try:
            process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        theirs.close()
        self.running[index] = (process, ours)

    def replace_dead(self) -> None:
        for index, (process, ours) in list(self.running.items()):
            if not process.is_alive() and not self.stopping:
                log.error("smtp_process_died", process=index, exitcode=process.exitcode)
                ours.close()
                self._start(index)

    def begin_shutdown(self) -> None:
        """Tell every SMTP process to stop listening and finish (its pipe closes)."""
        self.stopping = True
        for _process, ours in self.running.values():
            ours.close()

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for process, _ours in self.running.values():
            process.join(max(0.1, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()


def take_over_signals(index: int) -> None:
    """In a new SMTP process: the group's signals ignored (the server decides when it stops)."""
    ignore_group_signals(f"sl-smtp-{index}")
