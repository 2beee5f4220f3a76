"""The deals' tables: a deal (name, stage open | won | lost, optional company, optional owner,
times) with its contacts, the engagements linked to it (each link says how: by the account's
`deal_links` policy, a record address, or a subject tag), the deal ids a record address asked
for (kept with the received message, so a held one asks again when it is logged later), and the
requests that were ignored (an unknown deal, another account's), which `why` shows.
Same `Base` as models.py; every row is account-scoped. No SQL lives here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from smtp_logger.store.models import Base, UTCDateTime, utcnow


class Deal(Base):
    __tablename__ = "deals"
    __table_args__ = (Index("ix_deals_account_stage", "account_id", "stage"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    name: Mapped[str] = mapped_column(String(200))
    stage: Mapped[str] = mapped_column(String(10), default="open")  # open | won | lost
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"))
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DealContact(Base):
    __tablename__ = "deal_contacts"
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True, index=True)


class EngagementDeal(Base):
    __tablename__ = "engagement_deals"
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagements.id"), primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), primary_key=True, index=True)
    linked_by: Mapped[str] = mapped_column(String(10))  # policy | address | tag


class ReceivedDealRef(Base):
    """A deal id asked for by the record address (`<token>+deal-<id>@…`) a message came to."""

    __tablename__ = "received_deal_refs"
    id: Mapped[int] = mapped_column(primary_key=True)
    received_message_id: Mapped[int] = mapped_column(ForeignKey("received_messages.id"), index=True)
    ref: Mapped[str] = mapped_column(String(20))  # the digits as given (may name no deal)


class IgnoredDealRef(Base):
    """A record address or subject tag that named no deal of the account, when the email was
    logged: `reason` not_found | other_account."""

    __tablename__ = "ignored_deal_refs"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    received_message_id: Mapped[int] = mapped_column(ForeignKey("received_messages.id"), index=True)
    ref: Mapped[str] = mapped_column(String(20))
    via: Mapped[str] = mapped_column(String(10))  # address | tag
    reason: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
