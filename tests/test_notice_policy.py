"""Who is told about what, as a table: decide/notices.py over plain facts (no SMTP, no
database), and the notice's own words and headers (decide/noticetext.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from email.message import EmailMessage

import pytest

from smtp_logger.decide.notices import Plan, Situation, notice_for, resolve_notify
from smtp_logger.decide.noticetext import Draft, render
from smtp_logger.understand.classify import classify
from smtp_logger.understand.classify.notices import notice_reference

OWN = frozenset({"ours.example"})
S = Situation(reason="ORIGINAL_NOT_FOUND", own_domains=OWN)

CASES = [
    # (name, situation, expected plan or None)
    ("no original found", S, Plan("ORIGINAL_NOT_FOUND", "immediate")),
    ("name without an address", replace(S, reason="ORIGINAL_SENDER_UNKNOWN"),
     Plan("ORIGINAL_SENDER_UNKNOWN", "immediate")),
    ("alias on the user's domain", replace(S, reason="SENDER_NOT_ALLOWED", sender="a.seller@ours.example"),
     Plan("SENDER_NOT_ALLOWED", "immediate")),
    ("alias seen as envelope sender", replace(S, reason="SENDER_NOT_ALLOWED", sender="me@home.example",
                                              sender_was_envelope=True), Plan("SENDER_NOT_ALLOWED", "immediate")),
    ("stranger to the BCC address", replace(S, reason="SENDER_NOT_ALLOWED", sender="mallory@evil.example"), None),
    ("stranger on free mail", replace(S, reason="SENDER_NOT_ALLOWED", sender="x@gmail.com", own_domains=frozenset()),
     None),
    ("another user of the account", replace(S, reason="SENDER_NOT_ALLOWED", sender="carol@ours.example",
                                            sender_other_user=True), None),
    ("no From at all", replace(S, reason="SENDER_NOT_ALLOWED", sender=None), None),
    ("logged, attachment left out", replace(S, reason="LOGGED", attachments_left_out=1), Plan("LOGGED", "immediate")),
    ("logged with everything", replace(S, reason="LOGGED"), None),
    ("signature failed", replace(S, reason="AUTH_FAILED"), Plan("AUTH_FAILED", "immediate")),
    ("forwarding confirmation", replace(S, reason="FORWARDING_CONFIRMATION", automatic=True),
     Plan("FORWARDING_CONFIRMATION", "immediate")),
    ("confirmation, notify off", replace(S, reason="FORWARDING_CONFIRMATION", notify="off"),
     Plan("FORWARDING_CONFIRMATION", "immediate")),
    ("confirmation, notify daily", replace(S, reason="FORWARDING_CONFIRMATION", notify="daily"),
     Plan("FORWARDING_CONFIRMATION", "immediate")),
    ("processing failed", replace(S, reason="PROCESSING_FAILED"), Plan("PROCESSING_FAILED", "immediate")),
    ("flood, first of the hour", replace(S, reason="FLOOD"), Plan("FLOOD", "immediate")),
    ("flood, told already", replace(S, reason="FLOOD", same_reason_last_hour=1), None),
    ("automatic mail (a bounce of anything)", replace(S, reason="AUTH_FAILED", automatic=True), None),
    ("notify off", replace(S, notify="off"), None),
    ("notify daily", replace(S, notify="daily"), Plan("ORIGINAL_NOT_FOUND", "digest")),
    ("ten sent this hour", replace(S, sent_last_hour=10), Plan("ORIGINAL_NOT_FOUND", "digest")),
    ("nine sent this hour", replace(S, sent_last_hour=9), Plan("ORIGINAL_NOT_FOUND", "immediate")),
    ("confirmation over the cap", replace(S, reason="FORWARDING_CONFIRMATION", sent_last_hour=10),
     Plan("FORWARDING_CONFIRMATION", "digest")),
] + [(f"{reason} is never told", replace(S, reason=reason), None) for reason in (
    "OWN_NOTICE", "BOUNCE", "AUTO_REPLY", "SPAM", "NEVER_LOG", "NO_EXTERNAL_RECIPIENTS", "NOT_IN_LOGGED_THREAD",
    "SENDER_NOT_CONTACT", "DUPLICATE", "THREAD_OWNED_BY_OTHER_USER", "UNPARSEABLE", "HELD_EXPIRED")]


@pytest.mark.parametrize("name,situation,expected", CASES, ids=[c[0] for c in CASES])
def test_policy(name, situation, expected):
    assert notice_for(situation) == expected


def test_settings_resolve_user_then_account_then_default():
    assert resolve_notify(None, None) == "immediate"
    assert resolve_notify(None, "daily") == "daily"
    assert resolve_notify("off", "daily") == "off"
    assert resolve_notify("bogus", None) == "immediate"


FACTS = {"subject": "Fwd: Offer", "message_id": "m1@ours.example", "logging_address": "tok@fwd.example",
         "date": "2026-11-23T10:15:00+00:00", "from_address": "alice@ours.example", "language": "en",
         "detail": "", "user": "alice@ours.example", "retention_days": 30}


@pytest.mark.parametrize("language,subject,sentence", [
    ("en", "Not logged: Fwd: Offer", "we could not find the customer's original message"),
    ("nl", "Niet gelogd: Fwd: Offer", "we konden het oorspronkelijke bericht van de klant niet"),
])
def test_the_notice_says_what_happened_and_says_it_is_automatic(language, subject, sentence):
    draft = Draft(42, "notice", "ORIGINAL_NOT_FOUND", "alice@ours.example", {**FACTS, "language": language})
    msg = render(draft, "smtp-logger@host.example", "host.example", datetime(2026, 11, 23, 11, tzinfo=timezone.utc))
    assert msg["Subject"] == subject and msg["To"] == "alice@ours.example"
    assert msg["Auto-Submitted"] == "auto-generated" and msg["X-Auto-Response-Suppress"] == "All"
    assert msg["X-Smtp-Logger-Notice"] == "42" and msg["Message-ID"] == "<notice-42@host.example>"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    for body in (text, html.replace("&#x27;", "'")):
        assert sentence in body and "m1@ours.example" in body and "2026-11-23 10:15" in body
        assert "tok@fwd.example" in body  # where to forward it again
    assert classify(msg)[0] == "OWN_NOTICE"  # a notice that comes back is recognised


def test_a_confirmation_notice_carries_the_code_and_the_link():
    link = "https://mail-settings.google.com/mail/vf-%5BABC%5D-def"
    facts = {**FACTS, "subject": "(#481516234) Gmail Forwarding Confirmation", "confirmation": {
        "provider": "Gmail", "code": "481516234", "link": link, "requester": "bob.seller@gmail.com"}}
    msg = render(Draft(7, "notice", "FORWARDING_CONFIRMATION", "alice@ours.example", facts),
                 "n@h", "h", datetime(2026, 11, 23, tzinfo=timezone.utc))
    text = msg.get_body(("plain",)).get_content()
    assert "481516234" in text and link in text and "bob.seller@gmail.com" in text
    assert f'href="{link}"' in msg.get_body(("html",)).get_content()


def test_a_digest_lists_each_message():
    items = [{"reason": "ORIGINAL_NOT_FOUND", "subject": f"Fwd: {i}", "date": "2026-11-23T10:15:00+00:00"}
             for i in range(3)]
    msg = render(Draft(9, "digest", "DIGEST", "alice@ours.example", {"language": "nl", "items": items}),
                 "n@h", "h", datetime(2026, 11, 24, 8, tzinfo=timezone.utc))
    assert msg["Subject"] == "Niet gelogd: 3 e-mails (dagelijks overzicht)"
    text = msg.get_body(("plain",)).get_content()
    assert all(f"Fwd: {i}" in text for i in range(3)) and text.count("Nog niet gelogd") == 3


def _notice() -> EmailMessage:
    return render(Draft(77, "notice", "AUTH_FAILED", "alice@ours.example", FACTS), "n@ours.example", "h",
                  datetime(2026, 11, 23, tzinfo=timezone.utc))


def test_a_bounced_notice_is_recognised_by_its_returned_headers():
    dsn = EmailMessage()
    dsn["From"] = "MAILER-DAEMON@relay.example"
    dsn["Subject"] = "Undelivered Mail Returned to Sender"
    dsn.set_content("This is the mail system at host relay.example.\n\nI'm sorry to have to inform you...")
    headers = "".join(f"{k}: {v}\n" for k, v in _notice().items())
    dsn.add_attachment(headers.encode(), maintype="text", subtype="rfc822-headers")
    assert notice_reference(dsn) == "77"


def test_a_notice_forwarded_inline_in_base64_is_recognised():
    forward = EmailMessage()
    forward["From"] = "alice@ours.example"
    forward["Subject"] = "Fwd: Not logged"
    forward.set_content("see below\n\n" + _notice().get_body(("plain",)).get_content(), cte="base64")
    assert notice_reference(forward) == "77"
    forward.replace_header("Subject", "no notice here")
    plain = EmailMessage()
    plain.set_content("We talked about the smtp logger notice yesterday.", cte="base64")
    assert notice_reference(plain) is None
