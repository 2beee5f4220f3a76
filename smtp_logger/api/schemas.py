"""The API's bodies as pydantic models: they validate what comes in, filter what goes out (a
response never carries a field its model does not name) and are the OpenAPI document's
schemas. Field names follow the command line's `--json` output.
"""

from __future__ import annotations

from typing import Annotated, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema

from smtp_logger.understand.addresses import is_valid_address, normalize_address

T = TypeVar("T")


def _address(value: str) -> str:
    value = normalize_address(value)
    if not value.isprintable() or " " in value or not is_valid_address(value):
        raise ValueError("not a valid email address")
    return value


Email = Annotated[str, StringConstraints(min_length=3, max_length=320), AfterValidator(_address),
                  WithJsonSchema({"type": "string", "format": "email", "minLength": 3, "maxLength": 320})]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last one")


class Attachment(BaseModel):
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str | None
    stored: bool
    inline: bool
    content_id: str | None
    reason: str | None = Field(None, description="Why it was not stored: `blocked` (executable content), too large, ...")
    blocked_type: str | None = Field(None, description="The executable kind of a blocked file "
                                                       "(`blocked_attachment_types`)")


class Person(BaseModel):
    address: str
    name: str | None


class MeetingAttendee(Person):
    partstat: str = Field(description="NEEDS-ACTION, ACCEPTED, DECLINED, TENTATIVE or DELEGATED")
    role: str | None


class Meeting(BaseModel):
    """A `meeting` engagement's invitation, as its latest REQUEST, CANCEL and REPLYs left it."""

    uid: str
    sequence: int
    status: Literal["confirmed", "cancelled"]
    summary: str
    start: str | None = Field(description="ISO 8601 in the meeting's time zone")
    end: str | None
    all_day: bool
    time_zone: str | None
    location: str
    organizer: Person | None
    attendees: list[MeetingAttendee]


class Company(BaseModel):
    domain: str
    name: str


class DealLink(BaseModel):
    id: int
    name: str
    linked_by: Literal["policy", "address", "tag"]


class IgnoredDeal(BaseModel):
    id: int
    via: Literal["address", "tag"]
    reason: Literal["not_found", "other_account"]


class Engagement(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    id: int
    type: Literal["email", "meeting"]
    direction: Literal["incoming", "outgoing"]
    subject: str
    from_: str | None = Field(alias="from")
    from_name: str | None
    to: list[str]
    cc: list[str]
    sent_at: str = Field(description="ISO 8601, UTC")
    thread_id: int
    message_id: str | None
    body_text: str
    reply_text: str
    has_html: bool
    source: str
    attachments: list[Attachment] = Field(description="Its files, signature logos left out")
    signature_images: list[Attachment] = Field(description="Inline signature logos, kept for rendering")
    contacts: list[str]
    companies: list[Company]
    owner: str | None
    deals: list[DealLink] = Field(default_factory=list)
    meeting: Meeting | None = Field(None, description="For a `meeting`: the invitation's details")


class Change(BaseModel):
    """One entry of the change feed, in commit order."""

    change: Literal["written", "updated", "deleted"]
    engagement_id: int
    at: str = Field(description="When the change was committed (ISO 8601, UTC)")
    engagement: Engagement | None = Field(description="Its current state; null once deleted")


class Feed(BaseModel):
    items: list[Change]
    next_cursor: str | None = Field(description="Pass as `since` to continue; null before any change")


class DecisionOut(BaseModel):
    logging_address: str
    logged: bool
    reason: str
    explanation: str
    engagement_id: int | None
    logged_as: Literal["email", "meeting"] | None = Field(None, description="What a LOGGED decision wrote")
    decided_at: str
    deals: list[DealLink] = Field(default_factory=list)
    deal_ignored: list[IgnoredDeal] = Field(default_factory=list, description="Record addresses and tags "
                                            "naming no deal of the account")


class Held(BaseModel):
    id: int
    message_id: str | None
    logging_address: str
    reason: str
    explanation: str
    received_at: str
    subject: str


class Released(BaseModel):
    id: int
    status: Literal["logged", "not_logged"]
    reason: str
    engagement_id: int | None


class User(BaseModel):
    id: int
    email: str
    name: str | None
    aliases: list[str]
    bcc_address: str | None
    forward_address: str | None


class UserIn(BaseModel):
    email: Email
    name: Name | None = None
    aliases: list[Email] = Field(default_factory=list, max_length=50)


class AliasIn(BaseModel):
    alias: Email


class Contact(BaseModel):
    id: int
    name: str | None
    emails: list[str]
    company_id: int | None
    retroactively_logged: int = Field(0, description="Held messages this change logged")


class ContactIn(BaseModel):
    email: Email
    name: Name | None = None
    emails: list[Email] = Field(default_factory=list, max_length=50, description="Other addresses")


class EmailIn(BaseModel):
    email: Email


class MergeIn(BaseModel):
    keep: Email
    other: Email


class BatchIn(BaseModel):
    contacts: list[ContactIn] = Field(min_length=1, max_length=1000)


class BatchItem(BaseModel):
    email: str
    status: Literal["created", "updated", "unchanged", "error"]
    id: int | None = None
    error: str | None = None


class BatchOut(BaseModel):
    results: list[BatchItem]
    retroactively_logged: int


class NeverLogIn(BaseModel):
    value: Annotated[str, StringConstraints(min_length=1, max_length=320)] = Field(
        description="An address or a domain")
    user: Email | None = Field(None, description="Personal list of this user; account-wide when absent")


class NeverLogOut(BaseModel):
    value: str
    user: str | None


class Purged(BaseModel):
    value: str
    deleted: int


class AccountOut(BaseModel):
    id: int
    name: str
    create_contacts: bool
    log_all_from_contacts: bool
    notify: str = Field(description="How users are told by default (`smtp-logger notices set`)")
    language: str = Field(description="Of the notices to users")
    deal_links: Literal["none", "only_one", "recent"] = Field(description="Which open deals a logged email is linked to")
    deal_links_max: int = Field(description="How many with `recent`")


class AccountPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    create_contacts: bool | None = None
    log_all_from_contacts: bool | None = None
    language: Literal["en", "nl"] | None = None
    deal_links: Literal["none", "only_one", "recent"] | None = None
    deal_links_max: Annotated[int, Field(ge=1, le=100)] | None = None


class Deal(BaseModel):
    id: int
    name: str
    stage: Literal["open", "won", "lost"]
    contacts: list[str]
    company: str | None
    owner: str | None
    created_at: str
    updated_at: str
    bcc_address: str | None = Field(description="Record address: mail BCC'd to it is logged on the deal")
    forward_address: str | None = Field(description="Record address for forwards")


class DealIn(BaseModel):
    name: Name
    contacts: list[Email] = Field(min_length=1, max_length=50)
    company: Annotated[str, StringConstraints(min_length=3, max_length=255, pattern=r"^[A-Za-z0-9.-]+$")] | None = \
        Field(None, description="The company's domain")
    owner: Email | None = Field(None, description="A user's email")


class DealPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stage: Literal["open", "won", "lost"]


EventType = Literal["engagement.logged", "engagement.updated", "engagement.deleted", "message.held",
                    "message.not_logged", "message.released"]


class WebhookIn(BaseModel):
    url: Annotated[str, StringConstraints(min_length=8, max_length=2000)]
    events: list[EventType] = Field(default_factory=list, max_length=10, description="Empty: every type")
    description: Annotated[str, StringConstraints(max_length=200)] = ""


class Webhook(BaseModel):
    id: int
    url: str
    events: list[EventType]
    description: str
    active: bool
    disabled_reason: str | None
    created_at: str


class WebhookCreated(Webhook):
    secret: str = Field(description="whsec_...: shown once; verify signatures with it (Standard Webhooks)")


class Delivery(BaseModel):
    id: int
    event_id: int
    webhook_id: str
    type: str
    attempt: int
    outcome: Literal["delivered", "failed", "given_up", "gone"]
    status_code: int | None
    error: str | None
    duration_ms: int
    attempted_at: str
