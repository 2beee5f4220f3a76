"""The header block of an inline forward ("From: / Date: / To: / Cc: / Subject:" in any language).

Owns reading consecutive header lines into fields, including Yahoo's glued single-line form
("From: a <a@x>To: b <b@x>Sent: ...Subject: s") and wrapped recipient lines. It only reads
labels from `labels.py`; it does not decide whether a text is a forward.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from smtp_logger.understand.forwards.labels import GLUED_LABEL, HEADER_LINE, field_of

MAX_LINE = 4000          # longer lines are body text, never header lines
MAX_LABEL_PREFIX = 40    # the colon after a label comes within this many characters
MAX_LEADING_BLANKS = 5   # blank lines allowed between a separator and its header block
MIN_GLUED_LABELS = 3     # a line is split on glued labels only when it holds this many
_CONTINUED_FIELDS = {"to", "cc", "bcc", "reply_to"}


@dataclass
class HeaderBlock:
    fields: dict[str, str] = field(default_factory=dict)
    end: int = 0          # index of the first line after the block

    def add(self, name: str, value: str) -> None:
        self.fields.setdefault(name, value.strip())


def _may_start_glued_label(value: str, index: int) -> bool:
    before, char = value[index - 1], value[index]
    if char.islower() or not char.isalpha():
        return False
    return before in '>"' or before.isdigit() or before.isupper()


def _glued_labels(value: str) -> list:
    """Label matches glued to the preceding text ("...acme.com>To: ", "...GMT+1Subject: ")."""
    matches, index = [], 1
    while index < len(value):
        if _may_start_glued_label(value, index):
            match = GLUED_LABEL.match(value, index)
            if match and field_of(match.group("label")):
                matches.append(match)
                index = match.end()
                continue
        index += 1
    return matches


def _has_label_colon(line: str) -> bool:
    head = line[:MAX_LABEL_PREFIX]
    return ":" in head or "：" in head


@lru_cache(maxsize=512)  # a sliding search re-reads the same few dozen lines
def parse_header_line(line: str) -> tuple[tuple[str, str], ...] | None:
    """((field, value), ...) for a header line, or None when the line is not one."""
    if len(line) > MAX_LINE or not _has_label_colon(line):
        return None
    match = HEADER_LINE.match(line)
    if not match:
        return None
    first = field_of(match.group("label"))
    if first is None:
        return None
    value = match.group("value")
    glued = _glued_labels(value)
    if len(glued) + 1 < MIN_GLUED_LABELS:
        return ((first, value),)
    pairs, name, start = [], first, 0
    for item in glued:
        pairs.append((name, value[start:item.start()]))
        name, start = field_of(item.group("label")), item.end()
    pairs.append((name, value[start:]))
    return tuple(pairs)


def _is_continuation(line: str, last_field: str | None) -> bool:
    return last_field in _CONTINUED_FIELDS and line[:1] in " \t" and "@" in line


def read_header_block(lines: list[str], start: int = 0) -> HeaderBlock | None:
    """Read the header block starting at `start` (after a few blank lines); None if there is none.

    A block needs a sender ("From:" in some language) and at least one other field.
    """
    index, blanks = start, 0
    while index < len(lines) and not lines[index].strip() and blanks < MAX_LEADING_BLANKS:
        index, blanks = index + 1, blanks + 1
    block, last_field = HeaderBlock(), None
    while index < len(lines):
        line = lines[index]
        pairs = parse_header_line(line)
        if pairs is None:
            if not _is_continuation(line, last_field):
                break
            block.fields[last_field] = f"{block.fields.get(last_field, '')} {line.strip()}".strip()
        elif any(name in block.fields for name, _ in pairs):
            break  # a label seen again starts the next (nested) block
        else:
            for name, value in pairs:
                block.add(name, value)
            last_field = pairs[-1][0]
        index += 1
    block.end = index
    if "from" not in block.fields or len(block.fields) < 2:
        return None
    return block
