"""Hand-written forward shapes: clients, languages, HTML-only mail, rfc822 attachments, junk input.

Complements the corpus tests with cases the corpora lack: Gmail HTML in nl/de, Outlook desktop in
fr/es, iOS, localized dates with and without offsets, name-only senders, notes, subjects.
"""

from __future__ import annotations

import email
import random
from datetime import datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage

import pytest

from smtp_logger.understand.forwards import (
    extract_inline_forward,
    find_original,
    normalize_subject,
    parse_date,
    strip_forward_prefixes,
)
from smtp_logger.understand.htmltext import html_to_text

BODY = "Hi Sam,\n\nCan you send the revised quote by Friday?\n\nThanks,\nAnna"


def _message(subject: str, *, text: str | None = None, html: str | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Sam Rep <sam@seller.example>"
    msg["To"] = "log@crm.example"
    msg["Subject"] = subject
    if text is not None:
        msg.set_content(text)
        if html is not None:
            msg.add_alternative(html, subtype="html")
    else:
        msg.set_content(html, subtype="html")
    return email.message_from_bytes(msg.as_bytes(), policy=policy.default)


def _gmail_html(separator: str, labels: tuple[str, str, str, str], date: str) -> str:
    sender, when, subject, to = labels
    return f"""<div dir="ltr">FYI, see below<br><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">
{separator}<br>{sender}: <strong class="gmail_sendername" dir="auto">Anna Buyer</strong>
<span dir="auto">&lt;<a href="mailto:anna@customer.example">anna@customer.example</a>&gt;</span><br>
{when}: {date}<br>{subject}: Re: Quote &amp; delivery<br>{to}: Sam Rep &lt;<a href="mailto:sam@seller.example">sam@seller.example</a>&gt;<br></div><br><br>
<div dir="ltr">Hi Sam,<div><br></div><div>Can you send the revised quote by Friday?</div><div><br></div><div>Thanks,</div><div>Anna</div></div>
</div></div>"""


@pytest.mark.parametrize(
    ("separator", "labels", "date", "expected_date"),
    [
        ("---------- Forwarded message ---------", ("From", "Date", "Subject", "To"),
         "Mon, Nov 23, 2026 at 10:15 AM", datetime(2026, 11, 23, 10, 15)),
        ("---------- Doorgestuurd bericht ---------", ("Van", "Date", "Subject", "To"),
         "ma 23 nov 2026 om 10:15", datetime(2026, 11, 23, 10, 15)),
        ("---------- Weitergeleitete Nachricht ---------", ("Von", "Date", "Subject", "To"),
         "Mo., 23. Nov. 2026 um 10:15 Uhr", datetime(2026, 11, 23, 10, 15)),
    ],
    ids=["gmail-en", "gmail-nl", "gmail-de"],
)
def test_gmail_html_only(separator, labels, date, expected_date) -> None:
    got = find_original(_message("Fwd: Re: Quote & delivery", html=_gmail_html(separator, labels, date)))
    assert got is not None and got.source == "inline"
    assert (got.from_.name, got.from_.address) == ("Anna Buyer", "anna@customer.example")
    assert [box.address for box in got.to] == ["sam@seller.example"]
    assert got.subject == "Re: Quote & delivery"          # the original's own Re: is kept
    assert got.date_raw == date
    assert got.date == expected_date
    assert got.body_text == BODY
    assert got.note == "FYI, see below"


OUTLOOK_FR = """Voir ci-dessous.

De : Anna Buyer <anna@customer.example>
Envoyé : lundi 23 novembre 2026 10:15
À : Sam Rep <sam@seller.example>; Léa Martin <lea@seller.example>
Cc : Achats <achats@customer.example>
Objet : RE: Devis

""" + BODY

OUTLOOK_ES = """De: Anna Buyer [mailto:anna@customer.example]
Enviado el: lunes, 23 de noviembre de 2026 10:15
Para: Sam Rep <sam@seller.example>
CC: compras@customer.example
Asunto: Presupuesto

""" + BODY


def test_outlook_desktop_french() -> None:
    got = extract_inline_forward(OUTLOOK_FR, "TR: RE: Devis")
    assert got.from_.address == "anna@customer.example"
    assert [box.address for box in got.to] == ["sam@seller.example", "lea@seller.example"]
    assert got.to[1].name == "Léa Martin"
    assert got.cc[0].address == "achats@customer.example"
    assert got.subject == "RE: Devis"
    assert got.date == datetime(2026, 11, 23, 10, 15)
    assert got.note == "Voir ci-dessous."
    assert got.body_text == BODY


def test_outlook_desktop_spanish_mailto_brackets() -> None:
    got = extract_inline_forward(OUTLOOK_ES, "RV: Presupuesto")
    assert (got.from_.name, got.from_.address) == ("Anna Buyer", "anna@customer.example")
    assert got.cc[0].address == "compras@customer.example"
    assert got.date == datetime(2026, 11, 23, 10, 15)
    assert got.note is None


def test_outlook_desktop_html_only() -> None:
    html = """<div class=WordSection1><p class=MsoNormal>See below<o:p></o:p></p>
<div style='border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm'>
<p class=MsoNormal><b>From:</b> Anna Buyer &lt;anna@customer.example&gt; <br><b>Sent:</b> Monday, November 23, 2026 10:15 AM<br>
<b>To:</b> Sam Rep &lt;sam@seller.example&gt;<br><b>Subject:</b> Quote<o:p></o:p></p></div>
<p class=MsoNormal>Hi Sam,</p><p class=MsoNormal>&nbsp;</p><p class=MsoNormal>Can you send the revised quote by Friday?</p></div>"""
    got = find_original(_message("FW: Quote", html=html))
    assert got.from_.address == "anna@customer.example"
    assert got.subject == "Quote"
    assert got.body_text.startswith("Hi Sam,") and got.body_text.endswith("by Friday?")
    assert got.note == "See below"


def test_outlook_web_html_only_with_rule_and_note_in_html_attachment_mail() -> None:
    html = """<div>Please log.</div><hr style="display:inline-block;width:98%" tabindex="-1">
<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif" style="font-size:11pt"><b>From:</b> Anna Buyer
&lt;anna@customer.example&gt;<br><b>Sent:</b> Monday, November 23, 2026 10:15 AM<br><b>To:</b> Sam Rep
&lt;sam@seller.example&gt;<br><b>Subject:</b> Re: Quote</font><div>&nbsp;</div></div>
<div>Hi Sam,</div><div><br></div><div>Friday?</div>"""
    got = find_original(_message("FW: Re: Quote", html=html))
    assert got.from_.address == "anna@customer.example"
    assert got.subject == "Re: Quote"
    assert got.body_text == "Hi Sam,\n\nFriday?"
    assert got.note == "Please log."


def test_apple_mail_quoted_block_with_offset_date() -> None:
    text = """Worth a look.

Begin forwarded message:

> From: Anna Buyer <anna@customer.example>
> Subject: Re: Quote
> Date: 23 November 2026 at 10:15:00 CET
> To: Sam Rep <sam@seller.example>
> Cc: "Buyer, Bob" <bob@customer.example>
>
> Hi Sam,
>
> > an older quoted line stays quoted
> Thanks"""
    got = extract_inline_forward(text, "Fwd: Re: Quote")
    assert got.subject == "Re: Quote"
    assert got.cc[0].name == "Buyer, Bob"
    assert got.date == datetime(2026, 11, 23, 10, 15, tzinfo=timezone(timedelta(hours=1)))
    assert got.body_text == "Hi Sam,\n\n> an older quoted line stays quoted\nThanks"
    assert got.note == "Worth a look."


def test_ios_forward_with_signature_note() -> None:
    text = """Sent from my iPhone

Begin forwarded message:

> From: Anna Buyer <anna@customer.example>
> Date: 23 November 2026 at 10:15:00 GMT+1
> To: sam@seller.example
> Subject: Quote
>
> Hi Sam"""
    got = extract_inline_forward(text, "Fwd: Quote")
    assert got.from_.address == "anna@customer.example"
    assert got.date.utcoffset() == timedelta(hours=1)
    assert got.body_text == "Hi Sam"
    assert got.note == "Sent from my iPhone"


def test_gmail_plain_text_bold_sender_name() -> None:
    text = "---------- Forwarded message ---------\nFrom: *Anna Buyer* <anna@customer.example>\nDate: Mon, Nov 23, 2026 at 10:15 AM\nSubject: Quote\nTo: <sam@seller.example>\n\n" + BODY
    got = extract_inline_forward(text, "Fwd: Quote")
    assert (got.from_.name, got.from_.address) == ("Anna Buyer", "anna@customer.example")


def test_thunderbird_german() -> None:
    text = """-------- Weitergeleitete Nachricht --------
Betreff: \tAngebot
Datum: \tMon, 23 Nov 2026 10:15:00 +0100
Von: \tAnna Buyer <anna@customer.example>
An: \tSam Rep <sam@seller.example>

""" + BODY
    got = extract_inline_forward(text, "Fwd: Angebot")
    assert got.subject == "Angebot"
    assert got.date == datetime(2026, 11, 23, 10, 15, tzinfo=timezone(timedelta(hours=1)))
    assert got.to[0].address == "sam@seller.example"
    assert got.body_text == BODY


def test_yahoo_single_line_header_block() -> None:
    text = ("  ----- Forwarded Message ----- From: Anna Buyer <anna@customer.example>To: "
            "Sam Rep <sam@seller.example>Sent: Monday, November 23, 2026, 10:15:00 AM GMT+1Subject: Quote\n" + BODY)
    got = extract_inline_forward(text, "Fwd: Quote")
    assert got.from_.address == "anna@customer.example"
    assert got.to[0].address == "sam@seller.example"
    assert got.subject == "Quote"
    assert got.date == datetime(2026, 11, 23, 10, 15, tzinfo=timezone(timedelta(hours=1)))


def test_original_message_block_with_name_only_sender() -> None:
    text = """Please log this.

-----Original Message-----
From: Anna Buyer
Sent: Monday, November 23, 2026 10:15 AM
To: Sam Rep
Subject: Quote

""" + BODY
    got = extract_inline_forward(text, "FW: Quote")
    assert got.from_.name == "Anna Buyer" and got.from_.address is None
    assert got.to[0].name == "Sam Rep" and got.to[0].address is None
    assert got.note == "Please log this."


def test_outlook_2019_attribution_line_spanish_dates() -> None:
    text = '\ufeffEl 23/11/2026 10:15, "Anna Buyer" <anna@customer.example> escribió:\r\n\r\n    Hola Sam\r\n'
    got = extract_inline_forward(text, "RV: Presupuesto")
    assert got.from_.address == "anna@customer.example"
    assert got.subject == "Presupuesto"
    assert got.date == datetime(2026, 11, 23, 10, 15)
    assert got.body_text == "Hola Sam"


def test_replies_and_plain_mail_are_not_forwards() -> None:
    reply = "Sounds good.\n\n________________________________\nFrom: Anna <anna@customer.example>\nSent: Monday\nTo: sam@seller.example\nSubject: Quote\n\nHi"
    assert extract_inline_forward(reply, "RE: Quote") is None
    assert extract_inline_forward(reply, "Quote") is None              # no explicit forward marker
    assert extract_inline_forward(reply, None) is not None             # bare body: the Outlook rule counts
    assert extract_inline_forward("Just a note, no forward here.", "Fwd: x") is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ma 23 nov 2026 om 10:15", datetime(2026, 11, 23, 10, 15)),
        ("Montag, 23. November 2026 10:15", datetime(2026, 11, 23, 10, 15)),
        ("lun, 23 nov 2026 a las 10:15", datetime(2026, 11, 23, 10, 15)),
        ("Wed, Oct 27, 2021 at 9:31 AM", datetime(2021, 10, 27, 9, 31)),
        ("lundi 23 novembre 2026 10:15", datetime(2026, 11, 23, 10, 15)),
        ("segunda-feira, 23 de novembro de 2026 10:15", datetime(2026, 11, 23, 10, 15)),
        ("lunedì 23 novembre 2026 10:15", datetime(2026, 11, 23, 10, 15)),
        ("måndag 23 november 2026 10:15", datetime(2026, 11, 23, 10, 15)),
        ("Mon, 23 Nov 2026 10:15:00 -0500", datetime(2026, 11, 23, 10, 15, tzinfo=timezone(timedelta(hours=-5)))),
        ("26. Oktober 2021 um 14:25:08 OESZ", datetime(2021, 10, 26, 14, 25, 8, tzinfo=timezone(timedelta(hours=3)))),
        ("tirsdag den 2. november 2021 09.26.50 CET", datetime(2021, 11, 2, 9, 26, 50, tzinfo=timezone(timedelta(hours=1)))),
        ("2022年9月19日月曜日 17:55:44 -0400", datetime(2022, 9, 19, 17, 55, 44, tzinfo=timezone(timedelta(hours=-4)))),
    ],
)
def test_localized_dates(raw: str, expected: datetime) -> None:
    got = parse_date(raw)
    assert got == expected
    assert (got.utcoffset() is None) == (expected.utcoffset() is None)


def test_unreadable_dates_are_none() -> None:
    assert parse_date("not a date at all") is None
    assert parse_date("") is None and parse_date(None) is None


@pytest.mark.parametrize(
    ("subject", "stripped"),
    [
        ("Fwd: Quote", "Quote"), ("FW: Fwd: WG: Quote", "Quote"), ("TR : Devis", "Devis"),
        ("I: Ordine", "Ordine"), ("İLT: Teklif", "Teklif"), ("Doorst: Offerte", "Offerte"),
        ("Redir.: Ofertă", "Ofertă"), ("Videresend: Tilbud", "Tilbud"), ("fwd: fw: Re: Quote", "Re: Quote"),
        ("Re: Fwd: Quote", "Re: Fwd: Quote"), ("[Fwd: Quote]", "Quote"), ("ENC: RES: Proposta", "RES: Proposta"),
        ("Quote", "Quote"),
    ],
)
def test_strip_forward_prefixes(subject: str, stripped: str) -> None:
    assert strip_forward_prefixes(subject) == stripped


@pytest.mark.parametrize(
    "subject",
    ["Quote  for  ACME", "Re: Quote for ACME", "RE[2]: AW: Quote for ACME", "Fwd: SV: Antw: Quote for ACME",
     "Réf : Odp: quote for acme", "WG: AW: Re: Quote for ACME"],
)
def test_normalize_subject(subject: str) -> None:
    assert normalize_subject(subject) == "quote for acme"


# --- message/rfc822 forwards built here ---------------------------------------------------------

def _original() -> EmailMessage:
    inner = EmailMessage()
    inner["From"] = "Anna Buyer <anna@customer.example>"
    inner["To"] = "Sam Rep <sam@seller.example>, ops@seller.example"
    inner["Cc"] = "Bob <bob@customer.example>"
    inner["Subject"] = "Re: Quote"
    inner["Date"] = "Mon, 23 Nov 2026 10:15:00 +0100"
    inner["Message-ID"] = "<abc@customer.example>"
    inner["In-Reply-To"] = "<prev@seller.example>"
    inner["References"] = "<first@seller.example> <prev@seller.example>"
    inner.set_content(BODY)
    inner.add_alternative("<p>Hi Sam,</p><p>Can you send the revised quote by Friday?</p>", subtype="html")
    return inner


def test_rfc822_attachment_gives_inner_headers() -> None:
    outer = EmailMessage()
    outer["From"] = "Sam Rep <sam@seller.example>"
    outer["Subject"] = "Fwd: Re: Quote"
    outer.set_content("Logging this one.\n")
    outer.add_attachment(_original())
    got = find_original(email.message_from_bytes(outer.as_bytes(), policy=policy.default))
    assert got.source == "attachment"
    assert (got.from_.name, got.from_.address) == ("Anna Buyer", "anna@customer.example")
    assert [box.address for box in got.to] == ["sam@seller.example", "ops@seller.example"]
    assert got.cc[0].address == "bob@customer.example"
    assert got.subject == "Re: Quote"
    assert got.date == datetime(2026, 11, 23, 10, 15, tzinfo=timezone(timedelta(hours=1)))
    assert got.message_id == "abc@customer.example"
    assert got.in_reply_to == "prev@seller.example"
    assert got.references == ["first@seller.example", "prev@seller.example"]
    assert got.body_text == BODY
    assert "revised quote" in got.body_html
    assert got.note == "Logging this one."


def test_rfc822_attachment_html_only_original() -> None:
    inner = EmailMessage()
    inner["From"] = "anna@customer.example"
    inner["Subject"] = "Quote"
    inner.set_content("<div>Hi Sam,</div><div><br></div><div>Friday?</div>", subtype="html")
    outer = EmailMessage()
    outer["Subject"] = "Fwd: Quote"
    outer.set_content("")
    outer.add_attachment(inner)
    got = find_original(email.message_from_bytes(outer.as_bytes(), policy=policy.default))
    assert got.body_text == "Hi Sam,\n\nFriday?"
    assert got.note is None


def test_rfc822_attachment_note_from_html_only_outer() -> None:
    outer = EmailMessage()
    outer["Subject"] = "Fwd: Re: Quote"
    outer.set_content("<div>Logging <b>this</b> one.</div>", subtype="html")
    outer.add_attachment(_original())
    got = find_original(email.message_from_bytes(outer.as_bytes(), policy=policy.default))
    assert got.source == "attachment" and got.note == "Logging this one."


def test_delivery_status_report_is_not_a_forward() -> None:
    report = EmailMessage()
    report["From"] = "Mail Delivery System <MAILER-DAEMON@mx.seller.example>"
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report.set_content("I'm sorry to have to inform you that your message could not be delivered.")
    report.add_attachment(_original())
    report.replace_header("Content-Type", 'multipart/report; report-type=delivery-status; boundary="b"')
    assert find_original(email.message_from_bytes(report.as_bytes(), policy=policy.default)) is None
    plain_bounce = EmailMessage()
    plain_bounce["From"] = "MAILER-DAEMON@mx.seller.example"
    plain_bounce["Subject"] = "failure notice"
    plain_bounce.set_content("Hi. This is the qmail-send program.")
    plain_bounce.add_attachment(_original())
    assert find_original(email.message_from_bytes(plain_bounce.as_bytes(), policy=policy.default)) is None


# --- robustness ----------------------------------------------------------------------------------

def test_junk_input_never_raises() -> None:
    rng = random.Random(1234)
    pieces = ["From: ", "To: ", "<", ">", "@", "\n", "> ", "-----", " Forwarded message ", "Subject:", "é",
              "\r", "\ufeff", "[mailto:", "\"", "On ", " wrote:", "_" * 32, "Begin forwarded message:", "x" * 50]
    for _ in range(400):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 60)))
        subject = rng.choice([None, "", "Fwd: x", "Re: y", text[:30]])
        extract_inline_forward(text, subject)
        extract_inline_forward(text[: rng.randint(0, len(text) + 1)], subject)
        html_to_text(text)
        strip_forward_prefixes(text)
        normalize_subject(text)
    for junk in (None, 42, b"bytes", ""):
        assert extract_inline_forward(junk, None) is None  # type: ignore[arg-type]
    assert find_original("not a message") is None  # type: ignore[arg-type]
    broken = email.message_from_bytes(b"Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: message/rfc822\n\n\xff\xfe",
                                      policy=policy.default)
    find_original(broken)


def test_one_megabyte_body_finishes() -> None:
    line = "From: " + "a" * 200 + " <" + "b" * 100 + "@" + "c" * 100 + "\n"
    body = (line + "> On " + "9" * 300 + ", \"x\" <y@z> wrote:\n" + "-" * 500 + "\n") * 1200
    assert len(body) > 1_000_000
    extract_inline_forward(body, "Fwd: big")
    extract_inline_forward("x" * 1_000_000 + "\n" + "Subject:" * 100_000, "Fwd: big")
    extract_inline_forward("From: a\n" * 130_000, "Fwd: big")                     # every line a block start
    extract_inline_forward("> From: a <a@b.c>\n" * 55_000, None)
    extract_inline_forward(("From: a <a@b.c>" + "To: x@y.z" * 300 + "\n") * 400, "Fwd: big")  # glued labels
    find_original(_message("Fwd: big", text=body[:1_000_000]))
