"""A notice as the user receives it: plain text plus a small HTML part, in the account's
language, made from the facts the outbox row keeps. Every notice says it is automatic
(Auto-Submitted: auto-generated, RFC 3834; X-Auto-Response-Suppress: All) and carries our trace
header NOTICE_HEADER, also printed in its footer, so that one coming back is recognised
(understand/classify/notices.py). Pure: builds an EmailMessage, sends nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from html import escape

from smtp_logger.decide import noticewords
from smtp_logger.decide.reasons import LOGGED
from smtp_logger.understand.classify.notices import NOTICE_HEADER

# Reasons whose recorded detail only repeats the sentence (or, for a confirmation, the code
# and link shown below it): left out of the notice.
PLAIN_DETAIL = frozenset({LOGGED, "ORIGINAL_NOT_FOUND", "FORWARDING_CONFIRMATION"})


@dataclass(frozen=True)
class Draft:
    """One outbox row, as much of it as the text needs."""

    id: int
    kind: str  # "notice" | "digest"
    reason: str
    recipient: str
    facts: dict


def message_id(notice_id: int, hostname: str) -> str:
    """Stable per notice: a copy sent again after a crash is the same message to the recipient."""
    return f"<notice-{notice_id}@{hostname}>"


def _date(value: str | None) -> str:
    if not value:
        return ""
    try:
        return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M %z")
    except ValueError:
        return value


def _sender(facts: dict) -> str:
    name, address = facts.get("from_name"), facts.get("from_address")
    if name and address:
        return f"{name} <{address}>"
    return address or name or ""


def _fix_values(facts: dict) -> dict:
    confirmation = facts.get("confirmation") or {}
    return dict(address=facts.get("logging_address", ""), retention_days=facts.get("retention_days", 30),
                name=facts.get("from_name") or facts.get("from_address") or "",
                sender=facts.get("from_address") or "", user=facts.get("user", ""),
                requester=confirmation.get("requester") or "someone",
                provider=confirmation.get("provider") or "your mail provider")


def _extra_lines(reason: str, facts: dict) -> list[str]:
    """What the fix points at: the files left out, or the confirmation code and link."""
    if reason == LOGGED:
        return [f"- {a['filename']} ({a['size']:,} bytes): {a['reason']}" for a in facts.get("attachments", [])]
    confirmation = facts.get("confirmation") or {}
    lines = []
    if confirmation.get("code"):
        lines.append(f"Code: {confirmation['code']}")
    if confirmation.get("link"):
        lines.append(f"Link: {confirmation['link']}")
    return lines


def _notice_parts(draft: Draft, language: str) -> tuple[str, list[tuple[str, str]], str, str, list[str]]:
    """(intro, labelled rows, sentence, fix, extra lines) of a single notice."""
    w, facts = noticewords.words(language), draft.facts
    intro = w["intro_logged" if draft.reason == LOGGED else "intro"].format(
        address=facts.get("logging_address", ""))
    message_id = f"<{facts['message_id']}>" if facts.get("message_id") else ""
    rows = [(w["subject"], facts.get("subject") or w["no_subject"]), (w["date"], _date(facts.get("date"))),
            (w["from"], _sender(facts)), (w["message_id"], message_id)]
    if facts.get("detail") and draft.reason not in PLAIN_DETAIL:
        rows.append((w["details"], facts["detail"]))
    fix = noticewords.fix(draft.reason, language, **_fix_values(facts))
    return intro, [r for r in rows if r[1]], noticewords.sentence(draft.reason, language), fix, \
        _extra_lines(draft.reason, facts)


def _subject(draft: Draft, language: str) -> str:
    w = noticewords.words(language)
    if draft.kind == "digest":
        count = len(draft.facts.get("items", []))
        return w["digest_one"] if count == 1 else w["digest"].format(count=count)
    original = " ".join((draft.facts.get("subject") or w["no_subject"]).split())[:200]
    return w["left_out" if draft.reason == LOGGED else "not_logged"].format(subject=original)


def _text_and_html(draft: Draft, language: str) -> tuple[str, str]:
    w = noticewords.words(language)
    footer = f"{w['footer']}\n{NOTICE_HEADER}: {draft.id}"
    if draft.kind == "digest":
        items = draft.facts.get("items", [])
        lines = [f"- {_date(i.get('date'))}  {i.get('subject') or w['no_subject']}\n"
                 f"  {noticewords.sentence(i['reason'], language)}" for i in items]
        text = "\n".join([w["intro_digest"], "", *lines, "", footer])
        html_items = "".join(f"<li>{escape(_date(i.get('date')))} <b>{escape(i.get('subject') or w['no_subject'])}"
                             f"</b><br>{escape(noticewords.sentence(i['reason'], language))}</li>" for i in items)
        body = f"<p>{escape(w['intro_digest'])}</p><ul>{html_items}</ul>"
    else:
        intro, rows, sentence, fix, extra = _notice_parts(draft, language)
        text = "\n".join([intro, "", sentence, "", *(f"{k}: {v}" for k, v in rows), "",
                          f"{w['fix']}: {fix}", *extra, "", footer])
        table = "".join(f"<tr><th align=left>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
        link = (draft.facts.get("confirmation") or {}).get("link")
        extra_html = "".join(f"<li>{escape(line)}</li>" for line in extra if not line.startswith("Link: "))
        if link:
            extra_html += f'<li>Link: <a href="{escape(link)}">{escape(link)}</a></li>'
        body = (f"<p>{escape(intro)}</p><p><b>{escape(sentence)}</b></p><table>{table}</table>"
                f"<p>{escape(w['fix'])}: {escape(fix)}</p>" + (f"<ul>{extra_html}</ul>" if extra_html else ""))
    html = (f'<!doctype html>\n<html lang="{language}"><body style="font-family:sans-serif">\n{body}\n'
            f'<p style="color:#777;font-size:small">{escape(w["footer"])}<br>\n'
            f"{NOTICE_HEADER}: {draft.id}</p>\n</body></html>\n")
    return text + "\n", html


def render(draft: Draft, sender: str, hostname: str, now: datetime) -> EmailMessage:
    """The notice (or digest) as an email to its recipient."""
    language = noticewords.language_of(draft.facts.get("language"))
    text, html = _text_and_html(draft, language)
    msg = EmailMessage()
    msg["From"] = f"smtp-logger <{sender}>"
    msg["To"] = draft.recipient
    msg["Subject"] = _subject(draft, language)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id(draft.id, hostname)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg[NOTICE_HEADER] = str(draft.id)
    msg["Content-Language"] = language
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg
