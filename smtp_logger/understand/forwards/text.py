"""Plain-text clean-up shared by the inline parsers: newlines, BOMs, '>' quoting, indentation.

Owns how a forwarder's text body is normalised before parsing and how the original's body is
cleaned after it (one '>' level off, Outlook's 4-space indentation off, trimmed). Pure functions.
"""

from __future__ import annotations

import re

_QUOTE_PREFIX = re.compile(r"^[ \t]{0,3}>[ \t]?")
_INVISIBLE = dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060"), None)


def normalize_text(body: str) -> str:
    """LF newlines, no BOM / zero-width characters, non-breaking spaces as plain spaces."""
    text = body.replace("\r\n", "\n").replace("\r", "\n").translate(_INVISIBLE)
    text = re.sub(r"\u00a0+$", "", text, flags=re.MULTILINE)
    return text.replace("\u00a0", " ")


def is_quoted(line: str) -> bool:
    return _QUOTE_PREFIX.match(line) is not None


def unquote_line(line: str) -> str:
    """Remove one level of '>' quoting ("> > x" -> "> x", ">x" -> "x")."""
    return _QUOTE_PREFIX.sub("", line, count=1)


def first_content_line(lines: list[str]) -> str | None:
    return next((line for line in lines if line.strip()), None)


def clean_body(lines: list[str]) -> str:
    """The original's body: wholly-quoted text unquoted once, common indentation removed, trimmed."""
    content = [line for line in lines if line.strip()]
    if content and all(is_quoted(line) for line in content):
        lines = [unquote_line(line) for line in lines]
    return "\n".join(dedent_lines(lines)).strip()


def dedent_lines(lines: list[str]) -> list[str]:
    """Remove the indentation every non-blank line shares (Outlook 2019 indents by 4 spaces)."""
    content = [line for line in lines if line.strip()]
    if not content:
        return lines
    indent = min(len(line) - len(line.lstrip(" \t")) for line in content)
    if indent == 0:
        return lines
    return [line[indent:] if line.strip() else line.lstrip(" \t") for line in lines]


def strip_line_quotes(line: str) -> str:
    """A line without any '>' quoting, for recognising separators inside quoted text."""
    while is_quoted(line):
        line = unquote_line(line)
    return line
