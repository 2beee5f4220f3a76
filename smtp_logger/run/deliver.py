"""Delivery to one logging address, inside the caller's write transaction: count a flood, load
what the CRM knows, decide, write what the decision asks for (the engagement, or a never-log
thread) and record the decision through store.lifecycle. Idempotent per (spool id, logging
address); a unique-constraint conflict (a racing receiver) fails the transaction and
`with_retries` runs it again. Holds the blobs it references (store.blobstore.refs). Touches no file: candidates and attachment files come from run.build.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import structlog
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from smtp_logger.decide.rules import Decision, decide
from smtp_logger.run import deallinks
from smtp_logger.run.build import Builder, Built, Delivery, Message
from smtp_logger.run.meetings import write_meeting
from smtp_logger.run.senderauth import columns
from smtp_logger.store import accounts, deals, engagements, facts, flood, lifecycle, meetings, notices, received
from smtp_logger.store.blobstore import refs
from smtp_logger.store.models import Account, ReceivedMessage
from smtp_logger.understand.parse import message_id_of

log = structlog.get_logger("smtp_logger.run.deliver")
RETRIES = 5


class AttachmentsNotSaved(RuntimeError):
    """An email is to be logged whose attachment files were not written before the write
    transaction: its candidate was built again inside it after a directory change that made
    someone on it external (no command removes an internal address today, so this guards the
    promise rather than handles a case). The transaction is given up; the delivery's retry
    (one by one, or the worker's) builds and saves first."""


@dataclass
class Unblocked:
    """What a logged message changed, that may unblock held ones."""

    account_id: int
    addresses: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    message_ids: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.addresses or self.names or self.message_ids)


@dataclass
class Delivered:
    """One logging address's outcome, for after the commit."""

    received_id: int
    held: bool
    unblocked: Unblocked | None


@dataclass
class Outcome:
    """The rules' decision on one message, and the built candidate to write if logged."""

    decision: Decision
    address_kind: str  # of the logging address: "bcc" | "forward"
    built: Built | None = None
    new_thread: bool = True  # no thread known for it yet
    note: str = ""  # what writing it added to a LOGGED decision (a meeting's update, a calendar problem)

    @property
    def recorded(self) -> Decision:
        """The decision as recorded: the rules' with what writing it noted."""
        return replace(self.decision, detail=self.note) if self.note and not self.decision.detail else self.decision

    @property
    def delivery(self) -> str | None:
        """How it came in ("bcc" | "manual_forward" | "auto_copy"); None if unparseable."""
        return self.built.candidate.delivery if self.built else None


def with_retries(sessions: sessionmaker[Session], work):
    """Run work(session, first_attempt) in a transaction and commit; a unique-constraint
    conflict (a racing receiver, or a delivery recovered after a crash) is retried."""
    for attempt in range(RETRIES):
        with sessions() as session:
            try:
                result = work(session, attempt == 0)
                session.commit()
                return result
            except (IntegrityError, OperationalError) as exc:
                session.rollback()
                log.info("transaction_retry", attempt=attempt + 1, error=exc.__class__.__name__,
                         detail=str(exc.orig)[:200])
    raise RuntimeError("gave up after repeated conflicts")


class Deliverer:
    def __init__(self, settings, builder: Builder):
        self.settings = settings
        self.builder = builder

    def deliver(self, session: Session, first_attempt: bool, delivery: Delivery, rcpt: str) -> Delivered | None:
        """Decide and write `delivery` for logging address `rcpt`; None if there is nothing
        to do (an unknown address, or done already before a crash)."""
        entry, message = delivery.entry, delivery.message
        parsed = message.parsed
        address = self.builder.logging_address(session, rcpt)
        if address is None:
            log.warning("unknown_logging_address_in_spool", spool_id=entry.spool_id)
            return None
        # The unique (spool id, address) constraint catches a delivery done before a crash;
        # only a retry pays for looking.
        if not first_attempt and (earlier := received.recorded(session, entry.spool_id, rcpt)) is not None:
            if earlier.status != "failed":
                return None
            # Quarantined (PROCESSING_FAILED) and retried: its real decision follows that one.
            change = self.redecide(session, earlier, message, delivery.built.get(rcpt))
            return Delivered(earlier.id, earlier.status == "held", change)
        message_id = parsed.message_id if parsed else message_id_of(message.raw)
        account = accounts.loaded_account(session, address.account_id)
        recent = flood.on_arrival(session, self.settings, rcpt, message.from_address, message.received_at)
        outcome = self.decide(session, account, address.user_id, address.kind, message,
                              delivery.built.get(rcpt), sender_recent=recent)
        received_id = lifecycle.receive(
            session, outcome.decision, account_id=address.account_id, user_id=address.user_id,
            spool_id=entry.spool_id, logging_address=rcpt, address_kind=address.kind,
            mail_from=entry.mail_from[:998], message_id=message_id, raw_sha256=entry.sha256,
            size=entry.size, subject=(parsed.subject if parsed else "")[:2000],
            received_at=message.received_at, from_address=message.from_address, **columns(message.auth))
        deal_refs = delivery.deal_refs.get(rcpt, [])  # from its record addresses (`+deal-<id>`)
        deals.remember_refs(session, received_id, deal_refs)
        engagement_id, change = self.write(session, account, address.user_id, outcome, received_id, deal_refs)
        lifecycle.decided(session, account.id, received_id, message_id, rcpt, outcome.recorded, engagement_id)
        self.claim_blobs(session, entry.sha256, outcome)
        self.log_decision(entry.spool_id, received_id, account.id, outcome)
        return Delivered(received_id, outcome.decision.held, change)

    def prefetch(self, session: Session, deliveries: list[Delivery]) -> None:
        """What the batch's deliveries will read about their candidates, a query each for the
        whole batch (store.facts.prefetch)."""
        by_account: dict[int, list] = {}
        for delivery in deliveries:
            for rcpt, built in delivery.built.items():
                if (address := self.builder.logging_address(session, rcpt)) is not None:
                    by_account.setdefault(address.account_id, []).append(built.candidate)
        for account_id, candidates in by_account.items():
            facts.prefetch(session, account_id, candidates)

    def redecide(self, session: Session, row: ReceivedMessage, message: Message,
                 built: Built | None) -> Unblocked | None:
        """Decide a message received before (held) again, and record the new decision."""
        account = accounts.loaded_account(session, row.account_id)
        outcome = self.decide(session, account, row.user_id, row.address_kind, message, built)
        engagement_id, change = self.write(session, account, row.user_id, outcome, row.id,
                                           deals.refs_of(session, row.id))
        lifecycle.record(session, row, outcome.recorded, engagement_id)
        self.claim_blobs(session, row.raw_sha256, outcome)
        self.log_decision(row.spool_id, row.id, account.id, outcome)
        return change

    def claim_blobs(self, session: Session, raw_sha256: str, outcome: Outcome) -> None:
        """After the transaction's writes: hold the blobs it references, the raw copy and the
        stored attachment files of a logged email (store.blobstore.refs; BlobMissing if one
        was deleted meanwhile: the delivery is then processed again)."""
        shas = {raw_sha256}
        if outcome.decision.logged and outcome.built is not None:
            shas |= {a.sha256 for a in outcome.built.saved_attachments() or () if a.stored}
        refs.claim(session, self.builder.blobs.store, shas)

    def decide(self, session: Session, account: Account, user_id: int, address_kind: str,
               message: Message, built: Built | None, sender_recent: int = 0) -> Outcome:
        """The rules' decision (pure but for reading what the CRM knows). A candidate built
        earlier is used while the account's directory is still the one it was built against.
        `sender_recent`: what store.flood counted on arrival (a held message decided again, or
        released, is never counted again)."""
        if message.parsed is None:
            return Outcome(Decision("UNPARSEABLE", "the parser failed"), address_kind)
        if built is None or built.directory_version != account.directory_version:
            saved = built.saved if built else {}
            built = self.builder.build(session, account, user_id, address_kind, message)
            built.saved.update(saved)  # the same parts: their files are still on disk
        crm = facts.load(session, account, user_id, built.candidate, self.settings, built.authenticated)
        if sender_recent:
            crm = replace(crm, flood_limit=self.settings.flood_limit, sender_recent=sender_recent)
        if built.content.meeting is not None and not crm.already_logged:  # an update applied already
            crm = replace(crm, already_logged=meetings.seen(session, account.id, built.candidate.dedup_key))
        return Outcome(decide(built.candidate, crm), address_kind, built, crm.thread is None)

    def write(self, session: Session, account: Account, user_id: int, outcome: Outcome,
              received_id: int, deal_refs: list[str] = ()) -> tuple[int | None, Unblocked | None]:
        """Write what a decision asks for: the engagement (and what it unblocks) with its deals
        (run.deallinks), or for a never-logged conversation a never-log thread so its later
        replies are known."""
        decision = outcome.decision
        candidate = outcome.built.candidate if outcome.built else None
        notices.consider(session, self.settings, account.id, user_id, received_id, decision, candidate,
                         outcome.built.saved_attachments() if outcome.built else None)
        if decision.logged:
            links = deallinks.explicit(session, account.id, deal_refs, outcome.built.deal_tags)
            written = self.write_logged(session, account, outcome, deallinks.widened(session, decision.plan, links),
                                        received_id)
            deallinks.write(session, account, written.engagement_id, received_id, written.contact_ids, links)
            return written.engagement_id, Unblocked(
                account.id, set(written.new_contact_addresses),
                {n.casefold() for n in written.new_contact_names}, set(written.thread_keys))
        if decision.reason == "NEVER_LOG" and candidate.thread_keys and outcome.new_thread:
            thread_id = engagements.new_thread(session, account.id, user_id, None, candidate.subject_key, True)
            engagements.remember_keys(session, account.id, thread_id, candidate.thread_keys, new_thread=True)
        return None, None

    def write_logged(self, session: Session, account: Account, outcome: Outcome, plan,
                     received_id: int) -> facts.Written:
        """The engagement of a LOGGED decision (`plan`: the rules' plan with the contacts of its
        named deals): a meeting (run.meetings) or an email."""
        built = outcome.built
        content = _engagement_content(built)
        invitation = built.content.meeting
        if invitation is not None:
            meeting = write_meeting(session, account, built.candidate, content, invitation, plan, received_id,
                                    built.candidate.sent_at or content.sent_at)
            if meeting is not None:
                written, outcome.note = meeting
                return written
            outcome.note = "a reply to a meeting that is not logged; logged as an email"
        outcome.note = outcome.note or built.content.calendar_note or ""
        return facts.write(session, account, built.candidate, content, plan, received_id)

    def log_decision(self, spool_id: str, received_id: int, account_id: int, outcome: Outcome) -> None:
        # `way` as logged before the names were split: the delivery, or the address kind when
        # the message could not be parsed.
        log.info("decision", spool_id=spool_id, received_message=received_id, account=account_id,
                 address_kind=outcome.address_kind, delivery=outcome.delivery,
                 way=outcome.delivery or outcome.address_kind, reason=outcome.decision.reason)


def _engagement_content(built: Built) -> facts.EngagementContent:
    attachments = built.saved_attachments()
    if attachments is None:
        raise AttachmentsNotSaved("attachment files of an email to log were not written before its transaction")
    content = built.content
    logos = content.signature_image_ids
    attachments = tuple(replace(a, signature=True) if a.inline_image and a.content_id in logos else a
                        for a in attachments)
    return facts.EngagementContent(content.subject, content.sent_at, content.offset_minutes, content.body_text,
                                   content.body_html, content.reply_text, content.message_id, attachments)

