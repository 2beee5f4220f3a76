"""The CRM schema: SQLAlchemy 2 typed models for every table smtp_logger reads or writes.

Tenancy: every row below `Account` carries `account_id`, and every unique constraint that
deduplicates (Message-ID, contact address, company domain) is scoped to the account, so two
receivers racing on one database cannot log one message twice. No SQL lives here.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (which forgets offsets) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    create_contacts: Mapped[bool] = mapped_column(Boolean, default=True)
    log_all_from_contacts: Mapped[bool] = mapped_column(Boolean, default=False)
    # Bumped whenever users, aliases, teams, logging addresses or never-log entries change,
    # so receivers can cache that directory and still never decide on stale data.
    directory_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    notify: Mapped[str | None] = mapped_column(String(10))  # off | immediate | daily; NULL: the default
    language: Mapped[str | None] = mapped_column(String(8))  # of the notices: en | nl; NULL: en
    # Which deals an engagement is linked to by policy (migration 0008): none | only_one | recent;
    # NULL: only_one. deal_links_max: how many with `recent`; NULL: 5.
    deal_links: Mapped[str | None] = mapped_column(String(10))
    deal_links_max: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("account_id", "email"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(200))
    notify: Mapped[str | None] = mapped_column(String(10))  # off | immediate | daily; NULL: the account's
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UserAlias(Base):
    """A verified extra sending address of a user."""

    __tablename__ = "user_aliases"
    __table_args__ = (UniqueConstraint("account_id", "address"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    address: Mapped[str] = mapped_column(String(320))
    verified: Mapped[bool] = mapped_column(Boolean, default=True)


class LoggingAddress(Base):
    """A user's BCC or forwarding address; `token` is the random local part (>= 128 bits)."""

    __tablename__ = "logging_addresses"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # "bcc" | "forward"
    address: Mapped[str] = mapped_column(String(320), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # grace period after rotation
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TeamAddress(Base):
    __tablename__ = "team_addresses"
    __table_args__ = (UniqueConstraint("account_id", "address"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    address: Mapped[str] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(200))


class TeamMember(Base):
    __tablename__ = "team_members"
    team_id: Mapped[int] = mapped_column(ForeignKey("team_addresses.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)


class Company(Base):
    __tablename__ = "companies"
    __table_args__ = (UniqueConstraint("account_id", "domain"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    domain: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))


class Contact(Base):
    __tablename__ = "contacts"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # admin, or the delivery that created it: bcc | manual_forward (never auto_copy)
    created_by: Mapped[str] = mapped_column(String(40), default="admin")


class ContactEmail(Base):
    __tablename__ = "contact_emails"
    __table_args__ = (UniqueConstraint("account_id", "address"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    address: Mapped[str] = mapped_column(String(320))


class NeverLog(Base):
    """An address or a whole domain never logged: account-wide (user_id NULL) or for one user."""

    __tablename__ = "never_log"
    __table_args__ = (UniqueConstraint("account_id", "user_id", "value"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    value: Mapped[str] = mapped_column(String(320))  # "a@b.com" or "b.com"


class Thread(Base):
    __tablename__ = "threads"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    owner_team_id: Mapped[int | None] = mapped_column(ForeignKey("team_addresses.id"))
    subject_key: Mapped[str] = mapped_column(String(500), default="")
    never_log: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ThreadMessageId(Base):
    """Every Message-ID a thread knows: its engagements' own and the ones they referenced."""

    __tablename__ = "thread_message_ids"
    __table_args__ = (UniqueConstraint("account_id", "message_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id"), index=True)
    message_id: Mapped[str] = mapped_column(String(998))


class Engagement(Base):
    __tablename__ = "engagements"
    __table_args__ = (
        UniqueConstraint("account_id", "dedup_key"),
        Index("ix_engagements_thread", "thread_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id"))
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    direction: Mapped[str] = mapped_column(String(10))  # incoming | outgoing
    from_address: Mapped[str | None] = mapped_column(String(320))
    from_name: Mapped[str | None] = mapped_column(String(200))
    to_addresses: Mapped[list] = mapped_column(JSON, default=list)
    cc_addresses: Mapped[list] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at_offset_minutes: Mapped[int] = mapped_column(Integer, default=0)
    body_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str | None] = mapped_column(Text)
    reply_text: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[str | None] = mapped_column(String(998))
    dedup_key: Mapped[str] = mapped_column(String(998))
    source: Mapped[str] = mapped_column(String(20))  # the delivery: bcc | manual_forward | auto_copy
    type: Mapped[str] = mapped_column(String(10), default="email", server_default="email")  # email | meeting
    received_message_id: Mapped[int | None] = mapped_column(ForeignKey("received_messages.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EngagementContact(Base):
    __tablename__ = "engagement_contacts"
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagements.id"), primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True, index=True)


class EngagementCompany(Base):
    __tablename__ = "engagement_companies"
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagements.id"), primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), primary_key=True)


class Attachment(Base):
    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagements.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)  # logos by sender; reclaim
    stored: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(String(500))
    content_id: Mapped[str | None] = mapped_column(String(998))
    inline: Mapped[bool] = mapped_column(Boolean, default=False)
    # A signature logo (kept for rendering, off the attachment list); the kind a blocked file was.
    signature: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    blocked_type: Mapped[str | None] = mapped_column(String(40))


class ReceivedMessage(Base):
    """One delivery to one logging address; `status` is owned by smtp_logger.store.lifecycle."""

    __tablename__ = "received_messages"
    __table_args__ = (UniqueConstraint("spool_id", "logging_address"),
                      Index("ix_received_flood", "logging_address", "from_address", "received_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    spool_id: Mapped[str] = mapped_column(String(64))
    logging_address: Mapped[str] = mapped_column(String(320))
    address_kind: Mapped[str] = mapped_column(String(10))  # the logging address's kind: bcc | forward
    message_id: Mapped[str | None] = mapped_column(String(998), index=True)
    mail_from: Mapped[str] = mapped_column(String(998), default="")
    raw_sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(20), index=True)
    reason: Mapped[str] = mapped_column(String(40))
    # The From: address (flood counting) and the sender check's verdict (migration 0004).
    from_address: Mapped[str | None] = mapped_column(String(320))
    auth_method: Mapped[str | None] = mapped_column(String(30))
    auth_spf: Mapped[str | None] = mapped_column(String(16))
    auth_dkim: Mapped[str | None] = mapped_column(String(16))
    auth_dmarc: Mapped[str | None] = mapped_column(String(16))
    auth_verdict: Mapped[str | None] = mapped_column(String(8))  # pass | fail | NULL (not checked)


class HeldWait(Base):
    """What a held message waits for: an address becoming a contact ("address") or a
    Message-ID getting logged ("message_id"); either may make it loggable."""

    __tablename__ = "held_waits"
    __table_args__ = (Index("ix_held_waits_lookup", "account_id", "kind", "value"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    received_message_id: Mapped[int] = mapped_column(ForeignKey("received_messages.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(998))


class Decision(Base):
    """What was decided for one received message at one logging address; appended, never edited."""

    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    received_message_id: Mapped[int] = mapped_column(ForeignKey("received_messages.id"), index=True)
    message_id: Mapped[str | None] = mapped_column(String(998), index=True)
    logging_address: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text, default="")
    engagement_id: Mapped[int | None] = mapped_column(ForeignKey("engagements.id"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Notice(Base):
    """The outbox of mail to users (smtp_logger.store.notices writes it in the decision's own
    transaction; run/notifier.py sends it after the commit). `status`: queued -> sending ->
    sent | failed, or waiting -> digested (a digest item, carried by the digest row `digest_id`)."""

    __tablename__ = "notices"
    __table_args__ = (
        UniqueConstraint("received_message_id", "reason"),
        Index("ix_notices_user_created", "user_id", "created_at"),
        Index("ix_notices_status", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    received_message_id: Mapped[int | None] = mapped_column(ForeignKey("received_messages.id"))
    kind: Mapped[str] = mapped_column(String(10))  # notice | digest
    reason: Mapped[str] = mapped_column(String(40))
    mode: Mapped[str] = mapped_column(String(10))  # immediate | digest
    status: Mapped[str] = mapped_column(String(10))
    recipient: Mapped[str] = mapped_column(String(320))
    facts: Mapped[dict] = mapped_column(JSON, default=dict)  # what the text is made from
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    digest_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BlobRow(Base):
    """A blob of the database blob store (store/blobstore/database.py): its content is in
    blob_chunks. `sha256` is NULL while it is being written and set, with `complete`, in the
    transaction that finishes it; only complete rows are ever read or referenced."""

    __tablename__ = "blobs"
    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    touched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # last put of these bytes


class BlobChunk(Base):
    __tablename__ = "blob_chunks"
    blob_id: Mapped[int] = mapped_column(ForeignKey("blobs.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
