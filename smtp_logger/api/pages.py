"""Cursor pagination: `?limit=&cursor=`, and `next_cursor` in the body (null on the last page).
A cursor is an opaque token for a position (a key the store pages by: an id, or a time and an
id); one this API did not hand out answers 400 `invalid-cursor`. Times are ISO 8601 UTC.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from typing import Annotated

from fastapi import Query

from smtp_logger.api.problems import ApiProblem

Limit = Annotated[int, Query(ge=1, le=500, description="Items per page")]
CursorParam = Annotated[str | None, Query(max_length=200, description="`next_cursor` of the previous page")]
MAX_ID = 2_147_483_647


def utc(value: str | datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, from a datetime or an ISO string with any offset."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def encode(kind: str, *key) -> str:
    raw = json.dumps([kind, *[k.isoformat() if isinstance(k, datetime) else k for k in key]])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(kind: str, cursor: str | None, times: tuple[int, ...] = ()) -> tuple | None:
    """The key a cursor of this kind stands for; `times` names the positions that are datetimes."""
    if cursor is None:
        return None
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or raw[0] != kind:
            raise ValueError(kind)
        key = list(raw[1:])
        for i in times:
            key[i] = datetime.fromisoformat(key[i]).astimezone(timezone.utc)
        if not all(isinstance(k, (int, datetime)) and not isinstance(k, bool) for k in key):
            raise ValueError(kind)
        if any(isinstance(k, int) and not 0 <= k <= MAX_ID for k in key):
            raise ValueError(kind)
        return tuple(key)
    except (ValueError, TypeError, IndexError, AttributeError, UnicodeDecodeError) as exc:
        raise ApiProblem("invalid-cursor", "not a cursor this endpoint gave out") from exc


def page(items: list, limit: int, key) -> tuple[list, str | None]:
    """`items` fetched with limit + 1: the page, and the cursor after it when there is more."""
    if len(items) <= limit:
        return items, None
    items = items[:limit]
    return items, key(items[-1])
