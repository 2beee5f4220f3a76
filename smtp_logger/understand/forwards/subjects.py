"""Subject prefixes: the forwarder's "Fwd:"/"WG:"/"TR:" and every language's "Re:"/"AW:"/"SV:".

Owns `strip_forward_prefixes` (keeps the original's own "Re:"), `normalize_subject` (threading key,
without deal tags), `subject_kind` (is the outer subject a forward, a reply, or neither) and
`deal_tags` (the `[deal:<id>]` tags anywhere in a subject). Pure string functions.
"""

from __future__ import annotations

import re

FORWARD_PREFIXES: tuple[str, ...] = (
    "Fwd", "Fw", "Fwrd", "WG", "Wtr", "TR", "I", "PD", "ENC", "Enc", "VS", "Vs", "VB", "VL", "RV",
    "Redir.", "Redir", "Videresend", "Vid", "İLT", "ILT", "Doorst", "Trans", "Tr", "Továbbítás",
    "Továbbítva", "Přeposlat", "PŘ", "Preposlať", "Proslijedi", "ПЕРЕСЛ", "Пересл", "Переслать",
    "Fs", "ΠΡΘ", "Πρθ", "转发", "轉寄", "転送", "Rv", "Inoltro", "Weiterleitung", "Edasi",
)
REPLY_PREFIXES: tuple[str, ...] = (
    "Re", "RE", "AW", "Aw", "SV", "Sv", "Antw", "Antwort", "Odp", "Odg", "Odpověď", "Réf", "Ref",
    "RÉF", "R", "RES", "Res", "Resp", "YNT", "Ynt", "Vá", "Válasz", "VS", "Vast", "Atb", "Ats",
    "Otv", "Ответ", "ВІДП", "Відп", "ΑΠ", "Απ", "ΣΧΕΤ", "Σχετ", "回复", "回覆", "答复", "返信",
    "תשובה", "رد", "Svar", "Odpoveď", "Antwoord",
)

_COUNTER = r"(?:\s?\[\d{1,4}\]|\s?\(\d{1,4}\)|\^\d{1,4})?"  # "RE[2]:", "Re(3):", "Re^2:"
_COLON = r"\s{0,3}[:：]"


def _prefix_regex(prefixes) -> re.Pattern[str]:
    words = "|".join(re.escape(p) for p in sorted(set(prefixes), key=len, reverse=True))
    return re.compile(rf"^\s*(?:{words}){_COUNTER}{_COLON}\s*", re.IGNORECASE)


_FORWARD = _prefix_regex(FORWARD_PREFIXES)
_REPLY = _prefix_regex(REPLY_PREFIXES)
_BRACKETED_FORWARD = re.compile(r"^\s*\[(?:Fwd|Fw)\s?:\s*(?P<inner>.*)\]\s*$", re.IGNORECASE | re.DOTALL)
_MAX_PREFIXES = 50
DEAL_TAG = re.compile(r"\[\s*deal\s*:\s*(\d{1,18})\s*\]", re.IGNORECASE)


def _strip_repeated(subject: str, patterns) -> str:
    for _ in range(_MAX_PREFIXES):
        for pattern in patterns:
            match = pattern.match(subject)
            if match and match.end() > 0:
                subject = subject[match.end():]
                break
        else:
            bracketed = _BRACKETED_FORWARD.match(subject)
            if not bracketed:
                return subject
            subject = bracketed.group("inner")
    return subject


def strip_forward_prefixes(subject: str) -> str:
    """Remove the forwarder's prefixes ("Fwd: FW: WG: x" -> "x"); a following "Re:" is kept."""
    if not isinstance(subject, str):
        return ""
    return _strip_repeated(subject, (_FORWARD,)).strip()


def normalize_subject(subject: str) -> str:
    """Threading key: every reply and forward prefix removed, whitespace collapsed, casefolded."""
    if not isinstance(subject, str):
        return ""
    stripped = _strip_repeated(DEAL_TAG.sub(" ", subject), (_REPLY, _FORWARD))
    return " ".join(stripped.split()).casefold()


def subject_kind(subject: str | None) -> str | None:
    """"forward", "reply" or "plain" from the first prefix of the outer subject; None without one."""
    if subject is None or not subject.strip():
        return None
    subject = DEAL_TAG.sub(" ", subject)
    if _REPLY.match(subject) and not _FORWARD.match(subject):
        return "reply"
    if _FORWARD.match(subject) or _BRACKETED_FORWARD.match(subject):
        return "forward"
    return "plain"


def deal_tags(subject: str | None) -> tuple[str, ...]:
    """The deal ids tagged in a subject ("[deal:12] Quote" -> ("12",)), in order, each once."""
    if not isinstance(subject, str):
        return ()
    return tuple(dict.fromkeys(str(int(match)) for match in DEAL_TAG.findall(subject)))
