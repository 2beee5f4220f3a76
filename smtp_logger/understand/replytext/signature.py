"""Signature removal at the end of a reply's new text: a standalone closing ("Best regards,") with a
few short lines below it, a rule line ("-----") over a contact block, or a final name + contact
paragraph ("Jane Roe / jane@x.com / +1 555 …"). Works on the last lines only; never touches text
above them and never looks at quoted history (already gone).
"""

from __future__ import annotations

import re

from smtp_logger.understand.replytext import patterns as p

TAIL_LINES = 12  # a signature lives in the last dozen non-blank lines
SHORT_LINE = 60  # signature lines are short
CONTACT_BLOCK_LINES = 7

_EMAIL = re.compile(r"[^\s@<>()]+@[^\s@<>()]+\.\w+")
_PHONE = re.compile(r"(?:\+|\(\d)[\d ()./-]{6,}|\b\d{3}[ .-]\d{3}[ .-]\d{4}\b|\b[tfmp]\.\s*\d[\d ()./-]{5,}", re.I)
_URL = re.compile(r"https?://|\bwww\.|\b[\w-]+\.(?:com|org|net|io|co)\b", re.I)
_NAME = re.compile(r"^[-–—~*\s]*[A-ZÀ-ÖØ-Þ][\w'’.-]*(?:\s+[A-ZÀ-ÖØ-Þ][\w'’.-]*){0,3}\s*$")
_MOBILE_NOTE = re.compile(r"^\s*(?:sent )?(?:via|from) (?:mobile|phone|my phone|cell)\s*$", re.I)


def strip_signature(lines: list[str]) -> list[str]:
    """Drop a trailing signature block from the reply's own lines (quotes already removed)."""
    cut = signature_start(lines)
    return _trim_blank(lines[:cut] if cut is not None else lines)


def signature_start(lines: list[str]) -> int | None:
    """The index in `lines` where a trailing signature block starts, or None when there is none."""
    start = 0
    while start < len(lines) and not lines[start].strip():
        start += 1
    trimmed = _trim_blank(lines)
    for rule in (_cut_at_closing, _cut_at_rule_over_contacts, _cut_contact_paragraph):
        cut = rule(trimmed)
        if cut is not None and any(line.strip() for line in trimmed[:cut]):
            return start + cut
    return None


def _trim_blank(lines: list[str]) -> list[str]:
    end = len(lines)
    while end and (not lines[end - 1].strip() or _is_rule(lines[end - 1])):
        end -= 1
    start = 0
    while start < end and not lines[start].strip():
        start += 1
    return lines[start:end]


def _tail_indexes(lines: list[str]) -> list[int]:
    """The indexes of the last TAIL_LINES non-blank lines, in order (read from the end only)."""
    indexes: list[int] = []
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].strip():
            indexes.append(i)
            if len(indexes) == TAIL_LINES:
                break
    return indexes[::-1]


def _cut_at_closing(lines: list[str]) -> int | None:
    """'Regards,' alone on a line, over at most a few short lines that hold contact details."""
    tail = _tail_indexes(lines)
    for position, index in enumerate(tail):
        if p.CLOSING_LINE.match(lines[index]):
            below = [lines[i] for i in tail[position + 1 :]]
            short = len(below) <= 6 and all(len(line.strip()) <= SHORT_LINE for line in below)
            if short and any(_is_contact(line) for line in below):
                return index
    return None


def _cut_at_rule_over_contacts(lines: list[str]) -> int | None:
    """A line of five or more dashes / underscores over a block that holds contact details."""
    tail = _tail_indexes(lines)
    for position, index in enumerate(tail):
        line = lines[index].strip()
        if _is_rule(line) and len(line.replace(" ", "")) >= 5:
            below = [lines[i].strip() for i in tail[position + 1 :]]
            short = all(len(b) <= SHORT_LINE for b in below)
            if below and short and any(_is_contact(b) for b in below):
                return index
    return None


def _cut_contact_paragraph(lines: list[str]) -> int | None:
    """Last paragraph = a name line plus only contact lines (mail, phone, web, 'via mobile')."""
    start = len(lines)
    while start and lines[start - 1].strip():
        start -= 1
    paragraph = [line.strip() for line in lines[start:]]
    if not 2 <= len(paragraph) <= CONTACT_BLOCK_LINES or start == 0:
        return None
    if not _NAME.match(paragraph[0]):
        return None
    if all(_is_contact(line) or _MOBILE_NOTE.match(line) for line in paragraph[1:]):
        return start
    return None


def _is_rule(line: str) -> bool:
    return len(line) <= 200 and p.RULE_LINE.match(line) is not None


def _is_contact(line: str) -> bool:
    line = line.strip()
    if len(line) > SHORT_LINE:
        return False
    return bool(_EMAIL.search(line) or _PHONE.search(line) or _URL.search(line))
