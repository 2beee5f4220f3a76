"""Database connections and schema migrations (Alembic), for SQLite and PostgreSQL alike.

Owns engine set-up (SQLite: WAL, busy timeout, foreign keys) and `upgrade()`. Opens
connections; issues no queries of its own besides the migration runner's.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


# A database server's pools. No pre-ping: it costs a round trip per checkout. A connection lost
# with a server restart fails one query; SQLAlchemy then drops the whole pool, and callers retry
# (SMTP answers 451, processing is retried from the spool).
_SERVER_POOL = dict(pool_size=10, max_overflow=20, pool_recycle=3600)


@lru_cache(maxsize=16)
def get_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, **_SERVER_POOL)


@lru_cache(maxsize=16)
def lookup_engine(url: str) -> Engine:
    """For single-statement reads (the RCPT TO check): on a database server, connections in
    autocommit, so a look-up is one round trip instead of three (BEGIN, SELECT, ROLLBACK)."""
    if url.startswith("sqlite"):
        return get_engine(url)
    return create_engine(url, **_SERVER_POOL, isolation_level="AUTOCOMMIT")


def session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(get_engine(url), expire_on_commit=False)


def alembic_config(url: str):
    from alembic.config import Config  # only a migration needs Alembic (imported on demand)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


_REVISION = re.compile(r"""^(down_)?revision\s*=\s*['"]?([\w]+|None)['"]?""", re.M)


def head_revision() -> str | None:
    """The newest migration's id, read from the files (Alembic takes 20 MB and 0.3 s to import)."""
    revisions, parents = set(), set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        for down, value in _REVISION.findall(script.read_text()):
            (parents if down else revisions).add(value)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def is_current(url: str) -> bool:
    """Whether the database is at the newest migration already (False when unsure)."""
    head = head_revision()
    try:
        with get_engine(url).connect() as connection:
            versions = [row[0] for row in connection.exec_driver_sql("SELECT version_num FROM alembic_version")]
    except Exception:  # no such table yet, or no database: let Alembic see to it
        return False
    return head is not None and versions == [head]


def upgrade(url: str) -> None:
    """Apply every migration (idempotent; Alembic is only imported when one is missing)."""
    if is_current(url):
        return
    from alembic import command
    engine = get_engine(url)
    with engine.begin() as connection:
        cfg = alembic_config(url)
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
