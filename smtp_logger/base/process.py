"""What a process of ours is called in /proc/<pid>/comm (ps, top, the bench's CPU split):
"sl-worker-w0", "sl-smtp-1". Linux only; elsewhere, or when /proc is read-only, nothing."""

from __future__ import annotations

import signal

# Ctrl-C, SIGTERM and a hang-up (the server's "reload certificates") reach the whole process
# group; only the server acts on them: its other processes ignore them.
GROUP_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


def name_process(name: str) -> None:
    """Call from the main thread: it names the process (15 bytes at most)."""
    try:
        with open("/proc/self/comm", "w") as comm:
            comm.write(name[:15])
    except OSError:
        pass


def ignore_group_signals(name: str) -> None:
    """In a new process of ours (started with the group's signals blocked, so none came while it
    started): ignore them from now on, and name it."""
    for sig in GROUP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, GROUP_SIGNALS)
    name_process(name)
