"""From durably spooled deliveries to decisions in the database, in named steps: the sender
check and the raw copy (run.senderauth, then into the blob store: run.rawcopies), parse and build candidates and attachment files
(run.build, before any write transaction), deliver to each logging address (run.deliver, one
transaction for a batch), then after the commit retry what that unblocks (run.retroactive).
A failed batch is redone one delivery at a time. Only a fully committed delivery leaves the spool.
"""

from __future__ import annotations

import structlog
from sqlalchemy.orm import Session, sessionmaker

from smtp_logger.base.faults import crash_point
from smtp_logger.intake.spool import Spool, SpoolEntry
from smtp_logger.run.build import Builder, Delivery, prepare
from smtp_logger.run.deliver import Delivered, Deliverer, with_retries
from smtp_logger.run.rawcopies import RawCopies
from smtp_logger.run.retroactive import Retroactive
from smtp_logger.run.senderauth import SenderAuth
from smtp_logger.store.blobs import AttachmentFiles
from smtp_logger.store.blobstore import BlobStore, open_store
from smtp_logger.store.rows import batched

log = structlog.get_logger("smtp_logger.run.pipeline")


class Pipeline:
    def __init__(self, settings, sessions: sessionmaker[Session], spool: Spool, blobs: BlobStore | None = None):
        self.settings = settings
        self.sessions = sessions
        self.spool = spool
        self.blobs = blobs or open_store(settings, sessions)  # raw copies and attachment files
        self.raws = RawCopies(spool, self.blobs)
        self.builder = Builder(settings, AttachmentFiles(self.blobs))
        self.deliverer = Deliverer(settings, self.builder)
        self.retroactive = Retroactive(sessions, self.raws, self.builder, self.deliverer)
        self.auth = SenderAuth(settings)  # the workers ask it whether a delivery waits for DNS

    def process_batch(self, entries: list[SpoolEntry]) -> list[tuple[SpoolEntry, Exception]]:
        """Process several spooled deliveries in one transaction (one commit, one look for held
        messages they unblock). Any failure rolls the batch back and processes its deliveries
        one by one, so a conflict or a bad message affects only itself. Returns the deliveries
        that failed even alone (they stay in the spool)."""
        if len(entries) == 1:
            return self._process_each(entries)
        entries = self.auth.keep_raw(self.spool, entries)
        deliveries = []
        try:
            self.raws.keep(entries)
            deliveries.extend(prepare(self.raws, entry, self.auth.verdict(entry)) for entry in entries)
            self.build(deliveries)
            crash_point("blobs-written", self.spool.root)
            delivered = self._write_batch(deliveries)
        except Exception as exc:
            log.info("batch_retried_one_by_one", deliveries=len(entries), error=exc.__class__.__name__)
            for delivery in deliveries:
                delivery.message.remove_work_files()
            return self._process_each(entries)
        self._finish(deliveries, delivered)
        return []

    def process(self, entry: SpoolEntry) -> None:
        """Process one spooled delivery completely (a transaction per logging address, retried
        on conflicts), then remove it from the spool."""
        [entry] = self.auth.keep_raw(self.spool, [entry])
        self.raws.keep([entry])
        delivery = prepare(self.raws, entry, self.auth.verdict(entry))
        try:
            self.build([delivery])
            crash_point("blobs-written", self.spool.root)
            delivered = [with_retries(self.sessions, lambda s, first: self.deliverer.deliver(s, first, delivery, rcpt))
                         for rcpt in delivery.recipients]
        except Exception:
            delivery.message.remove_work_files()
            raise
        self._finish([delivery], [each for each in delivered if each is not None])

    def build(self, deliveries: list[Delivery]) -> None:
        """Before the write transaction: every candidate (on SQLite that transaction holds the
        database's only write lock, which the other workers wait for), then the attachment
        files of those that may be logged, with no transaction open."""
        with self.sessions() as session:
            self.builder.build_deliveries(session, deliveries)
        self.builder.save_attachments([built for delivery in deliveries for built in delivery.built.values()])

    def _write_batch(self, deliveries: list[Delivery]) -> list[Delivered]:
        delivered = []
        with self.sessions() as session, batched(session):  # the batch's rows written at commit
            self.deliverer.prefetch(session, deliveries)
            for delivery in deliveries:
                for rcpt in delivery.recipients:
                    if (each := self.deliverer.deliver(session, True, delivery, rcpt)) is not None:
                        delivered.append(each)
            session.commit()
        return delivered

    def _process_each(self, entries: list[SpoolEntry]) -> list[tuple[SpoolEntry, Exception]]:
        failed = []
        for entry in entries:
            try:
                self.process(entry)
            except Exception as exc:
                failed.append((entry, exc))
        return failed

    def _finish(self, deliveries: list[Delivery], delivered: list[Delivered]) -> None:
        """After the commit: work files go, held messages this unblocks are retried, messages
        just held check whether what they wait for arrived meanwhile, the spool forgets."""
        for delivery in deliveries:
            delivery.message.remove_work_files()
        self.retroactive.after_commit([each.unblocked for each in delivered if each.unblocked],
                                      [each.received_id for each in delivered if each.held])
        self.auth.forget([delivery.entry for delivery in deliveries])
        self.raws.decided([delivery.entry for delivery in deliveries])
        for delivery in deliveries:
            self.spool.done(delivery.entry)

    def contacts_changed(self, account_id: int, addresses: set[str], names: set[str]) -> int:
        """Called after contacts are created, given an address, or merged: logs the held mail
        that this unblocks (run.retroactive). Returns how many were logged."""
        return self.retroactive.contacts_changed(account_id, addresses, names)

    def retry(self, received_id: int) -> bool:
        """Decide one held message again now (the API's release); logs what that unblocks too."""
        was_logged, unblocked = self.retroactive.retry_one(received_id)
        if unblocked:
            self.retroactive.retry_held(unblocked)
        return was_logged

    def release_held(self, received_ids: list[int]) -> int:
        """`smtp-logger held release`: decide these held messages again as the rules now would
        (run.retroactive). Returns how many were logged."""
        return self.retroactive.release(received_ids)
