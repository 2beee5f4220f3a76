"""Plain INSERTs for the per-message write path, as prepared Core statements on the session's
connection and transaction. The ORM's unit of work costs about 350 µs a row here against
100 µs for these (bench in the closing note of issue 5); the rows written here are never read
back as ORM objects in the same session, so nothing is lost by skipping it.

Rows that nothing reads before the transaction ends (decisions, what a held message waits for,
an engagement's contacts and companies) can be deferred: they are written at commit, each
table's rows of a whole batch in one execution (one round trip on a database server). Inside
`batched` (the workers' batch transaction) the rows that need an id (received messages,
threads, engagements, contacts) are deferred too, with ids taken beforehand (store.ids).
Deferred rows are written in the order of the tables' foreign keys, before any statement of
the session that reads or references a table with rows waiting, and before the ORM flushes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache

from sqlalchemy import Insert, Table, event
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.sql.util import find_tables

from smtp_logger.store import ids

_DEFERRED = "deferred_writes"
_WAITING = "tables_with_rows_waiting"
_BATCHED = "batched_ids"
_CACHED = "transaction_cache"
# the tables whose rows get their ids beforehand inside `batched`
RESERVED_IDS = frozenset({"received_messages", "threads", "engagements", "contacts"})
_AFTER_TABLES = 1 << 20  # deferred functions run after the deferred rows, in the order deferred


@cache
def _insert(table: Table) -> Insert:
    return table.insert()


@cache
def _insert_returning_id(table: Table) -> Insert:
    return table.insert().returning(table.c.id)


@contextmanager
def batched(session: Session) -> Iterator[None]:
    """Rows inserted with `insert_id` meanwhile are written at commit, a table's in one go."""
    session.info[_BATCHED] = True
    try:
        yield
    finally:
        session.info.pop(_BATCHED, None)


def insert_id(session: Session, model, **values) -> int:
    """Insert one row of `model`'s table (column defaults apply) and return its id."""
    table = model.__table__
    if session.info.get(_BATCHED) and table.name in RESERVED_IDS:
        row_id = ids.reserve(session, table)
        _defer_row(session, table, {"id": row_id, **values})
        return row_id
    return session.execute(_insert_returning_id(table), values).scalar_one()


def insert_all(session: Session, model, rows: list[dict]) -> None:
    """Insert rows of `model`'s table in one statement execution; every dict has the same keys."""
    if rows:
        session.execute(_insert(model.__table__), rows)


def defer(session: Session, write: Callable[[Session, list], None], item) -> None:
    """Hand `item` to `write(session, items)` when the transaction commits, together with every
    other item deferred to the same function, after the deferred rows. Functions run in the
    order first deferred."""
    session.info.setdefault(_DEFERRED, {}).setdefault(write, []).append(item)


def defer_rows(session: Session, model, rows: list[dict]) -> None:
    """Insert these rows of `model`'s table at commit."""
    for row in rows:
        _defer_row(session, model.__table__, row)


def _defer_row(session: Session, table: Table, row: dict) -> None:
    defer(session, _writer_for(table, frozenset(row)), row)
    session.info.setdefault(_WAITING, set()).add(table.name)


@cache
def _writer_for(table: Table, columns: frozenset[str]) -> Callable[[Session, list], None]:
    """One writer per table and set of columns given (an executemany needs the same keys)."""
    def write(session: Session, rows: list[dict]) -> None:
        session.execute(_insert(table), rows)
    write.table = table
    return write


def _rank(write: Callable[[Session, list], None]) -> int:
    """Where a deferred write goes: rows in the order of the tables' foreign keys, then the
    deferred functions."""
    table = getattr(write, "table", None)
    if table is None:
        return _AFTER_TABLES
    return _table_order(table.metadata, len(table.metadata.tables))[table.name]


@cache
def _table_order(metadata, _tables_known: int) -> dict[str, int]:
    """Referenced tables first (computed again when more models have been imported)."""
    return {table.name: i for i, table in enumerate(metadata.sorted_tables)}


@event.listens_for(Session, "before_commit")
def write_deferred(session: Session) -> None:
    """Run the deferred writes now (at commit, or before a query that must see them). A write
    that fails fails the commit; nothing stays pending for a later one."""
    pending = session.info.pop(_DEFERRED, None)
    session.info.pop(_WAITING, None)
    ids.forget_next(session)
    for write, items in sorted((pending or {}).items(), key=lambda each: _rank(each[0])):
        write(session, items)


@event.listens_for(Session, "do_orm_execute")
def _write_deferred_first(state: ORMExecuteState) -> None:
    waiting = state.session.info.get(_WAITING)
    if waiting and not state.execution_options.get(ids.IGNORES_WAITING) and _touches(state.statement, waiting):
        write_deferred(state.session)


@event.listens_for(Session, "before_flush")
def _write_deferred_before_flush(session: Session, _context, _instances) -> None:
    if session.info.get(_WAITING):
        write_deferred(session)


def _touches(statement, waiting: set[str]) -> bool:
    """Whether `statement` reads or writes one of the `waiting` tables, or a table with a
    foreign key to one (its row may name a waiting row). A statement whose tables are not
    known (text) touches everything."""
    tables = find_tables(statement, include_aliases=True, include_joins=True, include_crud=True)
    if not tables:
        return True
    return any(not waiting.isdisjoint(_with_referenced(table)) for table in tables)


def _with_referenced(table) -> set[str]:
    """The table's name and the names of the tables its foreign keys refer to."""
    return {table.name, *(fk.column.table.name for fk in getattr(table, "foreign_keys", ()))}


@event.listens_for(Session, "after_rollback")
def _forget_deferred(session: Session) -> None:
    session.info.pop(_DEFERRED, None)
    session.info.pop(_WAITING, None)
    session.info.pop(_CACHED, None)
    ids.forget_next(session)


def cached(session: Session, name: str) -> dict:
    """A dict that lives as long as the session's transaction (forgotten at commit or rollback):
    what the transaction read once and wrote itself, for every delivery of a batch."""
    return session.info.setdefault(_CACHED, {}).setdefault(name, {})


@event.listens_for(Session, "after_commit")
def _forget_cached(session: Session) -> None:
    session.info.pop(_CACHED, None)  # the next ids went with write_deferred at before_commit
