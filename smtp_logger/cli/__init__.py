"""`smtp-logger`: the command-line contract of SPEC.md (serve, db, users, contacts, never-log,
timeline, why, held) plus a few extras. Every command reads the same settings; `--json` prints
only JSON on stdout; bad input exits 1 with a one-line error and no traceback.
"""

from __future__ import annotations

from . import ask, customers, people, serve  # noqa: F401  (they register their commands)
from .base import main

__all__ = ["main"]
