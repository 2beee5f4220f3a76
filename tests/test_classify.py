"""Rule-by-rule tests of smtp_logger.understand.classify on hand-built messages.

Every message is built with EmailMessage, serialised and parsed back with policy.default,
so the classifier sees what the receiver will see.
"""

from __future__ import annotations

import email
import email.policy
import time
from email.message import EmailMessage

import pytest

from smtp_logger.understand.classify import classify, detect_auto_reply, detect_bounce, detect_spam


def roundtrip(msg: EmailMessage) -> EmailMessage:
    return email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)


def make(subject: str = "Our offer", body: str = "Hi Anna,\n\nsee below.\n", *,
         sender: str = "Anna Klant <anna@customer.example>",
         to: str = "Sam Sales <sam@seller.example>", **headers: str) -> EmailMessage:
    """A plain text message; extra headers as keyword arguments (X_Spam_Flag=...)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = "<1@customer.example>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return roundtrip(msg)


def parse_raw(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def original() -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "sam@seller.example"
    msg["To"] = "anna@customer.example"
    msg["Subject"] = "Our offer"
    msg.set_content("Dear Anna, here is the offer.\n")
    return msg


def report(report_type: str, status_type: str, **headers: str) -> EmailMessage:
    """multipart/report: human text, the machine part, the original as message/rfc822."""
    msg = EmailMessage()
    msg["From"] = headers.pop("sender", "Mail Delivery System <MAILER-DAEMON@mx.customer.example>")
    msg["To"] = "sam@seller.example"
    msg["Subject"] = headers.pop("subject", "Undelivered Mail Returned to Sender")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("This is the mail system at host mx.customer.example.\n")
    msg.make_mixed()
    # The machine-readable part is a list of header blocks; let the parser build it.
    status = parse_raw(
        f"Content-Type: {status_type}\n\n"
        "Reporting-MTA: dns; mx.customer.example\n\n"
        "Final-Recipient: rfc822; anna@customer.example\nAction: failed\nStatus: 5.1.1\n"
        .encode()
    )
    msg.attach(status)
    msg.add_attachment(original())
    msg.set_type("multipart/report")
    msg.set_param("report-type", report_type)
    return roundtrip(msg)


# --------------------------------------------------------------------------- bounces


def test_dsn_multipart_report_is_bounce():
    msg = report("delivery-status", "message/delivery-status")
    assert classify(msg) == ("BOUNCE", "multipart/report delivery-status")


def test_dsn_with_auto_submitted_is_bounce_not_auto_reply():
    msg = report("delivery-status", "message/delivery-status", Auto_Submitted="auto-replied")
    assert detect_auto_reply(msg) == "Auto-Submitted: auto-replied"
    assert classify(msg)[0] == "BOUNCE"


def test_arf_feedback_report_is_bounce():
    msg = report("feedback-report", "message/feedback-report",
                 sender="feedback@arf.mail.example", subject="FW: Our offer")
    code, reason = classify(msg)
    assert code == "BOUNCE" and "ARF" in reason


def test_delivery_status_part_without_report_type_is_bounce():
    msg = report("", "message/delivery-status", sender="relay@mx.customer.example",
                 subject="Notice")
    assert detect_bounce(msg) == "message/delivery-status part"


@pytest.mark.parametrize("sender", [
    "MAILER-DAEMON@mx.customer.example",
    "Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
    "Mail Delivery System <postmaster@customer.example>",
])
def test_daemon_sender_is_bounce(sender):
    msg = make("Your message", "It could not be delivered.\n", sender=sender)
    assert classify(msg)[0] == "BOUNCE"


def test_postmaster_needs_a_machine_signal():
    person = make("Lunch on Friday?", sender="Pat Admin <postmaster@customer.example>")
    assert classify(person) is None
    machine = make("Your message", sender="postmaster@customer.example", Return_Path="<>")
    assert classify(machine)[0] == "BOUNCE"


@pytest.mark.parametrize("subject", [
    "Undelivered Mail Returned to Sender",
    "Undeliverable: Our offer",
    "Delivery Status Notification (Failure)",
    "Returned mail: see transcript for details",
    "Mail delivery failed: returning message to sender",
    "failure notice",
    "Unzustellbar: Unser Angebot",
    "Onbestelbaar: Ons aanbod",
    "Non remis : Notre offre",
])
def test_bounce_subject_is_bounce(subject):
    msg = make(subject, "...", sender="notifications@mx.customer.example")
    assert detect_bounce(msg) == f"subject {subject!r}"


def test_failed_recipients_header_is_bounce():
    msg = make("Notice", sender="relay@mx.customer.example",
               X_Failed_Recipients="anna@customer.example")
    assert detect_bounce(msg) == "header X-Failed-Recipients"


def test_no_reply_sender_returning_own_message_is_bounce():
    msg = EmailMessage()
    msg["From"] = "no-reply@mx.customer.example"
    msg["To"] = "sam@seller.example"
    msg["Subject"] = "Mail"
    msg.set_content("Could not be delivered: mailbox full.\n")
    msg.add_attachment(original())
    assert classify(roundtrip(msg))[0] == "BOUNCE"


@pytest.mark.parametrize("subject", [
    "Fwd: Undelivered Mail Returned to Sender",   # a person forwarding a bounce
    "Re: Undeliverable: Our offer",
    "Delivery problem with order 42",             # a customer's parcel, not mail
    "Delivery failure at the warehouse",
])
def test_bounce_words_from_a_person_are_conversation(subject):
    assert classify(make(subject)) is None


def test_forward_with_enclosed_dsn_is_not_a_bounce():
    """A salesperson forwarding a message/rfc822: what is enclosed says nothing of the forward."""
    fwd = EmailMessage()
    fwd["From"] = "Sam Sales <sam@seller.example>"
    fwd["To"] = "fwd-token@log.example"
    fwd["Subject"] = "Fwd: Undelivered Mail Returned to Sender"
    fwd.set_content("FYI, see attached.\n")
    fwd.add_attachment(report("delivery-status", "message/delivery-status"))
    assert classify(roundtrip(fwd)) is None


# --------------------------------------------------------------------------- auto-replies


@pytest.mark.parametrize("value", ["auto-replied", "auto-generated", "auto-notified",
                                   "auto-replied; owner-email=anna@customer.example"])
def test_auto_submitted_is_auto_reply(value):
    assert classify(make(Auto_Submitted=value))[0] == "AUTO_REPLY"


@pytest.mark.parametrize("value", ["no", "No", " no (human)"])
def test_auto_submitted_no_is_conversation(value):
    assert classify(make(Auto_Submitted=value)) is None


@pytest.mark.parametrize("name", ["X-Autoreply", "X-Autorespond", "X-Autoresponder",
                                  "X-AutoReply-From"])
def test_autoreply_headers(name):
    assert detect_auto_reply(make(**{name.replace("-", "_"): "yes"})) == f"header {name.lower()}"


def test_precedence_auto_reply_is_auto_reply():
    assert detect_auto_reply(make(Precedence="auto_reply")) == "Precedence: auto_reply"


@pytest.mark.parametrize("value", ["list", "bulk", "junk"])
def test_precedence_list_bulk_junk_alone_are_not_auto_replies(value):
    """Mailing lists (even old Majordomo ones without List-Id), newsletters and spam use these."""
    assert classify(make("Re: Limiting CPU", Precedence=value)) is None


def test_x_auto_response_suppress_alone_is_conversation():
    """A request not to be auto-answered; Outlook and notification mail set it on normal mail."""
    assert classify(make(X_Auto_Response_Suppress="All")) is None


def test_inbox_rules_loop_alone_is_conversation():
    """Set by mailbox forwarding rules: that is how our automatic copies arrive."""
    assert classify(make(X_MS_Exchange_Inbox_Rules_Loop="anna@customer.example")) is None


def test_apple_vacation_is_auto_reply():
    assert detect_auto_reply(make("Re: Our offer", X_Apple_Action="VACATION")) is not None


def test_read_receipt_is_auto_reply():
    msg = report("disposition-notification", "message/disposition-notification",
                 sender="anna@customer.example", subject="Read: Our offer")
    assert classify(msg) == ("AUTO_REPLY", "read receipt (disposition-notification)")


OUT_OF_OFFICE_SUBJECTS = {
    "en": ["Automatic reply: Our offer", "Out of Office: Our offer", "Out of Office AutoReply",
           "Auto reply: Our offer", "Autoreply: Our offer"],
    "nl": ["Automatisch antwoord: Ons aanbod", "Afwezig: Ons aanbod"],
    "de": ["Automatische Antwort: Unser Angebot", "Abwesenheitsnotiz: Unser Angebot"],
    "fr": ["Réponse automatique : Notre offre", "Absence du bureau : Notre offre"],
    "es": ["Respuesta automática: Nuestra oferta", "Fuera de la oficina: Nuestra oferta"],
    "pt": ["Resposta automática: Nossa oferta", "Ausente do escritório: Nossa oferta"],
    "it": ["Risposta automatica: La nostra offerta", "Fuori sede: La nostra offerta"],
    "sv": ["Automatiskt svar: Vårt erbjudande", "Frånvaro: Vårt erbjudande"],
    "da": ["Automatisk svar: Vores tilbud", "Autosvar: Vores tilbud"],
    "no": ["Automatisk svar: Vårt tilbud", "Fraværende: Vårt tilbud"],
    "fi": ["Automaattinen vastaus: Tarjouksemme", "Poissa toimistolta: Tarjouksemme"],
    "pl": ["Automatyczna odpowiedź: Nasza oferta", "Odpowiedź automatyczna: Nasza oferta",
           "Poza biurem: Nasza oferta"],
}


@pytest.mark.parametrize("lang,subject", [
    (lang, subject) for lang, subjects in OUT_OF_OFFICE_SUBJECTS.items() for subject in subjects
])
def test_out_of_office_subjects(lang, subject):
    assert classify(make(subject, "I am away.")) == ("AUTO_REPLY", f"subject {subject!r}")


@pytest.mark.parametrize("subject,body", [
    ("Re: automatic reply settings question", "How do I switch it off?"),
    ("Automatic reply settings question", "How do I switch it off?"),
    ("Out of office next week?", "Can we meet before?"),
    ("Re: Automatic reply: Our offer", "Back now, let's talk."),
    ("Our offer", "I'll be out of office next week; my automatic reply will say so."),
    ("Afwezigheid volgende week", "Kunnen we eerder afspreken?"),
    ("Away until Friday, can we meet Monday?", "Anna"),
])
def test_out_of_office_words_from_a_person_are_conversation(subject, body):
    assert classify(make(subject, body)) is None


# --------------------------------------------------------------------------- spam


@pytest.mark.parametrize("headers", [
    {"X-Spam-Flag": "YES"},
    {"X-Spam-Status": "Yes, score=8.1 required=5.0 tests=BAYES_99"},
    {"X-Spam": "yes"},
    {"X-MS-Exchange-Organization-SCL": "5"},
    {"X-MS-Exchange-Organization-SCL": "9"},
    {"X-Forefront-Antispam-Report": "CIP:192.0.2.1;CTRY:NL;LANG:en;SCL:5;SRV:;IPV:NLI;SFV:SPM;"},
    {"X-Forefront-Antispam-Report": "CIP:192.0.2.1;SFV:SKS;"},
    {"X-Forefront-Antispam-Report": "CIP:192.0.2.1;SCL:6;SFV:NSPM;"},
    {"X-Microsoft-Antispam": "BCL:0;SFV:SPM;"},
    {"X-Microsoft-Antispam-Mailbox-Delivery": "ucf:0;jmr:0;auth:0;dest:J;OFR:SpamFilterAuthJ;"},
    {"X-Barracuda-Spam-Flag": "YES"},
    {"X-Barracuda-Spam-Status": "Yes, SCORE=9.1 using global scores"},
    {"X-Apple-Action": "JUNK/JUNK"},
    {"X-Apple-Movetofolder": "Junk"},
    {"X-Gmail-Labels": "Spam,Category Promotions"},
    {"X-Proofpoint-Spam-Details": "rule=spam policy=default score=99 spamscore=99"},
    {"X-Rspamd-Action": "add header"},
    {"X-Yandex-Spam": "4"},
    {"X-SES-Spam-Verdict": "FAIL"},
    {"X-CLX-Spam": "true"},
])
def test_upstream_spam_verdicts(headers):
    msg = make(**{k.replace("-", "_"): v for k, v in headers.items()})
    assert classify(msg)[0] == "SPAM", headers


@pytest.mark.parametrize("headers", [
    {"X-Spam-Flag": "NO"},
    {"X-Spam-Status": "No, score=7.1 required=15.0 tests=AWL,BAYES_99"},
    {"X-Spam-Level": "*******"},
    {"X-Spam": "Not detected"},
    {"X-Spam": "undefined"},
    {"X-MS-Exchange-Organization-SCL": "1"},
    {"X-MS-Exchange-Organization-SCL": "-1"},
    {"X-Forefront-Antispam-Report": "CIP:192.0.2.1;SCL:1;SFV:NSPM;"},
    {"X-Forefront-Antispam-Report-Untrusted": "SFV:SPM;"},  # another tenant's verdict
    {"X-Microsoft-Antispam-Mailbox-Delivery": "abwl:0;auth:1;dest:I;OFR:SpamFilterPass;"},
    {"X-Microsoft-Antispam": "BCL:8;"},                     # bulk level is not a spam verdict
    {"X-Proofpoint-Spam-Details": "rule=notspam policy=default score=0 classifier=spam"},
    {"X-Yandex-Spam": "1"},
    {"X-SES-Spam-Verdict": "PASS"},
    {"X-GMX-Antispam": "0 (Mail was not recognized as spam)"},
])
def test_not_spam_verdicts(headers):
    msg = make(**{k.replace("-", "_"): v for k, v in headers.items()})
    assert detect_spam(msg) is None, headers


@pytest.mark.parametrize("subject", ["[SPAM] Cheap watches", "***SPAM*** Cheap watches",
                                     "*****SPAM***** Cheap watches", "{Spam?} Cheap watches"])
def test_spam_subject_tags(subject):
    assert classify(make(subject))[0] == "SPAM"


def test_spam_words_from_a_person_are_conversation():
    assert classify(make("Re: spam filter question", "Your mail went to my spam folder.")) is None


def test_precedence_bounce_then_auto_reply_then_spam():
    spam_dsn = report("delivery-status", "message/delivery-status", X_Spam_Flag="YES")
    assert classify(spam_dsn)[0] == "BOUNCE"
    spam_ooo = make("Automatic reply: Our offer", X_Spam_Flag="YES")
    assert classify(spam_ooo)[0] == "AUTO_REPLY"


# --------------------------------------------------------------------------- robustness


@pytest.mark.parametrize("raw", [
    b'From: "\r\nSubject: Hi\r\n\r\nbody\r\n',
    b"From: <\r\nTo: a@\r\nMessage-ID: <>\r\n\r\nbody\r\n",
    b"From: a@[\r\nReply-To: <a@b>, \"\r\n\r\nbody\r\n",
    b"Content-Type: multipart/report; report-type=\r\n\r\nno boundary at all\r\n",
    b"Subject: =?utf-8?q?\xff=ff?=\r\nAuto-Submitted:\r\n\r\n",
    b"",
])
def test_malformed_mail_never_raises(raw):
    msg = parse_raw(raw)
    for detect in (classify, detect_bounce, detect_auto_reply, detect_spam):
        detect(msg)


def test_broken_from_header_still_recognises_the_daemon():
    msg = parse_raw(b'From: MAILER-DAEMON@mx.example, "a" <\r\nSubject: x\r\n\r\nbody\r\n')
    with pytest.raises(IndexError):
        str(msg["From"])  # policy.default raises on this header
    assert classify(msg)[0] == "BOUNCE"


def test_huge_subject_is_cheap():
    """flanker's long-header.eml has a 200 KB encoded-word Subject; decoding it all took 1 s."""
    msg = parse_raw(b"From: a@b.example\r\nSubject: " + b"=?utf-8?q?a?= " * 20000 + b"\r\n\r\nx")
    started = time.perf_counter()
    assert classify(msg) is None
    assert time.perf_counter() - started < 0.5
