"""Inline forwards: find the original message inside the forwarder's text body.

Owns where a forward starts (separator line, Outlook rule, "On ... wrote:" attribution, or a bare
"From:" block when the outer subject says "Fwd:"), the note typed above it, and assembling the
`OriginalMessage`. A reply ("Re:" outer subject, quoted history) is not a forward. Never raises.
"""

from __future__ import annotations

import re

from smtp_logger.understand.forwards.dates import parse_date
from smtp_logger.understand.forwards.headers import MAX_LINE, HeaderBlock, parse_header_line, read_header_block
from smtp_logger.understand.forwards.labels import (
    ATTRIBUTION_REGEXES,
    FORWARD_SEPARATOR,
    ORIGINAL_SEPARATOR,
    OUTLOOK_RULE,
)
from smtp_logger.understand.forwards.mailboxes import parse_recipients, parse_sender
from smtp_logger.understand.forwards.model import OriginalMessage
from smtp_logger.understand.forwards.subjects import strip_forward_prefixes, subject_kind
from smtp_logger.understand.forwards.text import (
    clean_body,
    first_content_line,
    is_quoted,
    normalize_text,
    strip_line_quotes,
    unquote_line,
)

MAX_ATTRIBUTION = 500  # "On <date>, <sender> wrote:" lines are short
HEADER_WINDOW = 40     # lines looked at for a header block (blank lines + headers + wrapped recipients)


def _note(lines: list[str], end: int) -> str | None:
    return "\n".join(lines[:end]).strip() or None


def _outer_subject(outer_subject: str | None) -> str:
    return strip_forward_prefixes(outer_subject or "")


def _from_header_block(lines: list[str], end_of_note: int, start: int, head: list[str],
                       outer_subject: str | None) -> OriginalMessage | None:
    """The original whose header block begins at `lines[start]` (after `head`, Yahoo's same-line start).

    Only a bounded window is read for the header block, so failed attempts stay cheap on huge bodies.
    """
    window = head + lines[start:start + HEADER_WINDOW]
    quoted = is_quoted(first_content_line(window) or "")
    if quoted:
        window = [unquote_line(line) for line in window]
    header: HeaderBlock | None = read_header_block(window)
    if header is None:
        return None
    rest = lines[start + HEADER_WINDOW:]
    body_lines = window[header.end:] + ([unquote_line(line) for line in rest] if quoted else rest)
    fields = header.fields
    date_raw = fields.get("date") or None
    return OriginalMessage(
        source="inline",
        from_=parse_sender(fields.get("from")),
        to=parse_recipients(fields.get("to")),
        cc=parse_recipients(fields.get("cc")),
        subject=fields.get("subject") or _outer_subject(outer_subject),
        date_raw=date_raw,
        date=parse_date(date_raw),
        body_text=clean_body(body_lines),
        note=_note(lines, end_of_note),
    )


def _from_attribution(lines: list[str], index: int, match: re.Match,
                      outer_subject: str | None) -> OriginalMessage | None:
    sender = parse_sender(match.group("sender"))
    if sender is None:
        return None
    date_raw = match.group("date").strip() or None
    return OriginalMessage(
        source="inline",
        from_=sender,
        subject=_outer_subject(outer_subject),
        date_raw=date_raw,
        date=parse_date(date_raw),
        body_text=clean_body(lines[index + 1:]),
        note=_note(lines, index),
    )


def _attribution(line: str) -> re.Match | None:
    if len(line) > MAX_ATTRIBUTION or not line.rstrip().endswith(":"):
        return None
    for regex in ATTRIBUTION_REGEXES:
        match = regex.match(line)
        if match:
            return match
    return None


def _try_forward_at(lines: list[str], index: int, kind: str | None,
                    outer_subject: str | None) -> OriginalMessage | None:
    """The original message if a forward starts at line `index`, else None."""
    line = strip_line_quotes(lines[index])
    separator = FORWARD_SEPARATOR.match(line)
    if separator:
        rest = (separator.group("rest") or "").strip()
        head = [rest] if rest and parse_header_line(rest) else []
        return _from_header_block(lines, index, index + 1, head, outer_subject)
    if kind == "plain":
        return None
    if ORIGINAL_SEPARATOR.match(line) or OUTLOOK_RULE.match(line):
        return _from_header_block(lines, index, index + 1, [], outer_subject)
    if kind != "forward":
        return None
    attribution = _attribution(lines[index])
    if attribution:
        return _from_attribution(lines, index, attribution, outer_subject)
    pairs = parse_header_line(line)
    if pairs and pairs[0][0] == "from":
        return _from_header_block(lines, index, index, [], outer_subject)
    return None


def _extract(body: str, outer_subject: str | None) -> OriginalMessage | None:
    kind = subject_kind(outer_subject)
    if kind == "reply":
        return None
    lines = normalize_text(body).split("\n")
    for index, line in enumerate(lines):
        if not line.strip() or len(line) > MAX_LINE:
            continue
        original = _try_forward_at(lines, index, kind, outer_subject)
        if original is not None:
            return original
    return None


def extract_inline_forward(body: str, outer_subject: str | None) -> OriginalMessage | None:
    """The original message of an inline forward in `body`, or None when it is not a forward."""
    if not isinstance(body, str):
        return None
    if outer_subject is not None and not isinstance(outer_subject, str):
        outer_subject = None
    try:
        return _extract(body, outer_subject)
    except (ValueError, TypeError, IndexError, KeyError, AttributeError, RecursionError, re.error):
        # junk must not stop intake: "no forward found" is the caller's ORIGINAL_NOT_FOUND path
        return None
