"""Plain INSERTs for the per-message write path, as prepared Core statements on the session's
connection and transaction. The ORM's unit of work costs about 350 µs a row here against
100 µs for these (bench in the closing note of issue 5); the rows written here are never read
back as ORM objects in the same session, so nothing is lost by skipping it.

Rows that nothing reads before the transaction ends (decisions, what a held message waits for,
an engagement's contacts and companies) can be deferred: they are written at commit, each
table's rows of a whole batch in one execution (one round trip on a database server).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from sqlalchemy import Insert, Table, event
from sqlalchemy.orm import Session

_DEFERRED = "deferred_writes"
_CACHED = "transaction_cache"


@cache
def _insert(table: Table) -> Insert:
    return table.insert()


@cache
def _insert_returning_id(table: Table) -> Insert:
    return table.insert().returning(table.c.id)


def insert_id(session: Session, model, **values) -> int:
    """Insert one row of `model`'s table (column defaults apply) and return its id."""
    return session.execute(_insert_returning_id(model.__table__), values).scalar_one()


def insert_all(session: Session, model, rows: list[dict]) -> None:
    """Insert rows of `model`'s table in one statement execution; every dict has the same keys."""
    if rows:
        session.execute(_insert(model.__table__), rows)


def defer(session: Session, write: Callable[[Session, list], None], item) -> None:
    """Hand `item` to `write(session, items)` when the transaction commits, together with every
    other item deferred to the same function. Writes run in the order first deferred."""
    session.info.setdefault(_DEFERRED, {}).setdefault(write, []).append(item)


def defer_rows(session: Session, model, rows: list[dict]) -> None:
    """Insert these rows of `model`'s table at commit (every dict with the same keys)."""
    for row in rows:
        defer(session, _writer_for(model.__table__), row)


@cache
def _writer_for(table: Table) -> Callable[[Session, list], None]:
    def write(session: Session, rows: list[dict]) -> None:
        session.execute(_insert(table), rows)
    return write


@event.listens_for(Session, "before_commit")
def write_deferred(session: Session) -> None:
    """Run the deferred writes now (at commit, or before a query that must see them). A write
    that fails fails the commit; nothing stays pending for a later one."""
    pending = session.info.pop(_DEFERRED, None)
    for write, items in (pending or {}).items():
        write(session, items)


@event.listens_for(Session, "after_rollback")
def _forget_deferred(session: Session) -> None:
    session.info.pop(_DEFERRED, None)
    session.info.pop(_CACHED, None)


def cached(session: Session, name: str) -> dict:
    """A dict that lives as long as the session's transaction (forgotten at commit or rollback):
    what the transaction read once and wrote itself, for every delivery of a batch."""
    return session.info.setdefault(_CACHED, {}).setdefault(name, {})


@event.listens_for(Session, "after_commit")
def _forget_cached(session: Session) -> None:
    session.info.pop(_CACHED, None)
