"""API keys: created with 256 random bits, shown once, kept only as their SHA-256 (a key that
random needs no slow hash: nothing can be guessed from it), revoked by setting `revoked_at`.
A key belongs to one account and finds only that account. SQL only; the caller commits.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from smtp_logger.store.accounts import NotFound
from smtp_logger.store.apimodels import ApiKey

PREFIX = "slk_"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def create(session: Session, account_id: int, name: str) -> tuple[ApiKey, str]:
    """The new key's row and the key itself (never stored)."""
    key = PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(account_id=account_id, name=name, prefix=key[:12], key_hash=_hash(key))
    session.add(row)
    session.flush()
    return row, key


def of_account(session: Session, account_id: int) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).where(ApiKey.account_id == account_id).order_by(ApiKey.id)))


def revoke(session: Session, account_id: int, key_id: int) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None or row.account_id != account_id:
        raise NotFound(f"no API key {key_id}")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(timezone.utc)
    session.flush()
    return row


def account_for(session: Session, key: str) -> int | None:
    """The account of a live key, or None (unknown, malformed or revoked)."""
    if not key.startswith(PREFIX) or len(key) > 200:
        return None
    row = session.scalars(select(ApiKey).where(ApiKey.key_hash == _hash(key))).first()
    return row.account_id if row is not None and row.revoked_at is None else None


def key_dict(row: ApiKey) -> dict:
    return {"id": row.id, "name": row.name, "prefix": row.prefix, "account_id": row.account_id,
            "created_at": row.created_at.isoformat(),
            "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None}
