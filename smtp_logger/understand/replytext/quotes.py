"""Quoted-history removal for plain-text replies: one pass over the lines that drops '>' quotes and
the attribution lines that introduce them (so inline replies keep their answers), and cuts at the
first unquoted history marker (attribution, Outlook header block, "Original Message" separator,
"Sent from my …" line, "-- " delimiter). Pure and linear: each line is looked at a bounded number
of times.
"""

from __future__ import annotations

from functools import lru_cache

from smtp_logger.understand.replytext import patterns as p

MAX_HEADER_LINES = 4  # an attribution wrapped by the sender's client spans at most this many lines
MAX_HEADER_CHARS = 600
HEADER_BLOCK_SPAN = 8  # lines after "From:" in which a second label must appear
SEPARATOR_STARTS = ("-", "=", "_", "*")
MAX_MARKER_CHARS = 300  # separator, label and "Sent from" lines are short


def strip_quotes(lines: list[str]) -> list[str]:
    """Return the lines that are new content: quotes dropped, history and trailing footer cut."""
    inline = is_inline_reply(lines)
    kept: list[str] = []
    dropped = False  # a quote was dropped since the last kept line
    i = 0
    while i < len(lines):
        line = lines[i]
        if _is_quoted(line):
            dropped, i = True, i + 1
            continue
        if may_be_marker(line):  # else ordinary prose: none of these can start here
            header_end = attribution_end(lines, i)
            if header_end is not None:
                if inline and _next_content_is_quoted(lines, header_end):
                    dropped, i = True, header_end
                    continue
                break
            if starts_history(lines, i) or starts_footer(line):
                break
        if not (dropped and not line.strip() and kept and not kept[-1].strip()):
            kept.append(line)  # one blank line where a quote was, not two
            dropped = dropped and not line.strip()
        i += 1
    return kept


def may_be_marker(line: str) -> bool:
    """Necessary for `attribution_end`, `starts_history` or `starts_footer` to find something
    starting at this line: a colon (labels, intros, loose attributions) or a marker's start."""
    return ":" in line or "：" in line or p.MARKER_START.match(line) is not None


def is_inline_reply(lines: list[str]) -> bool:
    """True when the author wrote below or between the quotes (nothing but a greeting above them).

    Top-posted replies end at the first attribution; inline replies keep the answers that follow
    each quoted block.
    """
    written: list[str] = []
    for i, line in enumerate(lines):
        if _is_quoted(line) or attribution_end(lines, i) is not None:
            return len(written) == 0 or (len(written) == 1 and _is_greeting(written[0]))
        if starts_history(lines, i):
            return False
        if line.strip():
            written.append(line.strip())
            if len(written) > 1:
                return False
    return False


def _is_greeting(line: str) -> bool:
    return len(line.split()) <= 4 and line.endswith((",", ":", "!"))


def _is_quoted(line: str) -> bool:
    return line.lstrip(" \t").startswith(">")


def _next_content_is_quoted(lines: list[str], start: int) -> bool:
    for line in lines[start : start + 50]:
        if line.strip():
            return _is_quoted(line)
    return True  # nothing after the header: dropping it loses nothing


def attribution_end(lines: list[str], start: int) -> int | None:
    """If an "On … wrote:" line (possibly wrapped) starts at `start`, the index just past it."""
    first = lines[start].strip()
    if not first or len(first) > MAX_HEADER_CHARS:
        return None
    if _is_loose_attribution(first):
        return start + 1
    if not p.ATTRIBUTION_OPENER.match(first):
        return None
    parts: list[str] = []
    joined_length = -1  # of " ".join(parts), built only when it may be an attribution
    for end in range(start, min(start + MAX_HEADER_LINES, len(lines))):
        part = lines[end].strip()
        if not part:
            return None
        joined_length += len(part) + 1
        if joined_length > MAX_HEADER_CHARS:
            return None
        parts.append(part)
        if _may_end_attribution(part) and _is_attribution(" ".join(parts)):
            return end + 1
    return None


# The last letter of every quote verb: a line ending in anything else cannot end an attribution
# with a verb (no verb ends in a sigma, whose lower case depends on the letters around it).
_VERB_LAST_CHARS = frozenset(verb[-1] for verb in p.VERB_ENDINGS)
assert not _VERB_LAST_CHARS & {"σ", "ς"}


@lru_cache(maxsize=64)  # each line is asked again by the windows starting up to 3 lines above it
def _may_end_attribution(part: str) -> bool:
    """Cheap and exact necessary test for `_is_attribution(joined)` where the joined text ends
    with this stripped line: it ends with a colon, or in the last letter of some verb once
    `_is_attribution` has stripped it (an emptied line leaves the decision to the full test)."""
    if part.endswith(":"):
        return True
    ending = part.rstrip(" \t-").rstrip(":").rstrip()
    return not ending or ending[-1].lower() in _VERB_LAST_CHARS


def _is_attribution(text: str) -> bool:
    """`text` starts with an opener (checked by the caller); does it end like an attribution?"""
    if not any(map(str.isdigit, text)):
        return False
    ending = text[-240:].rstrip(" \t-").rstrip(":").rstrip().lower()
    if _ends_with_verb(ending):
        return True
    return text.rstrip().endswith(":") and p.ADDRESS_ENDING.search(text[-240:]) is not None


def _is_loose_attribution(line: str) -> bool:
    """One line, any word order: 'John <j@x.com> kirjoitti 28/10/2021 12.46:' (Outlook 2019)."""
    line = line.strip()
    if len(line) > MAX_HEADER_CHARS or not line.endswith((":", "：")) or "@" not in line:
        return False
    return any(map(str.isdigit, line)) and p.VERB_ANYWHERE.search(line) is not None


def _ends_with_verb(text: str) -> bool:
    if not text.endswith(p.VERB_ENDINGS):  # one C-level test rules out most lines
        return False
    for verb in p.VERB_ENDINGS:
        if text.endswith(verb):
            before = text[-len(verb) - 1 : -len(verb)]
            return not before or not before.isalpha() or not verb.isascii()
    return False


def starts_history(lines: list[str], start: int) -> bool:
    """An unquoted copy of earlier mail starts here (separator line or Outlook header block)."""
    line = lines[start]
    if _is_banner(line[:MAX_MARKER_CHARS], lines, start):
        return True
    if len(line) > MAX_MARKER_CHARS:
        return False
    if line.lstrip(" \t>")[:1] in SEPARATOR_STARTS and p.SEPARATOR_LINE.match(line):
        return True
    if line.rstrip().endswith((":", "：")) and p.FORWARD_INTRO.match(line):
        return True
    label = header_label(line)
    if label in p.FROM_LABEL_SET:
        return _has_second_label(lines, start)
    return label in p.HEADER_LABEL_SET and _label_run_has_from(lines, start)


def _is_banner(head: str, lines: list[str], start: int) -> bool:
    """'------ Forwarded Message ------' in any language: dashes around a phrase, then headers."""
    if not head.lstrip(" \t>").startswith("--"):
        return False
    match = p.DASHED_BANNER.match(head)
    if not match:
        return False
    same_line_label = header_label(match.group(2)) in p.HEADER_LABEL_SET
    if match.group(1).strip().lower() in p.SEPARATOR_WORDS or same_line_label:
        return True
    following = [line for line in lines[start + 1 : start + 6] if line.strip()][:2]
    return len(following) == 2 and all(header_label(f) in p.HEADER_LABEL_SET for f in following)


def header_label(line: str) -> str | None:
    """The lower-cased 'Label' of a 'Label: value' line, or None."""
    head = line[:MAX_MARKER_CHARS]
    if ":" not in head and "：" not in head:
        return None
    match = p.LABEL.match(head)
    return match.group(1).lower() if match else None


def _has_second_label(lines: list[str], start: int) -> bool:
    for line in lines[start + 1 : start + 1 + HEADER_BLOCK_SPAN]:
        label = header_label(line)
        if label in p.HEADER_LABEL_SET and label not in p.FROM_LABEL_SET:
            return True
    return False


def _label_run_has_from(lines: list[str], start: int) -> bool:
    """'Date:/Subject:/From:/To:' — consecutive label lines, at least three, one of them From."""
    labels = []
    for line in lines[start : start + HEADER_BLOCK_SPAN]:
        label = header_label(line)
        if label not in p.HEADER_LABEL_SET:
            break
        labels.append(label)
    return len(labels) >= 3 and any(label in p.FROM_LABEL_SET for label in labels)


def starts_footer(line: str) -> bool:
    """A signature delimiter or an app's "Sent from my …" line: nothing below it is new content."""
    if len(line) > MAX_MARKER_CHARS:
        return False
    return bool(p.SIGNATURE_DELIMITER.match(line) or p.MOBILE_LINE.match(line))
