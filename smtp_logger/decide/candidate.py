"""Which email a received message asks us to log, and in which way it came in.

BCC: the message itself, outgoing. Forwarding address with From = the user: the original found
inside the forward (incoming, or outgoing when the user wrote it). Forwarding address with
another From: an automatic copy, incoming. Pure: builds `Candidate` (for the rules) and
`Content` (for the writer) from a `ParsedMessage`; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import cached_property

from smtp_logger.decide.rules import Candidate
from smtp_logger.understand.addresses import Mailbox
from smtp_logger.understand.calendar import CalendarReading, Invitation, as_mailboxes, find_invitation
from smtp_logger.understand.classify import find_confirmation, is_machine_made
from smtp_logger.understand.contenthash import content_hash
from smtp_logger.understand.forwards import OriginalMessage, named_contact, normalize_subject, read_original
from smtp_logger.understand.parse import AttachmentPart, ParsedMessage
from smtp_logger.understand.replytext import reply_text, reply_text_from_html
from smtp_logger.understand.signatureimages import signature_image_ids

MEETING_KEY = "ical-uid:"  # a meeting's UID as a thread key: its updates, cancellation and replies join it


@dataclass
class Content:
    """What the engagement will hold."""

    subject: str
    sent_at: datetime
    offset_minutes: int
    body_text: str
    body_html: str | None
    message_id: str | None
    thread_keys: tuple[str, ...]
    attachments: list[AttachmentPart] = field(default_factory=list)
    meeting: Invitation | None = None  # a calendar REQUEST, CANCEL or REPLY: logged as a meeting
    calendar_note: str | None = None  # why a calendar part was not read as one (logged as an email)

    @cached_property
    def reply_text(self) -> str:
        """The new content of the body, worked out when an engagement is written: the rules never
        read it, and mail that is not logged never needs it."""
        return _reply_text(self.body_text, self.body_html)

    @cached_property
    def signature_image_ids(self) -> frozenset[str]:
        """Content-IDs of the inline images referenced only from the signature block."""
        return signature_image_ids(self.body_html)


def way_of(kind: str, parsed: ParsedMessage, user_addresses: frozenset[str]) -> str:
    if kind == "bcc":
        return "bcc"
    sender = parsed.from_.address if parsed.from_ else None
    return "manual_forward" if sender in user_addresses else "auto_copy"


def _offset_of(value: datetime | None) -> int:
    if value is None or value.utcoffset() is None:
        return 0
    return int(value.utcoffset().total_seconds() // 60)


def _aware(value: datetime | None, fallback: datetime, zone_hint: datetime | None = None) -> datetime:
    """An aware datetime; a naive one is read in the forwarder's zone (their Date header)."""
    if value is None:
        return fallback
    if value.tzinfo:
        return value
    return value.replace(tzinfo=zone_hint.tzinfo if zone_hint and zone_hint.tzinfo else timezone.utc)


def _reply_text(text: str, html: str | None) -> str:
    if text.strip():
        return reply_text(text)
    return reply_text_from_html(html) if html else ""


def _from_original(o: OriginalMessage, way: str, user_addresses: frozenset[str],
                   received: datetime, parsed: ParsedMessage) -> tuple[Candidate, Content]:
    sender = o.from_.address if o.from_ else None
    direction = "outgoing" if sender in user_addresses else "incoming"
    keys = tuple(dict.fromkeys(([o.message_id] if o.message_id else [])
                               + ([o.in_reply_to] if o.in_reply_to else []) + list(o.references)))
    dedup = f"mid:{o.message_id}" if o.message_id else content_hash(o.from_, o.date_raw, o.subject, o.body_text)
    sent_at = _aware(o.date, received, parsed.date)
    candidate = Candidate(
        delivery=way, direction=direction, from_=o.from_, to=tuple(o.to), cc=tuple(o.cc),
        subject=o.subject, sent_at=sent_at, thread_keys=keys, dedup_key=dedup,
        subject_key=normalize_subject(o.subject), original_found=True,
        automatic=o.automatic if is_machine_made(o.automatic) else parsed.automatic, unparseable=False,
        named_contact=named_contact(o.note))
    attachments = [a for a in parsed.attachments if a.content_type != "message/rfc822"] \
        if o.source == "attachment" else parsed.attachments
    content = Content(o.subject, sent_at, _offset_of(sent_at), o.body_text, o.body_html,
                      o.message_id, keys, attachments)
    return candidate, content


def build(kind: str, parsed: ParsedMessage, user_addresses: frozenset[str],
          received: datetime) -> tuple[Candidate, Content]:
    """The candidate and content for one logging address of kind "bcc" or "forward"."""
    return _with_meeting(*_build(kind, parsed, user_addresses, received))


def _with_meeting(candidate: Candidate, content: Content) -> tuple[Candidate, Content]:
    """A calendar invitation among the content's parts makes the email a meeting: its people take
    part as recipients do (the same rules decide), its UID is a thread key."""
    reading: CalendarReading | None = find_invitation(content.attachments)
    if reading is None:
        return candidate, content
    meeting = reading.invitation
    if meeting is None:
        return candidate, replace(content, calendar_note=reading.note)
    known = {b.address for b in (candidate.from_, *candidate.to, *candidate.cc) if b is not None and b.address}
    extra = tuple(dict((b.address, b) for b in as_mailboxes(meeting) if b.address not in known).values())
    keys = tuple(dict.fromkeys(candidate.thread_keys + (MEETING_KEY + meeting.uid[:900],)))
    files = [a for a in content.attachments  # the invitation's own body part is the meeting, not a file
             if not (a.content_type == "text/calendar" and not _named(a))]
    return (replace(candidate, cc=candidate.cc + extra, thread_keys=keys),
            replace(content, thread_keys=keys, meeting=meeting, attachments=files))


def _named(part: AttachmentPart) -> bool:
    try:
        return bool(part.part.get_filename())
    except Exception:  # noqa: BLE001 - an unreadable name is no name
        return False


def _build(kind: str, parsed: ParsedMessage, user_addresses: frozenset[str],
           received: datetime) -> tuple[Candidate, Content]:
    way = way_of(kind, parsed, user_addresses)
    if way == "manual_forward" and not is_machine_made(parsed.automatic):
        original = _read_original_safely(parsed)
        if original is not None:
            return _from_original(original, way, user_addresses, received, parsed)
    direction = "outgoing" if way == "bcc" else "incoming"
    keys = tuple(parsed.thread_keys)
    dedup = f"mid:{parsed.message_id}" if parsed.message_id else parsed.content_hash
    sent_at = parsed.date or received
    candidate = Candidate(
        delivery=way, direction=direction, from_=parsed.from_, to=tuple(parsed.to), cc=tuple(parsed.cc),
        subject=parsed.subject, sent_at=sent_at, thread_keys=keys, dedup_key=dedup,
        subject_key=normalize_subject(parsed.subject), original_found=way != "manual_forward",
        automatic=parsed.automatic, unparseable=parsed.unparseable,
        confirmation=find_confirmation(parsed.email) if way == "auto_copy" else None)
    content = Content(parsed.subject, sent_at, parsed.date_offset_minutes, parsed.body_text,
                      parsed.body_html, parsed.message_id, keys, parsed.attachments)
    return candidate, content


def _read_original_safely(parsed: ParsedMessage) -> OriginalMessage | None:
    try:
        return read_original(parsed.email)
    except Exception:  # a parser bug must become ORIGINAL_NOT_FOUND, never a lost message
        return None


def mailboxes(boxes) -> list[dict]:
    return [{"name": b.name, "address": b.address} for b in boxes if isinstance(b, Mailbox)]
