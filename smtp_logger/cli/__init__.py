"""`smtp-logger`: the command-line contract of SPEC.md (serve, db, users, contacts, never-log,
timeline, why, held) plus a few extras (config, notices, ...). Every command reads the same
settings; `--json` prints only JSON on stdout; bad input exits 1, a bad configuration 2, each
with one line and no traceback. May import run, store and below; nothing imports it.
"""

from __future__ import annotations

from smtp_logger.cli import (  # noqa: F401  (they register their commands)
    accounts,
    ask,
    blobs,
    config,
    customers,
    deals,
    notices,
    people,
    serve,
    spool,
)
from smtp_logger.cli.base import main

__all__ = ["main"]
