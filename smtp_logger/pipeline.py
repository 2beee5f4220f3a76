"""From a durably spooled delivery to decisions in the database: parse once, then for each
logging address build the candidate, load the facts, decide, write, record — one transaction
per address, idempotent per (spool id, address), retried when a racing receiver wins a unique
constraint. Afterwards, held messages that the change unblocks are retried (retroactive
logging). Only a fully committed delivery leaves the spool.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import structlog
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from . import candidate as candidates
from . import lifecycle
from .attachments import BlobStore
from .auth import check_sender
from .models import Account, HeldWait, ReceivedMessage
from .parse import ParsedMessage, message_id_of, parse_file
from .rules import Decision, decide
from .spool import Spool, SpoolEntry
from .store import accounts, directory, engagements, facts
from .store import held as held_store

log = structlog.get_logger("smtp_logger.pipeline")
RETRIES = 5


@dataclass
class _Delivery:
    """A spooled delivery made ready for deciding: kept raw, parsed once for all recipients."""

    entry: SpoolEntry
    raw: Path
    sha: str
    size: int
    parsed: ParsedMessage | None
    received_at: datetime
    recipients: list[str]


@dataclass
class Unblocked:
    """What a logged message changed, that may unblock held ones."""

    account_id: int
    addresses: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    message_ids: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.addresses or self.names or self.message_ids)


def _merged(changes: list[Unblocked]) -> list[Unblocked]:
    """One change per account: a batch looks for unblocked held messages once."""
    by_account: dict[int, Unblocked] = {}
    for change in changes:
        merged = by_account.setdefault(change.account_id, Unblocked(change.account_id))
        merged.addresses |= change.addresses
        merged.names |= change.names
        merged.message_ids |= change.message_ids
    return list(by_account.values())


def _safe_parse(path: Path, work_dir: Path, prefix: str) -> ParsedMessage | None:
    try:
        return parse_file(path, work_dir, prefix)
    except Exception as exc:  # recorded as UNPARSEABLE, the raw copy kept
        log.warning("parse_failed", error=exc.__class__.__name__)
        return None


def _remove_work_files(parsed: ParsedMessage | None) -> None:
    for path in parsed.work_files if parsed else ():
        path.unlink(missing_ok=True)


class Pipeline:
    def __init__(self, settings, sessions: sessionmaker[Session], spool: Spool):
        self.settings = settings
        self.sessions = sessions
        self.spool = spool
        self.blobs = BlobStore(spool.root / "attachments")
        self._addresses: dict[str, accounts.LiveAddress] = {}

    # -- deliveries ----------------------------------------------------------------------

    def process_batch(self, entries: list[SpoolEntry]) -> list[tuple[SpoolEntry, Exception]]:
        """Process several spooled deliveries in one transaction (one commit, one look for held
        messages they unblock). Any failure rolls the batch back and processes its deliveries
        one by one, so a conflict or a bad message affects only itself. Returns the deliveries
        that failed even alone (they stay in the spool)."""
        if len(entries) == 1:
            return self._process_each(entries)
        prepared = [self._prepare(entry) for entry in entries]
        unblocked: list[Unblocked] = []
        held: list[int] = []
        try:
            with self.sessions() as session:
                for delivery in prepared:
                    for rcpt in delivery.recipients:
                        change = self._deliver(session, True, delivery, rcpt, held)
                        if change:
                            unblocked.append(change)
                session.commit()
        except Exception as exc:
            log.info("batch_retried_one_by_one", deliveries=len(entries), error=exc.__class__.__name__)
            for delivery in prepared:
                _remove_work_files(delivery.parsed)
            return self._process_each(entries)
        self._finish(prepared, unblocked, held)
        return []

    def _process_each(self, entries: list[SpoolEntry]) -> list[tuple[SpoolEntry, Exception]]:
        failed = []
        for entry in entries:
            try:
                self.process(entry)
            except Exception as exc:
                failed.append((entry, exc))
        return failed

    def process(self, entry: SpoolEntry) -> None:
        """Process one spooled delivery completely (a transaction per logging address, retried
        on conflicts), then remove it from the spool."""
        delivery = self._prepare(entry)
        unblocked: list[Unblocked] = []
        held: list[int] = []
        try:
            for rcpt in delivery.recipients:
                held_here: list[int] = []
                change = self._with_retries(lambda s, first: self._deliver(s, first, delivery, rcpt, held_here))
                held.extend(held_here)
                if change:
                    unblocked.append(change)
        except Exception:
            _remove_work_files(delivery.parsed)
            raise
        self._finish([delivery], unblocked, held)

    def _prepare(self, entry: SpoolEntry) -> "_Delivery":
        sha, size = self.spool.keep_raw(entry)
        raw = self.spool.raw_path(sha)
        return _Delivery(entry, raw, sha, size, _safe_parse(raw, self.spool.work, entry.spool_id),
                         datetime.fromtimestamp(entry.received_at, timezone.utc),
                         list(dict.fromkeys(a.lower() for a in entry.rcpt_tos)))

    def _finish(self, deliveries: list["_Delivery"], unblocked: list[Unblocked], held: list[int]) -> None:
        """After the commit: work files go, held messages this unblocks are retried, messages
        just held check whether what they wait for arrived meanwhile, the spool forgets."""
        for delivery in deliveries:
            _remove_work_files(delivery.parsed)
        for change in _merged(unblocked):
            self.retry_held(change)
        for held_id in held:
            self._recheck_held(held_id)
        for delivery in deliveries:
            self.spool.done(delivery.entry)

    def _recheck_held(self, received_id: int) -> None:
        """A message just held may wait for something another worker committed meanwhile."""
        with self.sessions() as session:
            if not held_store.waits_satisfied(session, received_id):
                return
        was_logged, change = self._with_retries(lambda s, _first: self._retry_one(s, received_id))
        if change:
            self.retry_held(change)

    def _with_retries(self, work):
        """Run work(session, first_attempt) in a transaction; a unique-constraint conflict
        (a racing receiver, or a delivery recovered after a crash) is retried."""
        for attempt in range(RETRIES):
            with self.sessions() as session:
                try:
                    result = work(session, attempt == 0)
                    session.commit()
                    return result
                except (IntegrityError, OperationalError) as exc:
                    session.rollback()
                    log.info("transaction_retry", attempt=attempt + 1, error=exc.__class__.__name__,
                             detail=str(exc.orig)[:200])
        raise RuntimeError("gave up after repeated conflicts")

    def _logging_address(self, session: Session, rcpt: str):
        """Which user and way a logging address belongs to (never changes: cached)."""
        if rcpt not in self._addresses:
            found = accounts.any_address(session, rcpt)
            if found is None:
                return None
            self._addresses[rcpt] = found
        return self._addresses[rcpt]

    def _deliver(self, session: Session, first_attempt: bool, delivery: "_Delivery", rcpt: str,
                 held: list[int]) -> Unblocked | None:
        entry, parsed, raw = delivery.entry, delivery.parsed, delivery.raw
        if not first_attempt:
            held.clear()  # this attempt's own outcome only
        address = self._logging_address(session, rcpt)
        if address is None:
            log.warning("unknown_logging_address_in_spool", spool_id=entry.spool_id)
            return None
        # The unique (spool id, address) constraint catches a delivery done before a crash;
        # only a retry pays for looking.
        if not first_attempt and session.scalars(select(ReceivedMessage.id).where(
                ReceivedMessage.spool_id == entry.spool_id, ReceivedMessage.logging_address == rcpt)).first():
            return None  # already processed before a crash
        message = ReceivedMessage(
            account_id=address.account_id, user_id=address.user_id, spool_id=entry.spool_id,
            logging_address=rcpt, way=address.kind, mail_from=entry.mail_from[:998],
            message_id=(parsed.message_id if parsed else message_id_of(raw)), raw_sha256=delivery.sha,
            size=delivery.size, subject=(parsed.subject if parsed else "")[:2000],
            received_at=delivery.received_at, status="received",
            reason="")
        session.add(message)
        session.flush()
        change = self._decide_and_write(session, message, parsed, raw)
        if message.status == "held":
            held.append(message.id)
        return change

    def _decide_and_write(self, session: Session, message: ReceivedMessage, parsed, raw: Path) -> Unblocked | None:
        account = session.get(Account, message.account_id)
        user_id = message.user_id
        if parsed is None:
            lifecycle.record(session, message, Decision("UNPARSEABLE", "the parser failed"))
            self._log_decision(message, "UNPARSEABLE")
            return None
        user_addresses = directory.get(session, account).addresses_of(user_id)
        candidate, content = candidates.build(message.way, parsed, user_addresses, message.received_at)
        authenticated = check_sender(self.settings, parsed, raw) if candidate.way != "auto_copy" else None
        crm = facts.load(session, account, user_id, candidate, self.settings, authenticated)
        decision = decide(candidate, crm)
        change = None
        engagement_id = None
        if decision.logged:
            written = facts.write(session, account, candidate, content, decision.plan, message.id,
                                  self.blobs, self.settings.max_attachment_size)
            engagement_id = written.engagement_id
            change = Unblocked(account.id, set(written.new_contact_addresses),
                               {n.casefold() for n in written.new_contact_names}, set(written.thread_keys))
        elif decision.reason == "NEVER_LOG" and candidate.thread_keys and crm.thread is None:
            thread = engagements.new_thread(session, account.id, user_id, None, candidate.subject_key, True)
            engagements.remember_keys(session, account.id, thread.id, candidate.thread_keys)
        lifecycle.record(session, message, decision, engagement_id)
        self._log_decision(message, decision.reason, candidate.way)
        return change

    def _log_decision(self, message: ReceivedMessage, reason: str, way: str | None = None) -> None:
        log.info("decision", spool_id=message.spool_id, received_message=message.id,
                 account=message.account_id, way=way or message.way, reason=reason)

    # -- retroactive logging -------------------------------------------------------------

    def retry_held(self, change: Unblocked) -> int:
        """Retry held messages waiting on what changed; follow the chain. Returns how many logged."""
        queue, logged, seen = deque([change]), 0, set()
        while queue:
            current = queue.popleft()
            for held_id in self._waiting(current):
                if held_id in seen:
                    continue
                seen.add(held_id)
                was_logged, change = self._with_retries(lambda s, _first: self._retry_one(s, held_id))
                logged += was_logged
                if change:  # a logged message may unblock others in turn
                    queue.append(change)
        return logged

    def _waiting(self, change: Unblocked) -> list[int]:
        """Held messages of the account that wait for any of these addresses, names or ids."""
        wanted = [(kind, values) for kind, values in (("address", change.addresses),
                  ("name", change.names), ("message_id", change.message_ids)) if values]
        if not wanted:
            return []
        condition = or_(*(and_(HeldWait.kind == kind, HeldWait.value.in_(values)) for kind, values in wanted))
        with self.sessions() as session:
            return sorted(set(session.scalars(select(HeldWait.received_message_id).where(
                HeldWait.account_id == change.account_id, condition))))

    def _retry_one(self, session: Session, received_id: int) -> tuple[bool, Unblocked | None]:
        """Decide a held message again: (was it logged now, what that unblocks)."""
        message = session.get(ReceivedMessage, received_id)
        if message is None or message.status != "held":
            return False, None
        raw = self.spool.raw_path(message.raw_sha256)
        prefix = f"held{message.id}"
        parsed = _safe_parse(raw, self.spool.work, prefix)
        previous = message.reason
        try:
            change = self._decide_and_write(session, message, parsed, raw)
        finally:
            _remove_work_files(parsed)
        if message.reason != previous or change:
            log.info("held_retried", received_message=message.id, before=previous, after=message.reason)
        return message.status == "logged", change

    def contacts_changed(self, account_id: int, addresses: set[str], names: set[str]) -> int:
        """Called after contacts are created, given an address, or merged."""
        return self.retry_held(Unblocked(account_id, set(addresses), {n.casefold() for n in names if n}))
