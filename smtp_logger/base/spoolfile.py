"""The stored-delivery file format, shared by the spool that writes it and the readers that parse
it: an envelope line (`SMTP-LOGGER-SPOOL 1 {json}`), then the message bytes exactly as received.
Raw copies kept after a decision are the same files (hard links). No I/O beyond opening a file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import BinaryIO

MAGIC = b"SMTP-LOGGER-SPOOL 1 "
MAX_ENVELOPE = 1 << 20


def envelope_line(meta: dict) -> bytes:
    return MAGIC + json.dumps(meta).encode() + b"\n"


def read_envelope(f: BinaryIO) -> dict | None:
    """The envelope of a spool file (None for a bare message, e.g. a raw copy from before the
    envelope line existed); leaves `f` at the first byte of the message either way."""
    if f.read(len(MAGIC)) != MAGIC:
        f.seek(0)
        return None
    return json.loads(f.readline(MAX_ENVELOPE))


def open_message(path: Path) -> BinaryIO:
    """A stored message (spool or raw copy), opened at its first byte."""
    f = open(path, "rb")
    try:
        read_envelope(f)
    except (ValueError, UnicodeDecodeError):
        f.seek(0)
    return f


def read_message(path: Path) -> bytes:
    with open_message(path) as f:
        return f.read()
