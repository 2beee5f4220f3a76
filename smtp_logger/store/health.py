"""Does the database answer? One `SELECT 1` on a connection of its own, with a short connect
timeout, for readiness (/readyz) and for the workers telling a database outage from a message
that cannot be processed. Never raises; opens and closes its own connections.
"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from smtp_logger.store.db import get_engine

CONNECT_TIMEOUT = 3  # seconds; a database server that does not answer by then is down


@lru_cache(maxsize=16)
def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        return get_engine(url)
    return create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": CONNECT_TIMEOUT})


def database_error(url: str) -> str | None:
    """None when the database answers, else why not (one line, no secrets)."""
    try:
        with _engine(url).connect() as connection:
            connection.execute(text("SELECT 1"))
        return None
    except Exception as exc:  # any failure means: not answering
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        return f"{exc.__class__.__name__}: {detail[0][:200] if detail else ''}".rstrip(": ")
