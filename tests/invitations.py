"""Calendar invitations in the formats Outlook/Exchange and Google Calendar send, written out as
they arrive (headers, MIME layout, transfer encodings, the iCalendar text with its folded lines,
VTIMEZONE blocks and vendor X- properties); only the people, times and UIDs are filled in."""

from __future__ import annotations

import base64

OUTLOOK_UID = ("040000008200E00074C5B7101A82E00800000000A0B1C2D3E4F5D901000000000000000010000000"
               "F1E2D3C4B5A69788")
GOOGLE_UID = "5q1r2s3t4u5v6w7x8y9z0abcde@google.com"


def _crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def _b64(data: bytes) -> str:
    return base64.encodebytes(data).decode("ascii").replace("\n", "\r\n")


W_EUROPE = """BEGIN:VTIMEZONE
TZID:W. Europe Standard Time
BEGIN:STANDARD
DTSTART:16010101T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE
"""


def outlook_ics(method: str = "REQUEST", sequence: int = 0, start: str = "20261210T140000",
                end: str = "20261210T150000", status: str = "CONFIRMED",
                attendees: str | None = None) -> str:
    attendees = attendees if attendees is not None else (
        "ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN=Bob Buyer:mailt\n"
        " o:bob@acme.example\n"
        "ATTENDEE;ROLE=OPT-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN=Carol Chief:m\n"
        " ailto:carol@acme.example\n")
    return f"""BEGIN:VCALENDAR
METHOD:{method}
PRODID:Microsoft Exchange Server 2010
VERSION:2.0
{W_EUROPE}BEGIN:VEVENT
ORGANIZER;CN=Alice Example:mailto:alice@ours.example
{attendees}DESCRIPTION;LANGUAGE=en-US:Hi Bob\\, Carol\\,\\n\\nLet's walk through the product.\\n\\n__
 ______________________________________________________________________\\nMi
 crosoft Teams meeting\\nJoin on your computer or mobile app\\n
UID:{OUTLOOK_UID[:66]}
 {OUTLOOK_UID[66:]}
SUMMARY;LANGUAGE=en-US:Product demo
DTSTART;TZID=W. Europe Standard Time:{start}
DTEND;TZID=W. Europe Standard Time:{end}
CLASS:PUBLIC
PRIORITY:5
DTSTAMP:20261204T091522Z
TRANSP:OPAQUE
STATUS:{status}
SEQUENCE:{sequence}
LOCATION;LANGUAGE=en-US:Microsoft Teams Meeting
X-MICROSOFT-CDO-APPT-SEQUENCE:{sequence}
X-MICROSOFT-CDO-OWNERAPPTID:2120874452
X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE
X-MICROSOFT-CDO-INTENDEDSTATUS:BUSY
X-MICROSOFT-CDO-ALLDAYEVENT:FALSE
X-MICROSOFT-CDO-IMPORTANCE:1
X-MICROSOFT-CDO-INSTTYPE:0
X-MICROSOFT-ONLINEMEETINGINFORMATION:{{"OnlineMeetingChannelId":null,"Onlin
 eMeetingProvider":3}}
X-MICROSOFT-DONOTFORWARDMEETING:FALSE
X-MICROSOFT-DISALLOW-COUNTER:FALSE
X-MICROSOFT-LOCATIONS:[ {{ "DisplayName" : "Microsoft Teams Meeting"\\, "Loca
 tionAnnotation" : ""\\, "LocationSource" : 0\\, "Unresolved" : false\\, "Loc
 ationUri" : "" }} ]
BEGIN:VALARM
DESCRIPTION:REMINDER
TRIGGER;RELATED=START:-PT15M
ACTION:DISPLAY
END:VALARM
END:VEVENT
END:VCALENDAR
"""


def outlook(message_id: str, subject: str = "Product demo", method: str = "REQUEST", sequence: int = 0,
            start: str = "20261210T140000", end: str = "20261210T150000", status: str = "CONFIRMED",
            sender: str = "Alice Example <alice@ours.example>",
            to: str = "Bob Buyer <bob@acme.example>, Carol Chief <carol@acme.example>",
            ics: str | None = None) -> bytes:
    """An Exchange Online meeting request: multipart/alternative with text/plain, text/html and a
    base64 text/calendar part, as Outlook desktop and Outlook on the web send it."""
    ics = ics if ics is not None else outlook_ics(method, sequence, start, end, status)
    boundary = "_000_AM0PR07MB6243D1B5E0C4F2A9C5E3B1A7D0C8AM0PR07MB6243eurp_"
    return _crlf(f"""Received: from AM0PR07MB6243.eurprd07.prod.outlook.com (2603:10a6:208:11c::20)
 by AM0PR07MB6243.eurprd07.prod.outlook.com with HTTPS; Fri, 4 Dec 2026 09:15:23 +0000
From: {sender}
To: {to}
Subject: {subject}
Thread-Topic: Product demo
Thread-Index: AdrGm1a2b3c4d5e6f7g8h9i0jAbCdE==
Date: Fri, 4 Dec 2026 09:15:22 +0000
Message-ID: <{message_id}>
Accept-Language: en-US, nl-NL
Content-Language: en-US
X-MS-Exchange-Organization-AuthAs: Internal
X-MS-Has-Attach:
X-MS-TNEF-Correlator:
x-ms-exchange-calendar-series-instance-id: BAAAAIIA4AB0xbcQGoLgCAAAAAAw4dT1jsXZAQAAAAAAAAAAEAAAAPHi08S1ppeI
x-ms-publictraffictype: Email
MIME-Version: 1.0
Content-Type: multipart/alternative;
\tboundary="{boundary}"

--{boundary}
Content-Type: text/plain; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable

Hi Bob, Carol,

Let's walk through the product.

___________________________________________________________________________=
_____
Microsoft Teams meeting
Join on your computer or mobile app

--{boundary}
Content-Type: text/html; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable

<html><head><meta http-equiv=3D"Content-Type" content=3D"text/html; charset=
=3Dus-ascii"></head><body><div class=3D"WordSection1"><p class=3D"MsoNormal=
">Hi Bob, Carol,</p><p class=3D"MsoNormal">Let's walk through the product.<=
/p></div></body></html>

--{boundary}
Content-Type: text/calendar; charset="utf-8"; method={method}
Content-Transfer-Encoding: base64

{_b64(_crlf(ics))}
--{boundary}--
""")


def outlook_reply(message_id: str, partstat: str = "ACCEPTED", sequence: int = 0) -> bytes:
    """Bob's answer from Outlook: METHOD:REPLY with his ATTENDEE line only."""
    word = {"ACCEPTED": "Accepted", "DECLINED": "Declined", "TENTATIVE": "Tentative"}[partstat]
    ics = f"""BEGIN:VCALENDAR
METHOD:REPLY
PRODID:Microsoft Exchange Server 2010
VERSION:2.0
{W_EUROPE}BEGIN:VEVENT
ORGANIZER;CN=Alice Example:mailto:alice@ours.example
ATTENDEE;PARTSTAT={partstat};CN=Bob Buyer:mailto:bob@acme.example
UID:{OUTLOOK_UID}
SUMMARY;LANGUAGE=en-US:{word}: Product demo
DTSTART;TZID=W. Europe Standard Time:20261210T140000
DTEND;TZID=W. Europe Standard Time:20261210T150000
CLASS:PUBLIC
PRIORITY:5
DTSTAMP:20261204T101500Z
TRANSP:OPAQUE
STATUS:CONFIRMED
SEQUENCE:{sequence}
LOCATION;LANGUAGE=en-US:Microsoft Teams Meeting
X-MICROSOFT-CDO-APPT-SEQUENCE:{sequence}
X-MICROSOFT-CDO-OWNERAPPTID:2120874452
X-MICROSOFT-CDO-REPLYTIME:20261204T101500Z
END:VEVENT
END:VCALENDAR
"""
    return outlook(message_id, subject=f"{word}: Product demo", method="REPLY", ics=ics,
                   sender="Bob Buyer <bob@acme.example>", to="Alice Example <alice@ours.example>")


AMSTERDAM = """BEGIN:VTIMEZONE
TZID:Europe/Amsterdam
X-LIC-LOCATION:Europe/Amsterdam
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE
"""


def google_ics(guest: str, method: str = "REQUEST", sequence: int = 0) -> str:
    return f"""BEGIN:VCALENDAR
PRODID:-//Google Inc//Google Calendar 70.9054//EN
VERSION:2.0
CALSCALE:GREGORIAN
METHOD:{method}
{AMSTERDAM}BEGIN:VEVENT
DTSTART;TZID=Europe/Amsterdam:20261215T110000
DTEND;TZID=Europe/Amsterdam:20261215T120000
DTSTAMP:20261204T100211Z
ORGANIZER;CN=Alice Example:mailto:alice@ours.example
UID:{GOOGLE_UID}
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=TRUE
 ;CN=Alice Example;X-NUM-GUESTS=0:mailto:alice@ours.example
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=
 TRUE;CN=dave@globex.example;X-NUM-GUESTS=0:mailto:dave@globex.example
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=
 TRUE;CN={guest};X-NUM-GUESTS=0:mailto:{guest}
X-MICROSOFT-CDO-OWNERAPPTID:-1530592785
CREATED:20261204T100209Z
DESCRIPTION:Going through the contract before signing.\\n\\n-::~:~::~:~:~:~:~
 :~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~::~:~
 ::-\\nInvitation from Google Calendar: https://calendar.google.com/calendar/
 \\n\\nYou are receiving this email because you are an attendee on the event.
 \\n-::~:~::~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~
 :~:~:~:~:~::~:~::-
LAST-MODIFIED:20261204T100210Z
LOCATION:Ours HQ\\, Keizersgracht 1\\, Amsterdam
SEQUENCE:{sequence}
STATUS:{"CANCELLED" if method == "CANCEL" else "CONFIRMED"}
SUMMARY:Contract review
TRANSP:OPAQUE
END:VEVENT
END:VCALENDAR
"""


def google(message_id: str, guest: str, method: str = "REQUEST", sequence: int = 0) -> bytes:
    """Google Calendar's invitation to one guest (here the user's BCC address, added as a guest):
    multipart/mixed > multipart/alternative (text/plain, text/html, text/calendar method=REQUEST)
    and the same calendar again as invite.ics (application/ics)."""
    ics = _crlf(google_ics(guest, method, sequence))
    outer, inner = "000000000000a1b2c3d4e5f60718", "000000000000a1b2c3d4e5f60717"
    word = "Invitation" if method == "REQUEST" else "Canceled event"
    plain = _b64(_crlf("You have been invited to the following event.\n\nContract review\n"
                       "Tuesday Dec 15, 2026 ⋅ 11am – 12pm\nCentral European Time - Amsterdam\n\n"
                       "Location\nOurs HQ, Keizersgracht 1, Amsterdam\n\nGuests\nAlice Example - organizer\n"
                       "dave@globex.example\n"))
    return _crlf(f"""MIME-Version: 1.0
Date: Fri, 04 Dec 2026 10:02:11 +0000
Reply-To: Alice Example <alice@ours.example>
Sender: Google Calendar <calendar-notification@google.com>
Message-ID: <{message_id}>
Subject: {word}: Contract review @ Tue Dec 15, 2026 11am - 12pm (CET) ({guest})
From: Alice Example <alice@ours.example>
To: {guest}
Content-Type: multipart/mixed; boundary="{outer}"

--{outer}
Content-Type: multipart/alternative; boundary="{inner}"

--{inner}
Content-Type: text/plain; charset="UTF-8"; format=flowed; delsp=yes
Content-Transfer-Encoding: base64

{plain}
--{inner}
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

<span itemscope itemtype=3D"http://schema.org/InformAction"><span style=3D"=
display:none" itemprop=3D"about" itemscope itemtype=3D"http://schema.org/Pe=
rson"><meta itemprop=3D"description" content=3D"Invitation from Alice Examp=
le"/></span></span><div><h2>Contract review</h2><p>Tuesday Dec 15, 2026 =E2=
=8B=85 11am =E2=80=93 12pm</p></div>

--{inner}
Content-Type: text/calendar; charset="UTF-8"; method={method}
Content-Transfer-Encoding: 7bit

""") + ics + _crlf(f"""
--{inner}--

--{outer}
Content-Type: application/ics; name="invite.ics"
Content-Disposition: attachment; filename="invite.ics"
Content-Transfer-Encoding: base64

{_b64(ics)}
--{outer}--
""")


def calendar_only(message_id: str, ics: str, sender: str = "alice@ours.example",
                  to: str = "bob@acme.example") -> bytes:
    """A message whose only body is the text/calendar part (some calendar servers send these)."""
    return _crlf(f"""From: {sender}
To: {to}
Subject: Quick sync
Date: Fri, 4 Dec 2026 12:00:00 +0100
Message-ID: <{message_id}>
MIME-Version: 1.0
Content-Type: text/calendar; charset="utf-8"; method=REQUEST
Content-Transfer-Encoding: 7bit

""") + _crlf(ics)
