"""SPF (RFC 7208) for the client address and the envelope sender (the HELO name when it is
empty), evaluated by pyspf, whose DNS goes through our configured resolver (see `_lookup`).
No state but that hook.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass

import spf

from smtp_logger.verify import dns as ourdns

_RESOLVER: contextvars.ContextVar = contextvars.ContextVar("smtp_logger_spf_resolver", default=None)
_PYSPF_LOOKUP = spf.DNSLookup


@dataclass(frozen=True)
class SpfResult:
    result: str  # pass | fail | softfail | neutral | none | temperror | permerror
    domain: str  # the identity checked: the envelope sender's domain, or the HELO name
    identity: str  # "mailfrom" | "helo"


def _lookup(name, qtype, strict=True, timeout=30):
    """pyspf's DNSLookup contract: [((name, qtype), value)], TempError for a temporary failure.

    pyspf looks records up through its module-level `spf.DNSLookup` (its documented hook, the
    one its own test suite replaces). This function is installed there once and asks the
    resolver of the check running in this thread (a context variable), so several settings can
    coexist in one process and pyspf never uses the system resolver behind our back."""
    resolver = _RESOLVER.get()
    if resolver is None:
        return _PYSPF_LOOKUP(name, qtype, strict, timeout)
    try:
        records = ourdns.query(resolver, name, qtype, lifetime=min(float(timeout), resolver.lifetime))
    except ourdns.TempDNSError as exc:
        raise spf.TempError(f"DNS {exc}") from exc
    found = []
    for rdata in records:
        if qtype in ("A", "AAAA"):
            found.append(((name, qtype), rdata.address))
        elif qtype == "MX":
            found.append(((name, qtype), (rdata.preference, rdata.exchange)))
        elif qtype == "PTR":
            found.append(((name, qtype), rdata.target.to_text(True)))
        elif qtype in ("TXT", "SPF"):
            found.append(((name, qtype), rdata.strings))
    return found


spf.DNSLookup = _lookup


def check_spf(resolver, client_ip: str, mail_from: str, helo: str) -> SpfResult:
    """The SPF result for this client; `none` when there is no identity to check."""
    identity = "mailfrom" if "@" in mail_from else "helo"
    domain = mail_from.rpartition("@")[2].lower() if identity == "mailfrom" else helo.lower()
    if not client_ip or not domain:
        return SpfResult("none", domain, identity)
    sender = mail_from if identity == "mailfrom" else f"postmaster@{domain}"
    token = _RESOLVER.set(resolver)
    try:
        query = spf.query(i=client_ip, s=sender, h=helo or domain, timeout=resolver.lifetime,
                          querytime=4 * resolver.lifetime)
        result, _code, _explanation = query.check()
    except Exception:  # an address or name pyspf cannot read (it reports DNS failures itself)
        result = "permerror"
    finally:
        _RESOLVER.reset(token)
    return SpfResult(result if result in RESULTS else "permerror", domain, identity)


RESULTS = frozenset({"pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"})
