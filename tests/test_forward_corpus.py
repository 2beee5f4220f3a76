"""Corpus tests for forward parsing: crisp's 206 inline-forward cases and real message/rfc822 forwards.

Each crisp case runs three ways: the text body through `extract_inline_forward`, the body wrapped
as a text/plain RFC 5322 message through `find_original`, and (for webmail/Outlook clients) the
body rendered as HTML-only mail. Checks follow corpus/README.md; the corpus is never copied here.
"""

from __future__ import annotations

import email
import html
import json
import os
from collections import Counter
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from smtp_logger.understand.forwards import extract_inline_forward, find_original

CORPUS = Path(os.environ.get("SMTP_LOGGER_CORPUS") or Path(__file__).resolve().parents[2] / "shared" / "corpus")
CRISP = CORPUS / "crisp-email-forward-parser"
HTML_CLIENTS = ("gmail", "outlook_live", "outlook_2013", "outlook_2019", "new_outlook_2019", "yahoo")

# Exact pass counts reached; raise them when the parser improves, never lower them silently.
EXPECTED_PASSES = {"plain": 206, "message_text": 206, "message_html": 124}

pytestmark = pytest.mark.skipif(
    not (CRISP / "expected.json").exists(),
    reason=f"forward corpus not found at {CORPUS} (set SMTP_LOGGER_CORPUS to the shared/corpus directory)",
)


def _cases() -> list[dict]:
    return json.loads((CRISP / "expected.json").read_text("utf-8"))["cases"]


def _body(case: dict) -> str:
    return (CRISP / case["body_file"]).read_bytes().decode("utf-8")  # keep BOM and CRLF


def problems(case: dict, got) -> list[str]:
    """What differs between the parser's result and the case's expectations (README semantics)."""
    expected = case["expected"]
    if not expected["forwarded"]:
        return [] if got is None else ["detected a forward in a non-forward"]
    if got is None:
        return ["no forward found"]
    found = []
    if "message" in expected and got.note != expected["message"]:
        found.append(f"note {got.note!r}")
    want = expected["email"]
    if got.subject != want["subject"]:
        found.append(f"subject {got.subject!r}")
    if not got.date_raw or len(got.date_raw) < want["date"]["min_length"]:
        found.append(f"date {got.date_raw!r}")
    if got.body_text != want["body"]:
        found.append(f"body {got.body_text[:80]!r}")
    if "from" in want:
        have = (got.from_.address, got.from_.name) if got.from_ else None
        if have != (want["from"]["address"], want["from"]["name"]):
            found.append(f"from {have!r}")
    for key in ("to", "cc"):
        boxes = getattr(got, key)
        for index, entry in enumerate(want.get(key, [])):
            box = boxes[index] if index < len(boxes) else None
            if box is None or box.address != entry["address"] or ("name" in entry and box.name != entry["name"]):
                found.append(f"{key}[{index}] {box!r}")
    if "cc_count" in want and len(got.cc) != want["cc_count"]:
        found.append(f"cc_count {len(got.cc)}")
    return found


def _text_to_html(text: str) -> str:
    """Roughly what webmail clients send: a <div> per line, <br> for blank lines, quotes in <blockquote>."""
    out, quoted = [], False
    for line in text.replace("\r\n", "\n").split("\n"):
        is_quote = line.lstrip().startswith(">")
        if is_quote != quoted:
            out.append('<blockquote type="cite">' if is_quote else "</blockquote>")
            quoted = is_quote
        content = line.lstrip()[1:].lstrip() if is_quote else line
        out.append(f"<div>{html.escape(content) if content.strip() else '<br>'}</div>")
    if quoted:
        out.append("</blockquote>")
    return "<html><body>" + "\n".join(out) + "</body></html>"


def _as_message(case: dict, body: str, subtype: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Sales Rep <rep@example.com>"
    msg["To"] = "log@crm.example.com"
    if case["outer_subject"] is not None:
        msg["Subject"] = case["outer_subject"].strip()
    msg.set_content(_text_to_html(body) if subtype == "html" else body, subtype=subtype)
    return email.message_from_bytes(msg.as_bytes(), policy=policy.default)


def _run(mode: str) -> tuple[int, list[tuple[dict, list[str]]]]:
    results = []
    for case in _cases():
        body = _body(case)
        if mode == "plain":
            got = extract_inline_forward(body, case["outer_subject"])
        elif mode == "message_text":
            got = find_original(_as_message(case, body, "plain"))
        elif case["client"] in HTML_CLIENTS:
            got = find_original(_as_message(case, body, "html"))
        else:
            continue
        results.append((case, problems(case, got)))
    return sum(1 for _, found in results if not found), results


def _summary(mode: str, results) -> str:
    lines = [f"[{mode}] {sum(1 for _, f in results if not f)}/{len(results)} cases pass"]
    for key in ("client", "language"):
        total, ok = Counter(), Counter()
        for case, found in results:
            total[case[key] or "-"] += 1
            ok[case[key] or "-"] += not found
        lines.append(f"  per {key}: " + ", ".join(f"{k} {ok[k]}/{total[k]}" for k in sorted(total)))
    failures = [f"  FAIL {case['id']}: {'; '.join(found)}" for case, found in results if found]
    return "\n".join(lines + failures[:40])


@pytest.mark.parametrize("mode", ["plain", "message_text", "message_html"])
def test_crisp_forward_corpus(mode: str) -> None:
    passed, results = _run(mode)
    summary = _summary(mode, results)
    print(summary)
    assert passed == EXPECTED_PASSES[mode], summary


# --- message/rfc822 forwards and bounces from the other corpora ---------------------------------

def _load(relative: str) -> EmailMessage:
    path = CORPUS / relative
    if not path.exists():
        pytest.skip(f"{path} not in corpus")
    return email.message_from_bytes(path.read_bytes(), policy=policy.default)


CPYTHON = "cpython-test-email/Lib/test/test_email/data"
FLANKER = "mailgun-flanker/tests/fixtures/messages"
SISIMAI = "sisimai-set-of-emails/maildir"


@pytest.mark.parametrize(
    ("relative", "address", "name", "subject"),
    [
        (f"{CPYTHON}/msg_06.txt", "barry@python.org", None, "testing"),  # "(Barry A. Warsaw)" is a comment
        (f"{CPYTHON}/msg_11.txt", None, None, "An enclosed message"),  # the enclosed message has no From
        (f"{CPYTHON}/msg_42.txt", "webmaster@python.org", None, ""),     # enclosed message has no Subject
        (f"{CPYTHON}/msg_46.txt", "sender@example.net", "Dr. Sender", "GroupwiseForwardingTest"),
        (f"{FLANKER}/enclosed.eml", "dan@example.com", "Kirk Douglas", "Thanks!"),
        (f"{FLANKER}/enclosed-broken.eml", "dan@example.com", "Kirk Douglas", "Thanks!"),
        (f"{FLANKER}/enclosed-broken-body.eml", "dan@example.com", "Kirk Douglas", "Thanks!"),
        (f"{FLANKER}/enclosed-bad-encoding.eml", "dan@example.com", "Kirk Douglas", "Thanks!"),
        (f"{FLANKER}/enclosed-endless.eml", "bob@examplehq.com", "Mike First", "Thanks!"),
        (f"{FLANKER}/enclosed-global.eml", "dan@example.com", "Kirk Douglas", "Thanks!"),  # message/global
        (f"{SISIMAI}/not/is-not-bounce-02.eml", "dummy@example.com", "André Brás", "original"),
    ],
)
def test_attached_original(relative: str, address: str | None, name: str | None, subject: str) -> None:
    got = find_original(_load(relative))
    assert got is not None and got.source == "attachment"
    sender = (got.from_.address, got.from_.name) if got.from_ else (None, None)
    assert sender == (address, name)
    assert got.subject == subject


def test_attached_original_ids_and_body() -> None:
    got = find_original(_load(f"{CPYTHON}/msg_46.txt"))
    assert got.message_id == "4B66B890.4070408@teconcept.de"
    assert got.date is not None and got.date.utcoffset() is not None
    assert "Testing email forwarding with Groupwise" in got.body_text
    nested = find_original(_load(f"{FLANKER}/enclosed.eml"))
    assert nested.note == "Hello"
    assert nested.message_id == "BANLkTinHZL1QMDHOv7Ewp+Z5u6SPvYcc+Q@mail.gmail.com"
    assert nested.body_text.startswith("dudes... you're kicking ass.")


def test_italian_outlook_inline_forward_in_real_mail() -> None:
    got = find_original(_load("spamscope-mail-parser/tests/mails/mail_test_7"))
    assert got is not None and got.source == "inline"
    assert got.from_.address == "chiarodiluce@gmail.com"   # "Da: export@agade.info [mailto:chiarodiluce@gmail.com]"
    assert got.subject == "Ordine"
    assert got.to[0].address == "geronazzo@voidstudicom.it"
    assert got.date == got.date.replace(year=2017, month=6, day=9, hour=15, minute=50)
    assert got.body_text.startswith("Buongiorno Mariachiara")
    assert got.note.startswith("Ciao sere mi puoi dire")


def _sisimai_reports() -> list[Path]:
    root = CORPUS / SISIMAI
    return sorted(p for folder in ("bsd", "dos", "mac") if (root / folder).is_dir() for p in (root / folder).iterdir())


def test_delivery_reports_are_not_forwards() -> None:
    """Every sisimai bounce, DSN, complaint and auto-reply (789 files, 392+ carry the original) gives None."""
    reports = _sisimai_reports()
    if not reports:
        pytest.skip("sisimai corpus not found")
    carrying = [p for p in reports if b"message/rfc822" in p.read_bytes().lower()]
    assert len(carrying) > 300
    leaked = [p.name for p in reports
              if find_original(email.message_from_bytes(p.read_bytes(), policy=policy.default)) is not None]
    assert leaked == []


@pytest.mark.parametrize("name", ["msg_05.txt", "msg_16.txt", "msg_25.txt", "msg_43.txt"])
def test_cpython_delivery_reports_are_not_forwards(name: str) -> None:
    assert find_original(_load(f"{CPYTHON}/{name}")) is None
