"""Calendar invitations: the `text/calendar` part of a message (inline, attached, the only body,
or inside multipart/alternative as Outlook and Google send it; an `application/ics` file when
there is no such part) read with `icalendar` into an `Invitation` for METHOD REQUEST, CANCEL or
REPLY. Promise: never raises; an invitation that cannot be read is a `note` (the email is then
handled as an email). Pure but for reading a large part's work file; no database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from smtp_logger.understand.addresses import Mailbox, normalize_address

MEETING_METHODS = ("REQUEST", "CANCEL", "REPLY")
MAX_CALENDAR_BYTES = 2_000_000  # an invitation is a few KB; Outlook may embed files in it
CALENDAR_TYPES = ("text/calendar", "application/ics", "application/x-ics")


@dataclass(frozen=True)
class Attendee:
    address: str
    name: str | None
    partstat: str  # NEEDS-ACTION | ACCEPTED | DECLINED | TENTATIVE | DELEGATED
    role: str | None


@dataclass(frozen=True)
class Invitation:
    method: str  # REQUEST | CANCEL | REPLY
    uid: str
    sequence: int
    summary: str
    starts_at: datetime | None  # aware, UTC
    ends_at: datetime | None
    all_day: bool
    time_zone: str | None  # IANA name when known (Windows names are mapped), else the TZID as sent
    location: str
    organizer: Mailbox | None
    attendees: tuple[Attendee, ...]


@dataclass(frozen=True)
class CalendarReading:
    """What the calendar part said: an invitation, or why it could not be read (`note`)."""

    invitation: Invitation | None
    note: str | None = None


def _is_calendar(part) -> bool:
    kind = (part.content_type or "").lower()
    return kind in CALENDAR_TYPES or (part.filename or "").lower().endswith(".ics")


def _calendar_bytes(part) -> bytes:
    if part.blob is not None:
        if part.blob.size > MAX_CALENDAR_BYTES:
            raise ValueError("calendar part too large")
        return part.blob.path.read_bytes()
    data = part.part.get_payload(decode=True)
    if not isinstance(data, bytes):
        raise ValueError("calendar part has no content")
    if len(data) > MAX_CALENDAR_BYTES:
        raise ValueError("calendar part too large")
    return data


def find_invitation(attachments) -> CalendarReading | None:
    """The invitation among a message's parts (parse.AttachmentPart); None when there is no
    calendar part, or one that is not a meeting message (PUBLISH, a plain .ics file)."""
    parts = [a for a in attachments if _is_calendar(a)]
    if not parts:
        return None
    parts.sort(key=lambda a: (a.content_type.lower() != "text/calendar", a.inline is False))
    try:
        return read_invitation(_calendar_bytes(parts[0]), _method_param(parts[0]))
    except Exception as exc:  # noqa: BLE001 - a bad invitation is an email with a note, never a crash
        return CalendarReading(None, f"the calendar invitation could not be read ({exc.__class__.__name__}); "
                                     "logged as an email")


def _method_param(part) -> str:
    try:
        value = part.part.get_param("method", header="content-type")
    except Exception:  # noqa: BLE001
        return ""
    return str(value or "").strip().upper() if not isinstance(value, tuple) else ""


def read_invitation(data: bytes, method_hint: str = "") -> CalendarReading | None:
    """An iCalendar object's meeting message; raises on a calendar icalendar cannot read."""
    calendar = icalendar.Calendar.from_ical(data)
    method = str(calendar.get("METHOD") or method_hint or "").strip().upper()
    if method not in MEETING_METHODS:
        return None
    events = [e for e in calendar.walk("VEVENT")]
    if not events:
        return CalendarReading(None, f"the calendar {method} holds no event; logged as an email")
    event = next((e for e in events if e.get("RECURRENCE-ID") is None), events[0])
    uid = str(event.get("UID") or "").strip()
    if not uid:
        return CalendarReading(None, "the calendar invitation has no UID; logged as an email")
    start, all_day, zone = _moment(event, "DTSTART")
    end, _, _ = _moment(event, "DTEND")
    return CalendarReading(Invitation(
        method=method, uid=uid[:900], sequence=_sequence(event), summary=_text(event, "SUMMARY")[:2000],
        starts_at=start, ends_at=end, all_day=all_day, time_zone=zone,
        location=_text(event, "LOCATION")[:1000], organizer=_person(event.get("ORGANIZER")),
        attendees=tuple(_attendees(event))))


def _text(event, name: str) -> str:
    value = event.get(name)
    return " ".join(str(value).split()) if value is not None else ""


def _sequence(event) -> int:
    try:
        return max(0, int(str(event.get("SEQUENCE", 0)).strip()))
    except ValueError:
        return 0


def zone_name(tzid: str | None) -> str | None:
    """An IANA zone name for a TZID (Outlook's "W. Europe Standard Time" -> Europe/Berlin)."""
    if not tzid:
        return None
    tzid = tzid.strip().strip('"')
    mapped = WINDOWS_TO_OLSON.get(tzid, tzid)
    try:
        ZoneInfo(mapped)
    except (ZoneInfoNotFoundError, ValueError):
        return tzid[:64]
    return mapped


def _moment(event, name: str) -> tuple[datetime | None, bool, str | None]:
    """(the instant in UTC, whether it is a whole day, its time zone)."""
    prop = event.get(name)
    if prop is None:
        return None, False, None
    value = event.decoded(name)
    tzid = prop.params.get("TZID") if hasattr(prop, "params") else None
    zone = zone_name(tzid)
    if isinstance(value, datetime):
        if value.tzinfo is None:  # floating time: read in its TZID's zone when known, else UTC
            value = value.replace(tzinfo=_zone(zone))
        elif getattr(value.tzinfo, "key", None) is None and value.utcoffset() == timezone.utc.utcoffset(None):
            zone = zone or "UTC"
        return value.astimezone(timezone.utc), False, zone or _zone_of(value)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=timezone.utc), True, zone
    raise ValueError(f"{name} is not a date")


def _zone(name: str | None):
    try:
        return ZoneInfo(name) if name else timezone.utc
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.utc


def _zone_of(value: datetime) -> str | None:
    key = getattr(value.tzinfo, "key", None) or getattr(value.tzinfo, "zone", None)
    return str(key) if key else ("UTC" if value.utcoffset() == timezone.utc.utcoffset(None) else None)


def _address(value) -> str | None:
    text = str(value or "").strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    text = normalize_address(text)
    return text if "@" in text else None


def _person(value) -> Mailbox | None:
    if value is None:
        return None
    if isinstance(value, list):
        value = value[0] if value else None
    address = _address(value)
    if address is None:
        return None
    name = getattr(value, "params", {}).get("CN")
    return Mailbox(str(name).strip().strip('"') if name else None, address)


def _attendees(event) -> list[Attendee]:
    values = event.get("ATTENDEE")
    if values is None:
        return []
    found: dict[str, Attendee] = {}
    for value in values if isinstance(values, list) else [values]:
        address = _address(value)
        if address is None or address in found:
            continue
        params = getattr(value, "params", {})
        name = params.get("CN")
        found[address] = Attendee(address, str(name).strip().strip('"') if name else None,
                                  str(params.get("PARTSTAT") or "NEEDS-ACTION").upper()[:20],
                                  str(params.get("ROLE")).upper()[:30] if params.get("ROLE") else None)
    return list(found.values())[:500]


def as_mailboxes(invitation: Invitation) -> list[Mailbox]:
    """The invitation's people as mail participants: organizer first, then the attendees."""
    people = [invitation.organizer] if invitation.organizer else []
    return people + [Mailbox(a.name, a.address) for a in invitation.attendees]
