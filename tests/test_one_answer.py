"""One module answers each question (issue 12): the corpus messages on which the old answers
disagreed, and what the one answer now says for each.

Before, forwards/reports.py had its own bounce/auto-reply rules beside classify/, parse.py,
forwards/ and classify/ each had a header reader, a MIME walker and an enclosed-message reader,
and parse.py and candidate.py each hashed content for the dedup key. The files named here are
the corpus messages where two of those answers differed; the corpus label decides (the corpus
README: sisimai's file names, flanker's folders, CPython's "forwarded message" list).
"""

from __future__ import annotations

import email
import os
from datetime import datetime, timezone
from email import policy
from pathlib import Path

import pytest

from smtp_logger.decide.candidate import build
from smtp_logger.understand import mime
from smtp_logger.understand.classify import classify, is_machine_made
from smtp_logger.understand.forwards import find_original, read_original
from smtp_logger.understand.parse import parse_message

CORPUS = Path(os.environ.get("SMTP_LOGGER_CORPUS") or Path(__file__).resolve().parents[2] / "shared" / "corpus")
CPYTHON = "cpython-test-email/Lib/test/test_email/data"
FLANKER = "mailgun-flanker/tests/fixtures/messages"
SISIMAI = "sisimai-set-of-emails/maildir"
TALON = "mailgun-talon/tests/fixtures"
SPAMSCOPE = "spamscope-mail-parser/tests/mails"
RECEIVED = datetime(2030, 1, 1, tzinfo=timezone.utc)

pytestmark = pytest.mark.skipif(not (CORPUS / SISIMAI).is_dir(), reason=f"mail corpus not found at {CORPUS}")


def load(relative: str):
    return email.message_from_bytes((CORPUS / relative).read_bytes(), policy=policy.default)


# --- "is this mail a report, not a forward?": forwards/reports.py against classify/ ----------

# forwards/reports.py said "not a report" (it only knew report MIME types, daemon senders and a
# subject list); classify knows SES notifications, fml notices, post_master, X-Apple-Action.
# The labels (lhost-/rhost- bounce, rfc3834- auto-reply) agree with classify.
REPORTS_ONLY_CLASSIFY_KNEW = [
    (f"{SISIMAI}/bsd/lhost-amazonses-09.eml", "BOUNCE"),
    (f"{SISIMAI}/bsd/lhost-amazonses-10.eml", "BOUNCE"),
    (f"{SISIMAI}/bsd/lhost-amazonses-11.eml", "BOUNCE"),
    (f"{SISIMAI}/bsd/lhost-amazonses-12.eml", "BOUNCE"),
    (f"{SISIMAI}/bsd/lhost-amazonses-13.eml", "BOUNCE"),
    (f"{SISIMAI}/bsd/lhost-apachejames-01.eml", "BOUNCE"),
    (f"{SISIMAI}/dos/lhost-apachejames-01.eml", "BOUNCE"),
    (f"{SISIMAI}/mac/lhost-apachejames-01.eml", "BOUNCE"),
    (f"{SISIMAI}/bsd/lhost-fml-02.eml", "BOUNCE"),
    (f"{SISIMAI}/bsd/lhost-fml-03.eml", "BOUNCE"),
    (f"{SISIMAI}/bsd/lhost-verizon-02.eml", "BOUNCE"),
    (f"{SISIMAI}/bsd/rfc3834-03.eml", "AUTO_REPLY"),
]


@pytest.mark.parametrize("relative,label", REPORTS_ONLY_CLASSIFY_KNEW)
def test_reports_the_forward_rules_missed_are_reports(relative, label):
    msg = load(relative)
    assert classify(msg)[0] == label
    assert find_original(msg) is None


def test_a_person_writing_from_postmaster_is_not_a_report():
    """flanker long-links.eml: Thunderbird mail from "Bob <postmaster@example.com>" (not in
    flanker's bounce/). forwards/reports.py called every postmaster@ sender a report;
    classify needs a machine signal too, and finds none."""
    msg = load(f"{FLANKER}/long-links.eml")
    assert classify(msg) is None
    assert parse_message((CORPUS / FLANKER / "long-links.eml").read_bytes()).automatic is None


def test_a_forward_from_a_mail_delivery_name_is_a_forward():
    """CPython msg_42.txt, which the corpus README lists among the message/rfc822 forwards, comes
    from "Mail Delivery Subsystem <xxx@example.com>" with no report part or machine header.
    classify called it a bounce by the display name alone; forwards/reports.py found the original.
    A display name counts now only with postmaster@ or a machine header."""
    msg = load(f"{CPYTHON}/msg_42.txt")
    assert classify(msg) is None
    original = find_original(msg)
    assert original.source == "attachment" and original.from_.address == "webmaster@python.org"


# --- "is the forwarded original a bounce?": reports.is_daemon_sender against classify ---------

# Inside these bounces the returned message was sent from postmaster@ (sisimai's test sender):
# the daemon-sender rule called the original a bounce; classify calls it conversation, and it is
# one (a bounce is never sent for a bounce). The bounce itself is still no forward.
ORIGINALS_SENT_FROM_POSTMASTER = [
    f"{SISIMAI}/bsd/lhost-postfix-{n}.eml" for n in range(65, 74)
] + [f"{SISIMAI}/bsd/lhost-qmail-{n}.eml" for n in range(20, 26)] + [
    f"{SISIMAI}/bsd/rhost-apple-02.eml",
    f"{SISIMAI}/bsd/rhost-yahooinc-01.eml",
    f"{SISIMAI}/dos/rhost-yahooinc-01.eml",
    f"{SISIMAI}/mac/rhost-yahooinc-01.eml",
]


@pytest.mark.parametrize("relative", ORIGINALS_SENT_FROM_POSTMASTER)
def test_the_returned_message_inside_a_bounce_is_conversation(relative):
    msg = load(relative)
    original = read_original(msg)
    assert original.source == "attachment" and original.from_.address.startswith("postmaster@")
    assert original.automatic is None
    assert classify(msg)[0] == "BOUNCE" and find_original(msg) is None


@pytest.mark.parametrize("folder", ["bsd", "dos", "mac"])
def test_an_automatic_reply_returned_inside_a_bounce_is_an_automatic_reply(folder):
    """rhost-mimecast-01: the returned message is "Automatic reply : domain owner (Reg-C)" from
    "Automated Message <...>": not a daemon sender, but an automatic reply."""
    msg = load(f"{SISIMAI}/{folder}/rhost-mimecast-01.eml")
    assert read_original(msg).automatic[0] == "AUTO_REPLY"
    assert classify(msg)[0] == "BOUNCE" and find_original(msg) is None


def test_a_person_forwarding_a_bounce_inline_is_decided_bounce():
    """sisimai lhost-sendmail-14: a person's Apple Mail inline forward of a sendmail bounce
    ("Fwd: Returned mail: ..."). Before: the forward rules refused the daemon's original, so a
    manual forward of it was held as ORIGINAL_NOT_FOUND; SPEC: a forwarded bounce is a BOUNCE."""
    raw = (CORPUS / SISIMAI / "bsd" / "lhost-sendmail-14.eml").read_bytes()
    parsed = parse_message(raw)
    assert parsed.automatic is None  # the forward itself is a person's mail
    assert read_original(parsed.email).automatic[0] == "BOUNCE"
    assert find_original(parsed.email) is None
    candidate, _ = build("forward", parsed, frozenset([parsed.from_.address]), RECEIVED)
    assert candidate.delivery == "manual_forward" and is_machine_made(candidate.automatic)


# --- the same reports forwarded by the user as attachments (tests/test_corpus_pipeline's sweep) --

# Before, the forward rules refused the original when its sender was a daemon (ORIGINAL_NOT_FOUND,
# held) and logged it as conversation otherwise; classify's verdict on the original now decides,
# as it does when the report arrives by itself (SPEC: "for all three ways in").
FORWARDED_REPORTS = [
    (f"{CPYTHON}/msg_05.txt", "BOUNCE"), (f"{CPYTHON}/msg_16.txt", "BOUNCE"),
    (f"{CPYTHON}/msg_25.txt", "BOUNCE"), (f"{CPYTHON}/msg_43.txt", "BOUNCE"),
    (f"{SPAMSCOPE}/mail_malformed_2", "BOUNCE"),
    *((f"{FLANKER}/bounce/{name}.eml", "BOUNCE") for name in (
        "broken-mime", "delayed-broken", "delayed", "gmail-invalid-address", "gmail-no-dns",
        "mailbox-full", "no-mx", "office365", "zed")),
    (f"{FLANKER}/complaints/aol.eml", "BOUNCE"), (f"{FLANKER}/complaints/yahoo.eml", "BOUNCE"),
    (f"{FLANKER}/disposition-notification.eml", "AUTO_REPLY"),  # a read receipt (MDN)
    (f"{SISIMAI}/not/rb-issue-368-bug.eml", "BOUNCE"),  # see test_classify_corpus: it is a bounce
    (f"{FLANKER}/long-links.eml", None),  # a person's mail from postmaster@: logged, not refused
]


@pytest.mark.parametrize("relative,label", FORWARDED_REPORTS)
def test_a_report_forwarded_as_an_attachment_is_decided_as_the_report(relative, label):
    raw = (CORPUS / relative).read_bytes()
    alone = parse_message(raw).automatic
    assert (alone[0] if alone else None) == label
    forward = parse_message(forwarded_as_attachment(raw, "alice@ours.example"))
    candidate, _ = build("forward", forward, frozenset(["alice@ours.example"]), RECEIVED)
    assert candidate.delivery == "manual_forward" and candidate.original_found
    assert (candidate.automatic[0] if candidate.automatic else None) == label


# --- "what is the body of the enclosed message?": forwards' first part against parse's all ---

def test_the_enclosed_message_has_the_body_parse_gives_it():
    """flanker enclosed-endless.eml encloses a message whose multipart/alternative holds 3,038
    text/html parts. forwards took the first as the original's HTML, parse joins them all: the
    original now has parse's body, the one it has when it arrives by BCC (the forward adds no HTML)."""
    raw = (CORPUS / FLANKER / "enclosed-endless.eml").read_bytes()
    original = find_original(load(f"{FLANKER}/enclosed-endless.eml"))
    assert original.body_html == parse_message(raw).body_html
    assert original.body_html.count("kicking ass") == 3038
    assert original.body_text.startswith("dudes... you're kicking ass.")


# --- "what is the dedup key?": parse.content_hash against candidate._hash_key ----------------

# Corpus messages without a Message-ID whose BCC key and forwarded-as-attachment key differed:
# forwards kept the CRLF line ends of the enclosed text, parse did not (and the date text was
# stripped on one side only). 23 other such messages agreed.
HASHES_THAT_DIFFERED = [
    f"{CPYTHON}/msg_{n}.txt" for n in ("02", "07", "10", "13", "21", "28", "30", "33", "34", "36", "46")
] + [
    f"{FLANKER}/missing-boundaries.eml", f"{FLANKER}/relative.eml", f"{FLANKER}/spam/broken-ctype.eml",
    f"{TALON}/standard_replies/outlook.eml", f"{SISIMAI}/bsd/arf-11.eml", f"{SISIMAI}/bsd/arf-12.eml",
    f"{SPAMSCOPE}/mail_test_12", f"{SPAMSCOPE}/mail_test_18",
]


def forwarded_as_attachment(raw: bytes, user: str) -> bytes:
    """The user forwarding `raw` as message/rfc822, every line end CRLF as SMTP carries it."""
    body = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    return (f"From: {user}\r\nTo: fwd@log.example\r\nSubject: Fwd: this\r\n"
            "Message-ID: <wrapper@ours.example>\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/mixed; boundary="w"\r\n\r\n--w\r\nContent-Type: text/plain\r\n\r\n'
            "Please log this.\r\n--w\r\nContent-Type: message/rfc822\r\n\r\n").encode() + body + b"\r\n--w--\r\n"


def dedup_keys(raw: bytes) -> tuple[str, str] | None:
    """(key when BCC'd, key when forwarded as an attachment) for a message without a Message-ID."""
    parsed = parse_message(raw)
    if parsed.message_id or not parsed.from_ or not parsed.from_.address:
        return None
    user = frozenset([parsed.from_.address])
    bcc, _ = build("bcc", parsed, user, RECEIVED)
    forward, _ = build("forward", parse_message(forwarded_as_attachment(raw, parsed.from_.address)), user, RECEIVED)
    if not forward.original_found:  # the "user" is a mailer-daemon: its forward is a bounce itself
        return None
    return bcc.dedup_key, forward.dedup_key


@pytest.mark.parametrize("relative", HASHES_THAT_DIFFERED)
def test_a_message_without_message_id_has_one_key_however_it_came_in(relative):
    bcc, forward = dedup_keys((CORPUS / relative).read_bytes())
    assert bcc == forward and bcc.startswith("sha256:")


def test_every_corpus_message_without_message_id_has_one_key():
    roots = [CORPUS / d for d in (CPYTHON, FLANKER, SISIMAI, SPAMSCOPE, TALON)]
    files = [p for root in roots for p in sorted(root.rglob("*")) if p.is_file()
             and (p.suffix in (".eml", "") or (p.suffix == ".txt" and p.name.startswith("msg_")))]
    keys = [k for k in (dedup_keys(p.read_bytes()) for p in files) if k is not None]
    assert len(keys) >= 40
    assert [pair for pair in keys if pair[0] != pair[1]] == []


# --- the one header reader: what policy.default cannot parse is read from its raw text -------

BROKEN_FROM = (b'From: Alice <alice@ours.example>, "a" <\r\nTo: Anna <anna@customer.example>\r\n'
               b"Subject: Quote\r\nMessage-ID: <broken-from@ours.example>\r\n\r\nHello Anna\r\n")


def test_a_header_policy_default_cannot_parse_is_read_from_its_raw_text():
    """parse.py's reader raised here (IndexError inside the email package), so the whole message
    was UNPARSEABLE although its docstring promised never to raise; classify's and forwards'
    readers fell back to the raw text. The one reader falls back and decodes encoded words."""
    parsed = parse_message(BROKEN_FROM)
    assert parsed.from_.address == "alice@ours.example" and parsed.subject == "Quote"
    msg = email.message_from_bytes(b"From: =?utf-8?q?J=C3=B6rg?= <j@x.example>, \"a\" <\r\n\r\n",
                                   policy=mime.POLICY)
    assert mime.header_text(msg, "From") == 'Jörg <j@x.example>, "a" <'


def test_a_bcc_with_a_header_policy_default_cannot_parse_is_decided(receiver):
    from .mailers import send
    user = receiver.add_user("alice@ours.example")
    send(receiver.port, BROKEN_FROM, [user["bcc_address"]], mail_from="alice@ours.example")
    receiver.drain()
    assert [d["reason"] for d in receiver.cli.json("why", "broken-from@ours.example")] == ["LOGGED"]


def test_the_original_and_a_bcc_read_the_same_thread_keys():
    """forwards split References on spaces (a comma or a comment became part of an id); parse
    took what is between <>. One reader now: the same thread keys however the message came in."""
    inner = (b"From: Anna <anna@customer.example>\r\nTo: alice@ours.example\r\nSubject: Re: Quote\r\n"
             b"Message-ID: <r2@customer.example> (Anna's client)\r\n"
             b"In-Reply-To: <q1@ours.example>,\r\nReferences: <q0@ours.example>,<q1@ours.example>\r\n\r\nYes.\r\n")
    parsed = parse_message(inner)
    original = find_original(parse_message(forwarded_as_attachment(inner, "alice@ours.example")).email)
    assert parsed.message_id == original.message_id == "r2@customer.example"
    assert parsed.in_reply_to == [original.in_reply_to] == ["q1@ours.example"]
    assert parsed.references == original.references == ["q0@ours.example", "q1@ours.example"]


def test_an_attached_messages_body_joins_body_text():
    """parse.py's docstring said an attached message's body is not appended to body_text; it is
    (and its files are the message's attachments): the docstring now says so, this holds it."""
    inner = (b"From: Anna <anna@customer.example>\r\nSubject: Quote\r\nMIME-Version: 1.0\r\n"
             b'Content-Type: multipart/mixed; boundary="i"\r\n\r\n--i\r\nContent-Type: text/plain\r\n\r\n'
             b"The quote.\r\n--i\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment;"
             b' filename="quote.pdf"\r\n\r\n%PDF-1.4\r\n--i--\r\n')
    parsed = parse_message(forwarded_as_attachment(inner, "alice@ours.example"))
    assert parsed.body_text.split() == ["Please", "log", "this.", "The", "quote."]
    assert [a.filename for a in parsed.attachments] == ["quote.pdf"]
