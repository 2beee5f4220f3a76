"""What references a blob, and deletion that respects it. A blob is referenced by an attachment
row that says it is stored, and by a received message (its raw copy) until that message is
expired or purged. Merges move engagements and delete none: they free no blob.

* The decision's transaction `claim`s every blob it references (database back-end): a share
  lock on each complete blob row, taken after the transaction's first write, so it either sees
  the blob (and a deletion waits for this transaction, then sees its reference) or does not
  (BlobMissing: the delivery is processed again, writing the blob again).
* `release` is called in the transaction that removes references (never-log purge, expiry):
  on the database back-end it locks the blob rows (FOR UPDATE), looks for references left, and
  deletes the unreferenced blobs in that same transaction. Local files are removed after the
  commit, and only when untouched for blob_grace_seconds (a `put` touches: see local.py).
* `sweep` (`held purge`) removes unreferenced blobs untouched for blob_grace_seconds, and what
  a crashed writer left, through `release` again.
"""

from __future__ import annotations

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from smtp_logger.store.blobstore.base import BlobMissing, BlobStore, WithFallback
from smtp_logger.store.blobstore.database import DatabaseBlobStore, remove_blobs
from smtp_logger.store.blobstore.local import LocalBlobStore
from smtp_logger.store.models import Attachment, BlobRow, ReceivedMessage
from smtp_logger.store.rows import defer

# Received messages whose raw copy is no blob reference: expired or purged ones, and quarantined
# ones (PROCESSING_FAILED: the delivery itself waits in spool/failed; a retry keeps it again).
GONE = ("expired", "purged", "failed")
_PENDING = "blob_unlinks_after_commit"


def _parts(store: BlobStore) -> list[BlobStore]:
    return [store.primary, store.fallback] if isinstance(store, WithFallback) else [store]


def database_of(store: BlobStore) -> DatabaseBlobStore | None:
    """The database back-end when it is the one written to."""
    primary = _parts(store)[0]
    return primary if isinstance(primary, DatabaseBlobStore) else None


def local_of(store: BlobStore) -> LocalBlobStore | None:
    return next((part for part in _parts(store) if isinstance(part, LocalBlobStore)), None)


def referenced(session: Session, shas: list[str]) -> set[str]:
    """Which of these keys something still references."""
    found: set[str] = set()
    for i in range(0, len(shas), 500):
        batch = shas[i:i + 500]
        found |= set(session.scalars(select(Attachment.sha256).where(
            Attachment.sha256.in_(batch), Attachment.stored.is_(True))))
        found |= set(session.scalars(select(ReceivedMessage.raw_sha256).where(
            ReceivedMessage.raw_sha256.in_(batch), ReceivedMessage.status.not_in(GONE))))
    return found


def all_references(session: Session) -> list[dict]:
    """Every reference: {"sha256", "kind" (raw | attachment), "id"} (`blobs check`)."""
    raw = session.execute(select(ReceivedMessage.raw_sha256, ReceivedMessage.id).where(
        ReceivedMessage.status.not_in(GONE)).order_by(ReceivedMessage.id))
    files = session.execute(select(Attachment.sha256, Attachment.id).where(
        Attachment.stored.is_(True), Attachment.sha256.is_not(None)).order_by(Attachment.id))
    return ([{"sha256": sha, "kind": "raw", "id": rid} for sha, rid in raw]
            + [{"sha256": sha, "kind": "attachment", "id": aid} for sha, aid in files])


def claim(session: Session, store: BlobStore, shas: set[str]) -> None:
    """Inside the transaction about to reference these blobs: hold them (see the docstring).
    Taken at commit (after the transaction's writes), for all the blobs of a batch at once;
    BlobMissing then fails the commit."""
    if database_of(store) is None or not shas:
        return
    defer(session, _claim_now, frozenset(shas))


def _claim_now(session: Session, claims: list[frozenset[str]]) -> None:
    wanted = sorted(frozenset().union(*claims))
    held = set(session.scalars(select(BlobRow.sha256).where(
        BlobRow.sha256.in_(wanted), BlobRow.complete.is_(True)).with_for_update(read=True, key_share=True)))
    if missing := [sha for sha in wanted if sha not in held]:
        raise BlobMissing(f"{len(missing)} blob(s) to reference are not in the store")


def release(session: Session, store: BlobStore, shas: set[str], grace: float) -> int:
    """In the transaction that removed references to these blobs: delete those that nothing
    references any more. Returns how many were deleted (or, for local files, scheduled)."""
    wanted = sorted(s for s in shas if s)
    if not wanted:
        return 0
    database = database_of(store)
    if database is not None:
        rows = session.execute(select(BlobRow.id, BlobRow.sha256).where(BlobRow.sha256.in_(wanted))
                               .order_by(BlobRow.id).with_for_update()).all()
    in_use = referenced(session, wanted)
    unused = [sha for sha in wanted if sha not in in_use]
    deleted = 0
    if database is not None:
        ids = [blob_id for blob_id, sha in rows if sha not in in_use]
        remove_blobs(session, ids)
        deleted = len(ids)
    local = local_of(store)
    if local is not None and unused:
        _after_commit(session, lambda: [local.delete_if_untouched(sha, grace) for sha in unused])
        deleted = max(deleted, len(unused)) if database is None else deleted
    return deleted


def _after_commit(session: Session, action) -> None:
    pending = session.info.setdefault(_PENDING, [])
    pending.append(action)
    if len(pending) > 1:
        return

    def run(done: Session) -> None:
        for each in done.info.pop(_PENDING, []):
            each()

    def cancel(undone: Session) -> None:
        undone.info.pop(_PENDING, None)

    event.listen(session, "after_commit", run, once=True)
    event.listen(session, "after_rollback", cancel, once=True)


def sweep(sessions, store: BlobStore, grace: float) -> int:
    """Remove unreferenced blobs untouched for `grace` seconds, and half-written leftovers."""
    removed = 0
    for part in _parts(store):
        removed += part.remove_leftovers(grace)
        candidates = part.untouched_keys(grace)
        for i in range(0, len(candidates), 500):
            with sessions() as session:
                if isinstance(part, DatabaseBlobStore):
                    removed += release(session, part, set(candidates[i:i + 500]), grace)
                else:
                    unused = set(candidates[i:i + 500]) - referenced(session, candidates[i:i + 500])
                    removed += sum(part.delete_if_untouched(sha, grace) for sha in unused)
                session.commit()
    return removed
