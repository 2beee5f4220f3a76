"""Plain INSERTs for the per-message write path, as prepared Core statements on the session's
connection and transaction. The ORM's unit of work costs about 350 µs a row here against
100 µs for these (bench in the closing note of issue 5); the rows written here are never read
back as ORM objects in the same session, so nothing is lost by skipping it."""

from __future__ import annotations

from functools import cache

from sqlalchemy import Insert, Table
from sqlalchemy.orm import Session


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
