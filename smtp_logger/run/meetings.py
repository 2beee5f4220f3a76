"""A calendar message the rules logged, written as a meeting inside the delivery's transaction.

The first REQUEST of a UID (or a CANCEL of one not seen yet) writes a `meeting` engagement
through store.facts and the meeting beside it. Later messages of that UID change the one
meeting: a REQUEST with a higher SEQUENCE replaces its details (a lower or equal one changes
nothing), a CANCEL marks it cancelled, a REPLY sets the replying attendee's answer. Each returns
the sentence `why` shows. A REPLY to a meeting that is not logged is left to be an email.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy.orm import Session

from smtp_logger.decide.rules import Candidate, LogPlan
from smtp_logger.store import contacts, engagements, events, facts, meetings
from smtp_logger.store.meetingmodels import Meeting
from smtp_logger.store.models import Account
from smtp_logger.understand.calendar import Attendee, Invitation


def write_meeting(session: Session, account: Account, c: Candidate, content: facts.EngagementContent,
                  invitation: Invitation, plan: LogPlan, received_id: int,
                  received_at: datetime) -> tuple[facts.Written, str] | None:
    """What was written and why's sentence; None for a REPLY to a meeting not logged."""
    meeting = meetings.find(session, account.id, invitation.uid)
    if meeting is None:
        if invitation.method == "REPLY":
            return None
        return _first(session, account, c, content, invitation, plan, received_id)
    new_ids = [contacts.add_contact(session, account.id, box.address, box.name, created_by=c.delivery,
                                    check_existing=False) for box in plan.new_contacts]
    meetings.link_contacts(session, meeting.engagement_id, list(plan.contact_ids) + new_ids)
    engagements.remember_keys(session, account.id, meetings.thread_of(session, meeting), c.thread_keys)
    applied, sentence = _apply(session, meeting, invitation, c, received_at)
    meetings.remember(session, meeting, c.dedup_key, invitation, applied, received_id)
    if applied:
        events.record(session, account.id, events.ENGAGEMENT_UPDATED, {
            "engagement_id": meeting.engagement_id, "reason": f"meeting_{invitation.method.lower()}",
            "meeting_status": meeting.status, "sequence": meeting.sequence})
    created = plan.new_contacts
    return facts.Written(meeting.engagement_id, [b.address for b in created], [b.name for b in created if b.name],
                         c.thread_keys), sentence


def _first(session: Session, account: Account, c: Candidate, content: facts.EngagementContent,
           invitation: Invitation, plan: LogPlan, received_id: int) -> tuple[facts.Written, str]:
    written = facts.write(session, account, c, replace(content, type="meeting",
                                                       subject=invitation.summary or content.subject),
                          plan, received_id)
    meeting = meetings.create(session, account.id, written.engagement_id, invitation)
    meetings.remember(session, meeting, c.dedup_key, invitation, True, received_id)
    if invitation.method == "CANCEL":
        return written, f"logged as a cancelled meeting (sequence {invitation.sequence})"
    return written, f"logged as a meeting (sequence {invitation.sequence})"


def _apply(session: Session, meeting: Meeting, invitation: Invitation, c: Candidate,
           received_at: datetime) -> tuple[bool, str]:
    if invitation.method == "REPLY":
        attendee = _replier(invitation, c)
        if attendee is None:
            return False, "a meeting reply that names no attendee; the meeting is unchanged"
        meetings.answer(session, meeting, attendee, received_at)
        return True, f"{attendee.address} answered the meeting: {attendee.partstat}"
    if invitation.method == "CANCEL":
        if invitation.sequence < meeting.sequence:
            return False, (f"a cancellation of an older version (sequence {invitation.sequence} < "
                           f"{meeting.sequence}); the meeting is unchanged")
        meetings.cancel(meeting, invitation)
        return True, f"the meeting was cancelled (sequence {invitation.sequence})"
    if invitation.sequence <= meeting.sequence:
        return False, (f"an older or the same version of the meeting (sequence {invitation.sequence}, "
                       f"the meeting has {meeting.sequence}); the meeting is unchanged")
    meetings.update_details(session, meeting, invitation)
    return True, f"the meeting was updated (sequence {invitation.sequence})"


def _replier(invitation: Invitation, c: Candidate) -> Attendee | None:
    """The attendee a REPLY answers for: the one who sent it, else the only one it names."""
    sender = c.from_.address if c.from_ else None
    named = [a for a in invitation.attendees if a.address == sender]
    return named[0] if named else (invitation.attendees[0] if invitation.attendees else None)
