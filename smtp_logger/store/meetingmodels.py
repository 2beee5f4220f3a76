"""The meetings' tables: a meeting (one per invitation UID and account, beside the `meeting`
engagement it is shown as), its attendees with their answers, and every invitation, update,
cancellation or reply applied to it (so the same one arriving twice is a DUPLICATE). Same `Base`
as models.py. No SQL lives here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from smtp_logger.store.models import Base, UTCDateTime, utcnow


class Meeting(Base):
    __tablename__ = "meetings"
    __table_args__ = (UniqueConstraint("account_id", "uid"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagements.id"), unique=True)
    uid: Mapped[str] = mapped_column(String(900))
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(12))  # confirmed | cancelled
    summary: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    all_day: Mapped[bool] = mapped_column(Boolean, default=False)
    time_zone: Mapped[str | None] = mapped_column(String(64))
    location: Mapped[str] = mapped_column(Text, default="")
    organizer_address: Mapped[str | None] = mapped_column(String(320))
    organizer_name: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MeetingAttendee(Base):
    __tablename__ = "meeting_attendees"
    __table_args__ = (UniqueConstraint("meeting_id", "address"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    address: Mapped[str] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(200))
    partstat: Mapped[str] = mapped_column(String(20), default="NEEDS-ACTION")
    role: Mapped[str | None] = mapped_column(String(30))
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MeetingMessage(Base):
    """One calendar message applied to a meeting (or seen and left alone: `applied` false)."""

    __tablename__ = "meeting_messages"
    __table_args__ = (UniqueConstraint("account_id", "dedup_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    dedup_key: Mapped[str] = mapped_column(String(998))
    method: Mapped[str] = mapped_column(String(10))
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    applied: Mapped[bool] = mapped_column(Boolean, default=True)
    received_message_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
