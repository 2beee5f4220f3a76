"""DKIM (RFC 6376) with dkimpy: every signature of a message (up to MAX_SIGNATURES), each with
its signing domain and an RFC 8601 result: pass, fail (the signature or the body hash does not
verify), permerror (malformed signature, key missing or unusable), temperror (the key could not
be fetched now). An unsigned message has no results: `none`, never `fail`. dkimpy needs the
whole message in memory; keys are fetched through our resolver.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import dkim

from smtp_logger.verify import dns as ourdns

MAX_SIGNATURES = 5
_SIGNATURE = re.compile(rb"^dkim-signature[ \t]*:", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class DkimResult:
    result: str  # pass | fail | permerror | temperror
    domain: str  # d=
    selector: str  # s=


class _KeyLookup:
    """dkimpy's dnsfunc: the key record, None when there is none; a temporary failure is raised
    past dkimpy (which would take it for a failed signature) as TempDNSError."""

    def __init__(self, resolver):
        self.resolver = resolver
        self.missing = False

    def __call__(self, name: bytes, timeout: float = 5):
        try:
            records = ourdns.txt(self.resolver, name.decode("ascii").rstrip("."))
        except UnicodeDecodeError:
            records = []
        if not records:
            self.missing = True
            return None
        return records[0].encode()


def _text(value) -> str:
    return value.decode("ascii", "replace").lower() if isinstance(value, bytes) else str(value or "").lower()


def _result(result: str, verifier) -> DkimResult:
    return DkimResult(result, _text(getattr(verifier, "domain", "")), _text(getattr(verifier, "selector", "")))


def _one(message: bytes, index: int, resolver) -> DkimResult:
    lookup = _KeyLookup(resolver)
    verifier = dkim.DKIM(message, minkey=1024, timeout=resolver.lifetime)
    try:
        ok = verifier.verify(idx=index, dnsfunc=lookup)
    except ourdns.TempDNSError:
        return _result("temperror", verifier)
    except dkim.ValidationError as exc:  # dkimpy raises for a body hash that does not verify, too
        return _result("fail" if str(exc).startswith("body hash mismatch") else "permerror", verifier)
    except Exception:  # dkim.DKIMException, or dkimpy on input it did not expect: unusable, not a crash
        return _result("permerror", verifier)
    if ok:
        return _result("pass", verifier)
    return _result("permerror" if lookup.missing else "fail", verifier)


def header_section(message: bytes) -> bytes:
    end = message.find(b"\r\n\r\n")
    if end == -1:
        end = message.find(b"\n\n")
    return message if end == -1 else message[:end]


def check_dkim(message: bytes, resolver) -> list[DkimResult]:
    """One result per DKIM-Signature header field, topmost first; [] when unsigned."""
    count = len(_SIGNATURE.findall(header_section(message)))
    return [_one(message, index, resolver) for index in range(min(count, MAX_SIGNATURES))]
