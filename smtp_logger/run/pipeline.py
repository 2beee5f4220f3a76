"""From a durably spooled delivery to decisions in the database: parse once, then for each
logging address build the candidate, load the facts, decide, write, record — one transaction
per address, idempotent per (spool id, address), retried when a racing receiver wins a unique
constraint. Afterwards, held messages that the change unblocks are retried (retroactive
logging). Only a fully committed delivery leaves the spool.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import structlog
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from smtp_logger.decide import candidate as candidates
from smtp_logger.decide.rules import Candidate, Decision, decide
from smtp_logger.intake.spool import Spool, SpoolEntry
from smtp_logger.run.senderauth import SenderAuth, columns, stored
from smtp_logger.store import accounts, directory, engagements, facts, flood, lifecycle
from smtp_logger.store import held as held_store
from smtp_logger.store.blobs import BlobStore
from smtp_logger.store.models import Account, HeldWait, ReceivedMessage
from smtp_logger.understand.parse import ParsedMessage, message_id_of, parse_file
from smtp_logger.verify.verdict import NOT_CHECKED, AuthVerdict

log = structlog.get_logger("smtp_logger.run.pipeline")
RETRIES = 5


@dataclass
class _Delivery:
    """A spooled delivery made ready for deciding: kept raw, parsed once for all recipients."""

    entry: SpoolEntry
    raw: Path
    parsed: ParsedMessage | None
    received_at: datetime
    recipients: list[str]
    auth: AuthVerdict = NOT_CHECKED
    built: dict[str, "_Built"] = field(default_factory=dict)  # by logging address


@dataclass
class _Built:
    """A candidate and its content, built outside the write transaction (CPU work: reply text,
    classification, the sender check), with the directory version it was built against."""

    directory_version: int
    candidate: Candidate
    content: candidates.Content
    authenticated: bool | None


@dataclass
class _Outcome:
    """The rules' decision on one message, and the candidate and content to write if logged."""

    decision: Decision
    way: str
    candidate: Candidate | None = None
    content: candidates.Content | None = None
    new_thread: bool = True  # no thread known for it yet


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


def _account(session: Session, account_id: int) -> Account:
    """The account row, loaded once per session: the identity map holds objects only weakly,
    so without this every delivery of a batch would load it again."""
    loaded = session.info.setdefault("accounts", {})
    if account_id not in loaded:
        loaded[account_id] = session.get(Account, account_id)
    return loaded[account_id]


def _safe_parse(path: Path, work_dir: Path, prefix: str) -> ParsedMessage | None:
    try:
        return parse_file(path, work_dir, prefix)
    except Exception as exc:  # recorded as UNPARSEABLE, the raw copy kept
        log.warning("parse_failed", error=exc.__class__.__name__)
        return None


def _outsiders_take_part(candidate: Candidate, internal: frozenset[str]) -> bool:
    """A hint, not a rule: someone outside the company (or known by name only) is on the email,
    so it may well be logged and need its reply text."""
    return any(box is not None and (not box.address or box.address not in internal)
               for box in (candidate.from_, *candidate.to, *candidate.cc))


def _from_address(parsed: ParsedMessage | None) -> str | None:
    return parsed.from_.address[:320] if parsed and parsed.from_ and parsed.from_.address else None


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
        self.auth = SenderAuth(settings)

    # -- deliveries ----------------------------------------------------------------------

    def process_batch(self, entries: list[SpoolEntry]) -> list[tuple[SpoolEntry, Exception]]:
        """Process several spooled deliveries in one transaction (one commit, one look for held
        messages they unblock). Any failure rolls the batch back and processes its deliveries
        one by one, so a conflict or a bad message affects only itself. Returns the deliveries
        that failed even alone (they stay in the spool)."""
        if len(entries) == 1:
            return self._process_each(entries)
        entries = self.auth.keep_raw(self.spool, entries)
        prepared = [self._prepare(entry) for entry in entries]
        unblocked: list[Unblocked] = []
        held: list[int] = []
        try:
            self._build_candidates(prepared)
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

    def _build_candidates(self, deliveries: list["_Delivery"]) -> None:
        """Build every candidate of a batch before its write transaction: on SQLite that
        transaction holds the database's only write lock, which the other workers wait for."""
        with self.sessions() as session:
            for delivery in deliveries:
                for rcpt in delivery.recipients if delivery.parsed is not None else ():
                    address = self._logging_address(session, rcpt)
                    if address is not None:
                        delivery.built[rcpt] = self._build(
                            session, _account(session, address.account_id), address.user_id,
                            address.kind, delivery.parsed, delivery.raw, delivery.received_at, delivery.auth)

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
        [entry] = self.auth.keep_raw(self.spool, [entry])
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
        """A delivery already kept raw, parsed."""
        raw = self.spool.raw_path(entry.sha256)
        return _Delivery(entry, raw, _safe_parse(raw, self.spool.work, entry.spool_id),
                         datetime.fromtimestamp(entry.received_at, timezone.utc),
                         list(dict.fromkeys(a.lower() for a in entry.rcpt_tos)), self.auth.verdict(entry))

    def _finish(self, deliveries: list["_Delivery"], unblocked: list[Unblocked], held: list[int]) -> None:
        """After the commit: work files go, held messages this unblocks are retried, messages
        just held check whether what they wait for arrived meanwhile, the spool forgets."""
        for delivery in deliveries:
            _remove_work_files(delivery.parsed)
        for change in _merged(unblocked):
            self.retry_held(change)
        for held_id in held:
            self._recheck_held(held_id)
        self.auth.forget([delivery.entry for delivery in deliveries])
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
        fields = dict(account_id=address.account_id, user_id=address.user_id, spool_id=entry.spool_id,
                      logging_address=rcpt, way=address.kind, mail_from=entry.mail_from[:998],
                      message_id=(parsed.message_id if parsed else message_id_of(raw)),
                      raw_sha256=entry.sha256, size=entry.size,
                      subject=(parsed.subject if parsed else "")[:2000], received_at=delivery.received_at,
                      from_address=_from_address(parsed), **columns(delivery.auth))
        account = _account(session, address.account_id)
        recent = flood.on_arrival(session, self.settings, rcpt, fields["from_address"], delivery.received_at)
        outcome = self._decide(session, account, address.user_id, address.kind, parsed, raw,
                               delivery.received_at, delivery.built.get(rcpt), delivery.auth, recent)
        received_id = lifecycle.receive(session, outcome.decision, **fields)
        engagement_id, change = self._write(session, account, address.user_id, outcome, received_id)
        lifecycle.decided(session, account.id, received_id, fields["message_id"], rcpt,
                          outcome.decision, engagement_id)
        self._log_decision(entry.spool_id, received_id, account.id, outcome)
        if outcome.decision.held:
            held.append(received_id)
        return change

    def _build(self, session: Session, account: Account, user_id: int, way: str,
               parsed: ParsedMessage, raw: Path, received_at: datetime, auth: AuthVerdict) -> _Built:
        known = directory.get(session, account)
        candidate, content = candidates.build(way, parsed, known.addresses_of(user_id), received_at)
        authenticated = auth.authenticated if candidate.way != "auto_copy" else None
        if _outsiders_take_part(candidate, known.internal):
            _ = content.reply_text  # worked out now, outside the write transaction (SQLite's write lock)
        return _Built(account.directory_version, candidate, content, authenticated)

    def _decide(self, session: Session, account: Account, user_id: int, way: str,
                parsed: ParsedMessage | None, raw: Path, received_at: datetime,
                built: _Built | None = None, auth: AuthVerdict = NOT_CHECKED,
                sender_recent: int = 0) -> "_Outcome":
        """The rules' decision on a parsed message, with what it needs written (pure but for
        reading what the CRM knows). A candidate built earlier is used while the account's
        directory is still the one it was built against."""
        if parsed is None:
            return _Outcome(Decision("UNPARSEABLE", "the parser failed"), way)
        if built is None or built.directory_version != account.directory_version:
            built = self._build(session, account, user_id, way, parsed, raw, received_at, auth)
        candidate = built.candidate
        crm = facts.load(session, account, user_id, candidate, self.settings, built.authenticated)
        if sender_recent:
            crm = replace(crm, flood_limit=self.settings.flood_limit, sender_recent=sender_recent)
        return _Outcome(decide(candidate, crm), candidate.way, candidate, built.content, crm.thread is None)

    def _write(self, session: Session, account: Account, user_id: int, outcome: "_Outcome",
               received_id: int) -> tuple[int | None, Unblocked | None]:
        """Write what a decision asks for: the engagement (and what it unblocks), or for a
        never-logged conversation a never-log thread so its later replies are known."""
        decision, candidate = outcome.decision, outcome.candidate
        if decision.logged:
            written = facts.write(session, account, candidate, outcome.content, decision.plan, received_id,
                                  self.blobs, self.settings.max_attachment_size)
            return written.engagement_id, Unblocked(
                account.id, set(written.new_contact_addresses),
                {n.casefold() for n in written.new_contact_names}, set(written.thread_keys))
        if decision.reason == "NEVER_LOG" and candidate.thread_keys and outcome.new_thread:
            thread_id = engagements.new_thread(session, account.id, user_id, None, candidate.subject_key, True)
            engagements.remember_keys(session, account.id, thread_id, candidate.thread_keys, new_thread=True)
        return None, None

    def _decide_and_write(self, session: Session, message: ReceivedMessage, parsed, raw: Path) -> Unblocked | None:
        """Decide a message received before (held) again, and record the new decision."""
        account = _account(session, message.account_id)
        outcome = self._decide(session, account, message.user_id, message.way, parsed, raw, message.received_at,
                               auth=stored(message))
        engagement_id, change = self._write(session, account, message.user_id, outcome, message.id)
        lifecycle.record(session, message, outcome.decision, engagement_id)
        self._log_decision(message.spool_id, message.id, account.id, outcome)
        return change

    def _log_decision(self, spool_id: str, received_id: int, account_id: int, outcome: "_Outcome") -> None:
        log.info("decision", spool_id=spool_id, received_message=received_id, account=account_id,
                 way=outcome.way, reason=outcome.decision.reason)

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

    def redecide(self, received_id: int) -> tuple[bool, Unblocked | None]:
        """Decide a held message again, as the rules now would (run/release.py)."""
        return self._with_retries(lambda s, _first: self._retry_one(s, received_id))

    def contacts_changed(self, account_id: int, addresses: set[str], names: set[str]) -> int:
        """Called after contacts are created, given an address, or merged."""
        return self.retry_held(Unblocked(account_id, set(addresses), {n.casefold() for n in names if n}))
