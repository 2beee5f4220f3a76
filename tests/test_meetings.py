"""Meetings end to end over SMTP: an Outlook and a Google Calendar invitation BCC'd by a user are
logged as one `meeting` on the attendees who are contacts; a higher SEQUENCE updates it, a lower
one leaves it, a cancellation marks it cancelled, an attendee's REPLY sets their answer; the same
sender rules as for email; a calendar that cannot be read leaves an email with a note."""

from __future__ import annotations

import pytest

from . import invitations as inv
from .mailers import send

ALICE = "alice@ours.example"


@pytest.fixture
def alice(receiver):
    return receiver.add_user(ALICE, "--name", "Alice Example")


def deliver(receiver, raw: bytes, rcpt: str, mail_from: str = ALICE) -> None:
    send(receiver.port, raw, [rcpt], mail_from=mail_from)
    receiver.drain()


def meetings_of(receiver, contact: str) -> list[dict]:
    return [e for e in receiver.cli.json("timeline", contact) if e["type"] == "meeting"]


def only_decision(receiver, message_id: str) -> dict:
    [decision] = receiver.cli.json("why", message_id)
    return decision


def test_an_outlook_invitation_its_update_an_old_copy_a_reply_and_the_cancellation(receiver, alice):
    deliver(receiver, inv.outlook("invite-1@eurprd07.prod.outlook.com"), alice["bcc_address"])
    [bob] = receiver.cli.json("timeline", "bob@acme.example")
    assert bob["type"] == "meeting" and bob["direction"] == "outgoing" and bob["subject"] == "Product demo"
    meeting = bob["meeting"]
    assert meeting["uid"] == inv.OUTLOOK_UID and meeting["sequence"] == 0 and meeting["status"] == "confirmed"
    assert meeting["start"] == "2026-12-10T14:00:00+01:00" and meeting["end"] == "2026-12-10T15:00:00+01:00"
    assert meeting["time_zone"] == "Europe/Berlin"  # Outlook's "W. Europe Standard Time"
    assert meeting["location"] == "Microsoft Teams Meeting"
    assert meeting["organizer"] == {"address": ALICE, "name": "Alice Example"}
    assert [(a["address"], a["partstat"], a["role"]) for a in meeting["attendees"]] == [
        ("bob@acme.example", "NEEDS-ACTION", "REQ-PARTICIPANT"),
        ("carol@acme.example", "NEEDS-ACTION", "OPT-PARTICIPANT")]
    assert bob["attachments"] == []  # the invitation's calendar part is the meeting, not a file
    [carol] = receiver.cli.json("timeline", "carol@acme.example")
    assert carol["id"] == bob["id"]
    first = only_decision(receiver, "invite-1@eurprd07.prod.outlook.com")
    assert first["reason"] == "LOGGED" and first["logged_as"] == "meeting"
    assert "as a meeting" in first["explanation"] and first["engagement_id"] == bob["id"]

    # Moved to 16:00 (SEQUENCE 1): the same meeting, not a second one.
    deliver(receiver, inv.outlook("invite-2@eurprd07.prod.outlook.com", sequence=1, start="20261210T160000",
                                  end="20261210T170000"), alice["bcc_address"])
    [bob] = meetings_of(receiver, "bob@acme.example")
    assert bob["meeting"]["sequence"] == 1 and bob["meeting"]["start"] == "2026-12-10T16:00:00+01:00"
    update = only_decision(receiver, "invite-2@eurprd07.prod.outlook.com")
    assert update["logged_as"] == "meeting" and update["engagement_id"] == bob["id"]
    assert "updated" in update["explanation"]

    # A late copy of the first version (SEQUENCE 0) does not move it back.
    deliver(receiver, inv.outlook("invite-1-late@eurprd07.prod.outlook.com"), alice["bcc_address"])
    [bob] = meetings_of(receiver, "bob@acme.example")
    assert bob["meeting"]["sequence"] == 1 and bob["meeting"]["start"] == "2026-12-10T16:00:00+01:00"
    assert "unchanged" in only_decision(receiver, "invite-1-late@eurprd07.prod.outlook.com")["explanation"]

    # Bob accepts; Alice's mailbox rule copies his answer to her forwarding address.
    deliver(receiver, inv.outlook_reply("accept-bob@eurprd07.prod.outlook.com", sequence=1),
            alice["forward_address"], mail_from="bob@acme.example")
    reply = only_decision(receiver, "accept-bob@eurprd07.prod.outlook.com")
    assert reply["reason"] == "LOGGED" and reply["engagement_id"] == bob["id"], reply
    [bob] = meetings_of(receiver, "bob@acme.example")
    assert {a["address"]: a["partstat"] for a in bob["meeting"]["attendees"]} == {
        "bob@acme.example": "ACCEPTED", "carol@acme.example": "NEEDS-ACTION"}

    # The update arriving a second time is a duplicate; the cancellation marks it cancelled.
    deliver(receiver, inv.outlook("invite-2@eurprd07.prod.outlook.com", sequence=1, start="20261210T160000",
                                  end="20261210T170000"), alice["bcc_address"])
    assert [d["reason"] for d in receiver.cli.json("why", "invite-2@eurprd07.prod.outlook.com")] == [
        "LOGGED", "DUPLICATE"]
    deliver(receiver, inv.outlook("cancel@eurprd07.prod.outlook.com", subject="Canceled: Product demo",
                                  method="CANCEL", sequence=2, status="CANCELLED"), alice["bcc_address"])
    timeline = receiver.cli.json("timeline", "bob@acme.example")
    assert len(timeline) == 1 and timeline[0]["meeting"]["status"] == "cancelled"
    assert timeline[0]["meeting"]["start"] == "2026-12-10T16:00:00+01:00"
    assert "cancelled" in only_decision(receiver, "cancel@eurprd07.prod.outlook.com")["explanation"]


def test_a_google_calendar_invitation_to_the_bcc_address_as_a_guest(receiver, alice):
    guest = alice["bcc_address"]
    deliver(receiver, inv.google("calendar-7d3b4f5e@google.com", guest), guest)
    [dave] = receiver.cli.json("timeline", "dave@globex.example")
    assert dave["type"] == "meeting" and dave["subject"] == "Contract review"
    meeting = dave["meeting"]
    assert meeting["uid"] == inv.GOOGLE_UID and meeting["time_zone"] == "Europe/Amsterdam"
    assert meeting["start"] == "2026-12-15T11:00:00+01:00" and meeting["end"] == "2026-12-15T12:00:00+01:00"
    assert meeting["location"] == "Ours HQ, Keizersgracht 1, Amsterdam"
    assert {a["address"]: a["partstat"] for a in meeting["attendees"]}[ALICE] == "ACCEPTED"
    assert [a["filename"] for a in dave["attachments"]] == ["invite.ics"]
    receiver.cli("timeline", guest, expect=1)  # the logging address is no contact

    deliver(receiver, inv.google("calendar-cancel-7d3b4f5e@google.com", guest, method="CANCEL", sequence=1), guest)
    [dave] = receiver.cli.json("timeline", "dave@globex.example")
    assert dave["meeting"]["status"] == "cancelled" and dave["meeting"]["sequence"] == 1


def test_invitations_go_through_the_sender_rules(receiver, alice):
    stranger = inv.outlook("stranger@elsewhere.example", sender="Eve <eve@elsewhere.example>")
    deliver(receiver, stranger, alice["bcc_address"], mail_from="eve@elsewhere.example")
    assert only_decision(receiver, "stranger@elsewhere.example")["reason"] == "SENDER_NOT_ALLOWED"
    receiver.cli("timeline", "bob@acme.example", expect=1)  # nobody became a contact

    # A customer's own invitation copied by a mailbox rule: an automatic copy from a non-contact.
    invite = inv.outlook("from-bob@acme.example", sender="Bob Buyer <bob@acme.example>",
                         to="Alice Example <alice@ours.example>")
    deliver(receiver, invite, alice["forward_address"], mail_from="bob@acme.example")
    decision = only_decision(receiver, "from-bob@acme.example")
    assert decision["reason"] == "SENDER_NOT_CONTACT" and decision["logged_as"] is None


def test_a_reply_held_before_the_invitation_is_applied_when_the_invitation_is_logged(receiver, alice):
    deliver(receiver, inv.outlook_reply("early-accept@eurprd07.prod.outlook.com"), alice["forward_address"],
            mail_from="bob@acme.example")
    assert only_decision(receiver, "early-accept@eurprd07.prod.outlook.com")["reason"] == "SENDER_NOT_CONTACT"
    deliver(receiver, inv.outlook("invite@eurprd07.prod.outlook.com"), alice["bcc_address"])
    receiver.drain()
    [bob] = receiver.cli.json("timeline", "bob@acme.example")
    assert {a["address"]: a["partstat"] for a in bob["meeting"]["attendees"]}["bob@acme.example"] == "ACCEPTED"
    reasons = [d["reason"] for d in receiver.cli.json("why", "early-accept@eurprd07.prod.outlook.com")]
    assert reasons == ["SENDER_NOT_CONTACT", "LOGGED"]


def test_a_calendar_as_the_only_body_and_a_calendar_that_cannot_be_read(receiver, alice):
    ics = inv.outlook_ics().replace(inv.OUTLOOK_UID[:66], "only-body-uid-1").replace(" " + inv.OUTLOOK_UID[66:], "")
    deliver(receiver, inv.calendar_only("only-body@ours.example", ics), alice["bcc_address"])
    [meeting] = meetings_of(receiver, "bob@acme.example")
    assert meeting["meeting"]["uid"] == "only-body-uid-1"

    broken = inv.outlook("broken@ours.example", subject="Broken invite",
                         ics="BEGIN:VCALENDAR\nMETHOD:REQUEST\nBEGIN:VEVENT\nDTSTART:not-a-date\nUID:x\n")
    deliver(receiver, broken, alice["bcc_address"])
    decision = only_decision(receiver, "broken@ours.example")
    assert decision["reason"] == "LOGGED" and decision["logged_as"] == "email"
    assert "calendar invitation could not be read" in decision["explanation"]
    emails = [e for e in receiver.cli.json("timeline", "bob@acme.example") if e["subject"] == "Broken invite"]
    assert [e["type"] for e in emails] == ["email"]


def test_a_never_log_purge_removes_the_meeting_with_its_engagement(receiver, alice):
    deliver(receiver, inv.outlook("purged@eurprd07.prod.outlook.com"), alice["bcc_address"])
    assert len(meetings_of(receiver, "bob@acme.example")) == 1
    receiver.cli("never-log", "add", "acme.example")
    receiver.cli("never-log", "purge", "acme.example", "--yes")
    assert receiver.cli.json("timeline", "bob@acme.example") == []


def test_the_api_reads_carry_the_type_and_the_meeting(receiver, alice):
    from .apisupport import new_key, start_api
    deliver(receiver, inv.outlook("api-invite@eurprd07.prod.outlook.com"), alice["bcc_address"])
    send(receiver.port, inv.calendar_only("plain@ours.example", "not a calendar at all\n"), [alice["bcc_address"]],
         mail_from=ALICE)
    receiver.drain()
    server = start_api(receiver.settings)
    try:
        with server.client(new_key(receiver.cli)) as client:
            items = client.get("/v1/contacts/bob@acme.example/timeline").json()["items"]
            one = client.get(f"/v1/engagements/{items[0]['id']}").json()
            decisions = client.get("/v1/decisions", params={"message_id": "api-invite@eurprd07.prod.outlook.com"})
            feed = client.get("/v1/engagements").json()["items"]
    finally:
        server.stop()
    assert sorted(e["type"] for e in items) == ["email", "meeting"]
    meeting = next(e for e in items if e["type"] == "meeting")
    assert meeting["meeting"]["uid"] == inv.OUTLOOK_UID and meeting["meeting"]["status"] == "confirmed"
    assert one["type"] == items[0]["type"]
    assert decisions.json()["items"][0]["logged_as"] == "meeting"
    assert {c["engagement"]["type"] for c in feed} == {"email", "meeting"}
