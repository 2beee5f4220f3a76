"""Ids for rows written later: a batch's received messages, threads, engagements and contacts
are inserted at commit, a table's rows in one execution (store.rows), so their ids are taken
before the rows exist. PostgreSQL: from the table's own sequence, taken IDS_AT_ONCE at a time
and kept by this process (a sequence never hands a value out twice, whatever commits or rolls
back; what is left at exit is a gap, as after any rollback). SQLite: one past the largest id,
read once the transaction holds the database's write lock (taken here first, by a write that
changes nothing), so no other writer can take the same ids; read again after each write of
the waiting rows, since other inserts into the table may follow them in the transaction.
"""

from __future__ import annotations

import os
import threading
from functools import cache

from sqlalchemy import Table, func, select, text, update
from sqlalchemy.orm import Session

IDS_AT_ONCE = 64
_SQLITE_NEXT = "sqlite_next_ids"
_taken: dict[tuple[int, str, str], list[int]] = {}  # (pid, database, table) -> ids taken, unused
_sequences: dict[tuple[str, str], str] = {}
_lock = threading.Lock()
IGNORES_WAITING = "ignores_waiting_rows"  # an execution option: the statement needs no waiting row
# none of these needs the rows waiting to be written first (store.rows)
_NEXTVALS = text("SELECT nextval(CAST(:sequence AS regclass)) FROM generate_series(1, :n)") \
    .execution_options(**{IGNORES_WAITING: True})
_SEQUENCE = text("SELECT pg_get_serial_sequence(:t, 'id')").execution_options(**{IGNORES_WAITING: True})


def reserve(session: Session, table: Table) -> int:
    """An id for a row of `table` that this transaction will insert."""
    if session.get_bind().dialect.name == "postgresql":
        return _from_sequence(session, table)
    return _next_in_transaction(session, table)


def forget_next(session: Session) -> None:
    """After the waiting rows were written (SQLite): the next id is read again."""
    session.info.pop(_SQLITE_NEXT, None)


def _from_sequence(session: Session, table: Table) -> int:
    database = session.get_bind().url.render_as_string(hide_password=True)
    with _lock:  # workers in threads (worker_processes = 0) share the pool
        pool = _taken.setdefault((os.getpid(), database, table.name), [])
        if pool:
            return pool.pop()
    if (database, table.name) not in _sequences:
        _sequences[database, table.name] = session.scalar(_SEQUENCE, {"t": table.name})
    sequence = _sequences[database, table.name]
    taken = list(session.scalars(_NEXTVALS, {"sequence": sequence, "n": IDS_AT_ONCE}))
    with _lock:
        pool.extend(reversed(taken[1:]))
    return taken[0]


def _next_in_transaction(session: Session, table: Table) -> int:
    if table.name not in session.info.get(_SQLITE_NEXT, {}):
        # no row of this table waits (they would have a next id): neither needs them written
        lock, largest = _statements(table)
        session.execute(lock)
        first = (session.scalar(largest) or 0) + 1
        session.info.setdefault(_SQLITE_NEXT, {})[table.name] = first
    next_ids = session.info[_SQLITE_NEXT]
    row_id = next_ids[table.name]
    next_ids[table.name] = row_id + 1
    return row_id


@cache
def _statements(table: Table) -> tuple:
    """SQLite: a write that changes nothing (it takes the database's write lock), and the
    largest id. Neither needs the rows waiting to be written first (store.rows)."""
    lock = update(table).where(text("0")).values(id=table.c.id)
    return (lock.execution_options(**{IGNORES_WAITING: True}),
            select(func.max(table.c.id)).execution_options(**{IGNORES_WAITING: True}))
