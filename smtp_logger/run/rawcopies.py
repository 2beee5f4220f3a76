"""Raw messages in the blob store. The spool keeps each message's raw copy in data_dir/raw/
(a hard link, before anything else: run.senderauth); that folder is the `local` back-end's
raw store. With the `database` back-end the copy is also streamed into the database before
the decision's transaction (so any receiver can decide the message again later), and the local
link is only a staging copy, removed once the delivery is decided. A message to parse again
(retroactive logging) is read from this host's raw/ when it is there, else copied from the
blob store into a work file that goes with the message's other work files.
"""

from __future__ import annotations

from pathlib import Path

from smtp_logger.base.spoolfile import open_message
from smtp_logger.intake.spool import Spool, SpoolEntry
from smtp_logger.store.blobstore import CHUNK, BlobStore
from smtp_logger.store.blobstore.refs import database_of


class RawCopies:
    def __init__(self, spool: Spool, store: BlobStore):
        self.spool, self.store = spool, store

    @property
    def staged(self) -> bool:
        """raw/ is only a staging copy (the database back-end is written to)."""
        return database_of(self.store) is not None

    def keep(self, entries: list[SpoolEntry]) -> None:
        """Before the decision's transaction: every kept raw copy into the blob store (the
        small ones of a batch together, in one transaction of the database back-end)."""
        if not self.staged:
            return
        small: dict[str, bytes] = {}
        for entry in entries:
            path = self.spool.raw_path(entry.sha256)
            try:
                with open_message(path) as stream:
                    start = stream.tell()
                    if len(data := stream.read(CHUNK)) < CHUNK:
                        small[entry.sha256] = data
                        continue
                    stream.seek(start)
                    self.store.put(stream, entry.sha256)
            except FileNotFoundError:  # staging copy removed by a twin delivery: in the store already
                if not self.store.exists(entry.sha256):
                    raise
        self.store.put_small(small)

    def decided(self, entries: list[SpoolEntry]) -> None:
        """After the commit: the staging copies go (the blob store has the message)."""
        if self.staged:
            for entry in entries:
                self.spool.raw_path(entry.sha256).unlink(missing_ok=True)

    def local_path(self, sha256: str, prefix: str) -> tuple[Path, Path | None]:
        """A local file holding the message, and the work file to remove afterwards (None when
        it is this host's own raw copy). FileNotFoundError if no back-end has it."""
        path = self.spool.raw_path(sha256)
        if path.exists():
            return path, None
        scratch = self.spool.work / f"{prefix}.raw"
        self.store.copy_to(sha256, scratch)
        return scratch, scratch
