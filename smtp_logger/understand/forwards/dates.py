"""Dates as mail clients print them in forwarded blocks, in any of our languages.

`parse_date` tries RFC 5322 first (stdlib), then `dateparser` for localized forms such as
"ma 23 nov 2026 om 10:15" or "Wed, Oct 27, 2021 at 9:31 AM". An offset in the text is kept
(aware result); without one the result stays naive. Never raises; returns None when unsure.
"""

from __future__ import annotations

import re
import warnings
from datetime import datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache

LANGUAGES = [
    "en", "nl", "de", "fr", "es", "pt", "it", "sv", "da", "nb", "fi", "pl", "cs", "sk", "hu", "ro",
    "ru", "uk", "tr", "hr", "et", "ja",
]
_MAX_LENGTH = 200
# Words clients put between date and time, and year markers dateparser trips over.
_NOISE = re.compile(
    r"\s(?:at|om|um|à\(s\)|à|a\slas|a\sla|às|alle|kl\.?|klo|kell|o|в|о|saat)\s(?=\d)|(?<=\d)\s?(?:г|р)\.(?=[\s,]|$)",
    re.IGNORECASE,
)
_UTC_OFFSET = re.compile(r"\b(?:GMT|UTC)\s?([+-])(\d{1,2})(?::?(\d{2}))?\b")
# Localized zone names dateparser does not know, as UTC offsets.
_ZONE_NAMES = {
    "MEZ": "+0100", "MESZ": "+0200", "OEZ": "+0200", "OESZ": "+0300", "WEZ": "+0000", "WESZ": "+0100",
    "SEČ": "+0100", "SELČ": "+0200", "HEC": "+0100", "HAEC": "+0200", "CEST": "+0200", "CET": "+0100",
}
_ZONE = re.compile(r"(?<!\w)(" + "|".join(sorted(_ZONE_NAMES, key=len, reverse=True)) + r")(?!\w)")
_CJK_DATE = re.compile(r"(\d{4})\s?年\s?(\d{1,2})\s?月\s?(\d{1,2})\s?日(?:\s?\(?[^\s\d)]{1,4}曜日\)?)?")
_DOTTED_TIME = re.compile(r"\b(\d{1,2})\.(\d{2})(?:\.(\d{2}))?(?=\s|$|,)")


_RFC5322_SHAPE = re.compile(
    r"^(?:[A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{2,4}\s+\d{1,2}:\d{2}(?::\d{2})?"
    r"(?:\s+(?:[+-]\d{4}|[A-Za-z]{1,5}))?(?:\s*\([^()]*\))?$"
)


def _rfc5322(text: str) -> datetime | None:
    if not _RFC5322_SHAPE.match(text):
        return None
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _clean(text: str) -> str:
    text = _CJK_DATE.sub(lambda m: f"{m.group(1)}-{int(m.group(2)):02d}-{int(m.group(3)):02d} ", text)
    text = _NOISE.sub(" ", text)
    text = _ZONE.sub(lambda m: _ZONE_NAMES[m.group(1)], text)
    text = _UTC_OFFSET.sub(lambda m: f"{m.group(1)}{int(m.group(2)):02d}{m.group(3) or '00'}", text)
    if re.search(r"\d{1,2}\.\d{2}(?:\.\d{2})?(?=\s|$|,)", text) and not re.search(r"\d:\d", text):
        text = _DOTTED_TIME.sub(lambda m: ":".join(g for g in m.groups() if g), text)
    return " ".join(text.split())


def _localized(text: str) -> datetime | None:
    try:
        import dateparser

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return dateparser.parse(text, languages=LANGUAGES, settings={"PREFER_DAY_OF_MONTH": "first"})
    except Exception:  # dateparser raises assorted errors on odd input
        return None


@lru_cache(maxsize=4096)
def parse_date(raw: str | None) -> datetime | None:
    """Parse a date as shown in a forwarded header block; None when it cannot be read."""
    if not raw or not isinstance(raw, str):
        return None
    text = raw.strip()[:_MAX_LENGTH]
    if not text:
        return None
    parsed = _rfc5322(text)
    if parsed is not None and parsed.year > 1900:
        return parsed
    return _localized(_clean(text)) or _localized(text)
