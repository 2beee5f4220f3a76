"""Gather what the CRM knows about one candidate email into a `CrmFacts` for the rules, and
write a logged engagement once the rules said so. SQL only; the caller owns the transaction.
Touches no file: attachments arrive as content hashes of files already on disk (store.blobs).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.orm import Session

from smtp_logger.decide.rules import Candidate, CrmFacts, LogPlan, UserFacts
from smtp_logger.store import batchreads, contacts, directory, engagements, events
from smtp_logger.store.blobs import SavedAttachment
from smtp_logger.store.models import Account, Attachment, Engagement
from smtp_logger.store.rows import defer_rows, insert_id, write_deferred
from smtp_logger.understand.addresses import Mailbox


def prefetch(session: Session, account_id: int, candidates: list[Candidate]) -> None:
    """Before the `load`s of a batch's candidates (one account's) in this transaction: what they
    will read, in a query each for them all (store.batchreads)."""
    batchreads.prefetch(session, account_id, candidates)


def load(session: Session, account: Account, user_id: int, c: Candidate, settings,
         sender_authenticated: bool | None) -> CrmFacts:
    known_directory = directory.get(session, account)
    known = contacts.contacts_for(session, account.id, batchreads.participants(c))
    by_name, primary = {}, {}
    if c.from_ is not None and not c.from_.address and c.from_.name:
        write_deferred(session)  # the batch's contact addresses, which this reads
        by_name, primary = contacts.contacts_named(session, account.id, c.from_.name)
        for cid, address in primary.items():
            known.setdefault(address, cid)
    thread = engagements.thread_by_keys(session, account.id, c.thread_keys)
    if thread is None and c.delivery == "manual_forward" and len(c.thread_keys) <= 1:
        write_deferred(session)  # the batch's engagement contacts, which this looks through
        thread = engagements.thread_by_subject(session, account.id, c.subject_key,
                                               list(known.values()), c.sent_at)
    teams = known_directory.teams_of(user_id)
    return CrmFacts(
        user=UserFacts(user_id, known_directory.addresses_of(user_id), frozenset(teams.values()), teams),
        internal_addresses=known_directory.internal,
        logging_domains=frozenset({settings.bcc_domain.lower(), settings.forward_domain.lower()}),
        never_log=known_directory.never_log_for(user_id),
        contacts=known,
        contacts_by_name=by_name,
        contact_addresses=primary,
        already_logged=engagements.is_logged(session, account.id, c.dedup_key),
        thread=thread,
        create_contacts=account.create_contacts,
        log_all_from_contacts=account.log_all_from_contacts,
        sender_authenticated=sender_authenticated,
    )


@dataclass(frozen=True)
class EngagementContent:
    """What the engagement row holds besides the rules' plan; attachments already on disk."""

    subject: str
    sent_at: datetime
    offset_minutes: int
    body_text: str
    body_html: str | None
    reply_text: str
    message_id: str | None
    attachments: tuple[SavedAttachment, ...] = ()
    type: str = "email"  # email | meeting


@dataclass
class Written:
    engagement_id: int
    new_contact_addresses: list[str]
    new_contact_names: list[str]
    thread_keys: tuple[str, ...]
    contact_ids: tuple[int, ...] = ()  # every contact it was logged on (deals are linked by them)


def _mailbox_rows(boxes) -> list[dict]:
    """The JSON shape of the to/cc columns."""
    return [{"name": b.name, "address": b.address} for b in boxes if isinstance(b, Mailbox)]


def write(session: Session, account: Account, c: Candidate, content: EngagementContent, plan: LogPlan,
          received_message_id: int) -> Written:
    if plan.thread_id is not None:
        thread_id = plan.thread_id
    else:
        thread_id = engagements.new_thread(session, account.id, plan.owner_user_id, plan.owner_team_id,
                                           c.subject_key, plan.thread_never_log)
    engagements.remember_keys(session, account.id, thread_id, c.thread_keys,
                              new_thread=plan.thread_id is None)
    contact_ids = list(plan.contact_ids)
    for box in plan.new_contacts:
        contact_ids.append(contacts.add_contact(session, account.id, box.address, box.name,
                                                created_by=c.delivery, check_existing=False))
    from_ = plan.from_ or Mailbox(None, None)
    values = dict(
        account_id=account.id, thread_id=thread_id, owner_user_id=plan.owner_user_id,
        direction=plan.direction, from_address=from_.address, from_name=from_.name,
        to_addresses=_mailbox_rows(c.to), cc_addresses=_mailbox_rows(c.cc), subject=content.subject,
        sent_at=content.sent_at, sent_at_offset_minutes=content.offset_minutes,
        body_text=content.body_text, body_html=content.body_html, reply_text=content.reply_text,
        message_id=content.message_id, dedup_key=c.dedup_key[:998], source=c.delivery,
        received_message_id=received_message_id, type=content.type)
    engagement_id = insert_id(session, Engagement, **values)
    if (batch := batchreads.reads(session, account.id)) is not None:
        batch.engagement_written(values["dedup_key"], thread_id)
    contacts.link(session, engagement_id, contact_ids)
    attachments = _signature_marked(session, account.id, from_.address, content.attachments)
    defer_rows(session, Attachment, [dict(
        engagement_id=engagement_id, filename=each.filename, content_type=each.content_type,
        size=each.size, sha256=each.sha256, stored=each.stored, reason=each.reason,
        content_id=each.content_id, inline=each.inline, signature=each.signature,
        blocked_type=each.blocked_type) for each in attachments])
    events.engagement_logged(session, account.id, engagement_id, values, contact_ids,
                             [a for a in attachments if not a.signature])
    created = plan.new_contacts
    return Written(engagement_id, [b.address for b in created], [b.name for b in created if b.name],
                   c.thread_keys, tuple(dict.fromkeys(contact_ids)))


def _signature_marked(session: Session, account_id: int, sender: str | None,
                      attachments: tuple[SavedAttachment, ...]) -> list[SavedAttachment]:
    """Inline images this sender sent in several earlier emails are marked as signature logos."""
    images = [a.sha256 for a in attachments if a.inline_image and not a.signature and a.sha256]
    repeated = engagements.repeated_images(session, account_id, sender, images)
    return [replace(a, signature=True) if a.inline_image and a.sha256 in repeated else a for a in attachments]
