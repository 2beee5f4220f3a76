"""What a process of ours is called in /proc/<pid>/comm (ps, top, the bench's CPU split):
"sl-worker-w0", "sl-smtp-1". Linux only; elsewhere, or when /proc is read-only, nothing."""

from __future__ import annotations


def name_process(name: str) -> None:
    """Call from the main thread: it names the process (15 bytes at most)."""
    try:
        with open("/proc/self/comm", "w") as comm:
            comm.write(name[:15])
    except OSError:
        pass
