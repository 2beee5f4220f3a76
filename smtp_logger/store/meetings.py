"""Meetings: the row behind a `meeting` engagement, kept per invitation UID and account, its
attendees and the calendar messages applied to it. A newer SEQUENCE replaces the details, an
older or equal one changes nothing, a cancellation marks it cancelled, a reply sets one
attendee's answer. SQL only; the caller owns the transaction (run/meetings.py decides).
"""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, exists, insert, select, update
from sqlalchemy.orm import Session

from smtp_logger.store.meetingmodels import Meeting, MeetingAttendee, MeetingMessage
from smtp_logger.store.models import Contact, Engagement, EngagementCompany, EngagementContact, utcnow
from smtp_logger.store.rows import write_deferred
from smtp_logger.understand.calendar import Attendee, Invitation

CONFIRMED, CANCELLED = "confirmed", "cancelled"


def find(session: Session, account_id: int, uid: str) -> Meeting | None:
    """The account's meeting with this UID, locked until commit (PostgreSQL; SQLite has one writer)."""
    query = select(Meeting).where(Meeting.account_id == account_id, Meeting.uid == uid[:900])
    if session.get_bind().dialect.name != "sqlite":
        query = query.with_for_update()
    return session.scalars(query).first()


def seen(session: Session, account_id: int, dedup_key: str) -> bool:
    """This calendar message (by the email's dedup key) was applied to a meeting already."""
    return bool(session.scalar(select(exists().where(MeetingMessage.account_id == account_id,
                                                     MeetingMessage.dedup_key == dedup_key[:998]))))


def _details(invitation: Invitation) -> dict:
    organizer = invitation.organizer
    return dict(sequence=invitation.sequence, summary=invitation.summary, starts_at=invitation.starts_at,
                ends_at=invitation.ends_at, all_day=invitation.all_day, time_zone=invitation.time_zone,
                location=invitation.location, organizer_address=organizer.address if organizer else None,
                organizer_name=(organizer.name or None)[:200] if organizer and organizer.name else None,
                updated_at=utcnow())


def create(session: Session, account_id: int, engagement_id: int, invitation: Invitation) -> Meeting:
    status = CANCELLED if invitation.method == "CANCEL" else CONFIRMED
    meeting = Meeting(account_id=account_id, engagement_id=engagement_id, uid=invitation.uid[:900],
                      status=status, **_details(invitation))
    session.add(meeting)
    session.flush()
    _replace_attendees(session, meeting.id, invitation.attendees)
    return meeting


def _replace_attendees(session: Session, meeting_id: int, attendees: tuple[Attendee, ...]) -> None:
    """The invitation's attendee list; an answer already given stays unless the update asks again."""
    answered = {a.address: a for a in session.scalars(select(MeetingAttendee).where(
        MeetingAttendee.meeting_id == meeting_id))}
    session.execute(delete(MeetingAttendee).where(MeetingAttendee.meeting_id == meeting_id))
    rows = []
    for a in attendees:
        earlier = answered.get(a.address)
        keep = earlier is not None and a.partstat == "NEEDS-ACTION"
        rows.append(dict(meeting_id=meeting_id, address=a.address[:320], name=(a.name or None) and a.name[:200],
                         partstat=earlier.partstat if keep else a.partstat, role=a.role,
                         replied_at=earlier.replied_at if keep else None))
    if rows:
        session.execute(insert(MeetingAttendee), rows)


def update_details(session: Session, meeting: Meeting, invitation: Invitation) -> None:
    """A newer REQUEST: its time, place, people and summary replace the meeting's."""
    for key, value in _details(invitation).items():
        setattr(meeting, key, value)
    meeting.status = CONFIRMED
    _replace_attendees(session, meeting.id, invitation.attendees)
    session.execute(update(Engagement).where(Engagement.id == meeting.engagement_id).values(
        subject=invitation.summary or Engagement.subject))


def cancel(meeting: Meeting, invitation: Invitation) -> None:
    meeting.status = CANCELLED
    meeting.sequence = max(meeting.sequence, invitation.sequence)
    meeting.updated_at = utcnow()


def answer(session: Session, meeting: Meeting, attendee: Attendee, at: datetime) -> None:
    """One attendee's REPLY: their PARTSTAT (they are added when the invitation did not list them)."""
    found = session.scalars(select(MeetingAttendee).where(MeetingAttendee.meeting_id == meeting.id,
                                                          MeetingAttendee.address == attendee.address)).first()
    if found is None:
        session.add(MeetingAttendee(meeting_id=meeting.id, address=attendee.address[:320],
                                    name=attendee.name and attendee.name[:200], partstat=attendee.partstat,
                                    role=attendee.role, replied_at=at))
    else:
        found.partstat, found.replied_at = attendee.partstat, at
    meeting.updated_at = utcnow()


def remember(session: Session, meeting: Meeting, dedup_key: str, invitation: Invitation, applied: bool,
             received_message_id: int) -> None:
    session.add(MeetingMessage(account_id=meeting.account_id, meeting_id=meeting.id, dedup_key=dedup_key[:998],
                               method=invitation.method, sequence=invitation.sequence, applied=applied,
                               received_message_id=received_message_id))


def link_contacts(session: Session, engagement_id: int, contact_ids: list[int]) -> None:
    """Contacts (and their companies) an update brought to the meeting's engagement."""
    write_deferred(session)
    linked = set(session.scalars(select(EngagementContact.contact_id).where(
        EngagementContact.engagement_id == engagement_id)))
    new = [cid for cid in dict.fromkeys(contact_ids) if cid not in linked]
    if not new:
        return
    session.execute(insert(EngagementContact), [dict(engagement_id=engagement_id, contact_id=c) for c in new])
    companies = set(session.scalars(select(Contact.company_id).where(Contact.id.in_(new),
                                                                     Contact.company_id.is_not(None))))
    companies -= set(session.scalars(select(EngagementCompany.company_id).where(
        EngagementCompany.engagement_id == engagement_id)))
    if companies:
        session.execute(insert(EngagementCompany), [dict(engagement_id=engagement_id, company_id=c)
                                                    for c in sorted(companies)])


def _iso(value: datetime | None, zone) -> str | None:
    return value.astimezone(zone).isoformat() if value is not None else None


def meeting_dict(session: Session, engagement_id: int) -> dict | None:
    """A meeting engagement's details as the timeline shows them (times in the meeting's zone)."""
    meeting = session.scalars(select(Meeting).where(Meeting.engagement_id == engagement_id)).first()
    if meeting is None:
        return None
    zone = _display_zone(meeting.time_zone)
    attendees = session.scalars(select(MeetingAttendee).where(MeetingAttendee.meeting_id == meeting.id)
                                .order_by(MeetingAttendee.id))
    return {
        "uid": meeting.uid, "sequence": meeting.sequence, "status": meeting.status, "summary": meeting.summary,
        "start": _iso(meeting.starts_at, zone), "end": _iso(meeting.ends_at, zone), "all_day": meeting.all_day,
        "time_zone": meeting.time_zone, "location": meeting.location,
        "organizer": {"address": meeting.organizer_address, "name": meeting.organizer_name}
        if meeting.organizer_address else None,
        "attendees": [{"address": a.address, "name": a.name, "partstat": a.partstat, "role": a.role}
                      for a in attendees],
    }


def _display_zone(name: str | None):
    try:
        return ZoneInfo(name) if name else timezone.utc
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.utc


def delete_for(session: Session, engagement_ids: list[int]) -> None:
    """The meetings of engagements being deleted (a never-log purge)."""
    ids = list(session.scalars(select(Meeting.id).where(Meeting.engagement_id.in_(engagement_ids))))
    if not ids:
        return
    for table in (MeetingMessage, MeetingAttendee):
        session.execute(delete(table).where(table.meeting_id.in_(ids)))
    session.execute(delete(Meeting).where(Meeting.id.in_(ids)))


def thread_of(session: Session, meeting: Meeting) -> int:
    """The thread of the meeting's engagement (its updates' Message-IDs join it)."""
    return session.scalar(select(Engagement.thread_id).where(Engagement.id == meeting.engagement_id))
