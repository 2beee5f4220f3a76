"""What is done for a delivery before its write transaction opens: parse it once, build the
candidate for each logging address (CPU: classification, reply text; the sender verdict comes
from run.senderauth), and write and fsync the attachment files of every email that may be
logged (store.blobs, into the blob store). On SQLite the write transaction holds the database's only write lock:
neither CPU work nor the disk may hold it up. Reads the database; writes no row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import structlog
from sqlalchemy.orm import Session

from smtp_logger.decide import candidate as candidates
from smtp_logger.decide.rules import Candidate
from smtp_logger.intake.addresses import split_record_address
from smtp_logger.intake.spool import SpoolEntry
from smtp_logger.run.rawcopies import RawCopies
from smtp_logger.store import accounts, directory
from smtp_logger.store.blobs import AttachmentFiles, SavedAttachment
from smtp_logger.store.models import Account
from smtp_logger.understand.forwards import deal_tags
from smtp_logger.understand.parse import AttachmentPart, ParsedMessage, parse_file
from smtp_logger.verify.verdict import NOT_CHECKED, AuthVerdict

log = structlog.get_logger("smtp_logger.run.build")


@dataclass
class Built:
    """A candidate and its content, built against the account directory's `directory_version`;
    `saved`: its attachment files on disk, by part (id), once `save_attachments` ran."""

    directory_version: int
    candidate: Candidate
    content: candidates.Content
    authenticated: bool | None
    may_be_logged: bool
    saved: dict[int, SavedAttachment] = field(default_factory=dict)
    deal_tags: tuple[str, ...] = ()  # `[deal:<id>]` in its subject, or in the forward's own

    def saved_attachments(self) -> tuple[SavedAttachment, ...] | None:
        """The content's attachments as saved files; None if any was not saved."""
        try:
            return tuple(self.saved[id(part)] for part in self.content.attachments)
        except KeyError:
            return None


@dataclass
class Message:
    """A received message as the rules read it: its raw file, parsed once (None: the parser
    failed), when it arrived, and the sender check's verdict (run.senderauth)."""

    raw: Path
    parsed: ParsedMessage | None
    received_at: datetime
    auth: AuthVerdict = NOT_CHECKED
    scratch: Path | None = None  # the raw copy fetched from the blob store, removed with the work files

    @property
    def from_address(self) -> str | None:
        """Its From: address (what floods are counted by); None when unparsed or absent."""
        box = self.parsed.from_ if self.parsed else None
        return box.address[:320] if box and box.address else None

    def remove_work_files(self) -> None:
        """The decoded large parts (once decided: their files are linked into the blob store)."""
        for path in self.parsed.work_files if self.parsed else ():
            path.unlink(missing_ok=True)
        if self.scratch is not None:
            self.scratch.unlink(missing_ok=True)


@dataclass
class Delivery:
    """A spooled delivery made ready for deciding: kept raw, parsed once for all recipients."""

    entry: SpoolEntry
    message: Message
    recipients: list[str]  # logging addresses (a record address's without its `+deal-<id>`)
    built: dict[str, Built] = field(default_factory=dict)  # by logging address
    deal_refs: dict[str, list[str]] = field(default_factory=dict)  # deal ids its record addresses named


def read_message(raws: RawCopies, raw_sha256: str, received_at: datetime, prefix: str,
                 auth: AuthVerdict = NOT_CHECKED) -> Message:
    """A message kept raw (this host's copy, else the blob store's), parsed (its work files
    named after `prefix`). A parser failure is recorded as UNPARSEABLE, the raw copy kept; a
    raw copy found nowhere raises FileNotFoundError (the delivery is tried again)."""
    raw, scratch = raws.local_path(raw_sha256, prefix)
    try:
        parsed = parse_file(raw, raws.spool.work, prefix)
    except Exception as exc:
        log.warning("parse_failed", error=exc.__class__.__name__)
        parsed = None
    return Message(raw, parsed, received_at, auth, scratch)


def prepare(raws: RawCopies, entry: SpoolEntry, auth: AuthVerdict = NOT_CHECKED) -> Delivery:
    """A delivery already kept raw, parsed, with its sender check's verdict."""
    received_at = datetime.fromtimestamp(entry.received_at, timezone.utc)
    refs = logging_addresses(entry.rcpt_tos)
    return Delivery(entry, read_message(raws, entry.sha256, received_at, entry.spool_id, auth),
                    list(refs), deal_refs={rcpt: ids for rcpt, ids in refs.items() if ids})


def logging_addresses(rcpt_tos: list[str]) -> dict[str, list[str]]:
    """A delivery's logging addresses, in order, each with the deal ids its record addresses
    (`<token>+deal-<id>@…`) named."""
    refs: dict[str, list[str]] = {}
    for each in rcpt_tos:
        rcpt, ref = split_record_address(each.lower())
        refs.setdefault(rcpt, []).extend([ref] if ref and ref not in refs.get(rcpt, ()) else [])
    return refs


def outsiders_take_part(candidate: Candidate, internal: frozenset[str]) -> bool:
    """Someone outside the company (or known by name only) is on the email. Without one the
    rules never log it (nobody to log it for), so its reply text and files are not needed."""
    return any(box is not None and (not box.address or box.address not in internal)
               for box in (candidate.from_, *candidate.to, *candidate.cc))


class Builder:
    """Builds candidates and saves their attachment files; caches logging addresses."""

    def __init__(self, settings, blobs: AttachmentFiles):
        self.settings = settings
        self.blobs = blobs
        self._addresses: dict[str, accounts.LiveAddress] = {}

    def logging_address(self, session: Session, rcpt: str) -> accounts.LiveAddress | None:
        """Which user and address kind a logging address belongs to (never changes: cached)."""
        if rcpt not in self._addresses:
            found = accounts.any_address(session, rcpt)
            if found is None:
                return None
            self._addresses[rcpt] = found
        return self._addresses[rcpt]

    def build(self, session: Session, account: Account, user_id: int, address_kind: str,
              message: Message) -> Built:
        """The candidate of a parsed message for a logging address of this kind and user."""
        known = directory.get(session, account)
        candidate, content = candidates.build(address_kind, message.parsed, known.addresses_of(user_id),
                                              message.received_at)
        authenticated = message.auth.authenticated if candidate.delivery != "auto_copy" else None
        may_be_logged = outsiders_take_part(candidate, known.internal)
        if may_be_logged:
            _ = content.reply_text, content.signature_image_ids  # worked out now, outside the write transaction
        tags = tuple(dict.fromkeys(deal_tags(candidate.subject) + deal_tags(message.parsed.subject)))
        return Built(account.directory_version, candidate, content, authenticated, may_be_logged, deal_tags=tags)

    def build_deliveries(self, session: Session, deliveries: list[Delivery]) -> None:
        """Build the candidate of every parsed delivery for each of its logging addresses."""
        for delivery in deliveries:
            for rcpt in delivery.recipients if delivery.message.parsed is not None else ():
                address = self.logging_address(session, rcpt)
                if address is not None:
                    delivery.built[rcpt] = self.build(
                        session, accounts.loaded_account(session, address.account_id), address.user_id,
                        address.kind, delivery.message)

    def save_attachments(self, built: list[Built]) -> None:
        """Write and fsync the attachment files of every email that may be logged (each part
        once, however many logging addresses share it). Call with no transaction open."""
        done: dict[int, SavedAttachment] = {}
        saved: list[tuple[Built, AttachmentPart]] = []
        with self.blobs.together():  # the small files of them all at once
            for each in built:
                for part in each.content.attachments if each.may_be_logged else ():
                    if id(part) not in done:
                        done[id(part)] = self._save(part)
                    saved.append((each, part))
        for each, part in saved:  # only once they are all in the store
            each.saved[id(part)] = done[id(part)]

    def _save(self, part: AttachmentPart) -> SavedAttachment:
        return self.blobs.save(part, self.settings.max_attachment_size,
                               frozenset(self.settings.blocked_attachment_types))
