"""The verdict on a message's sender: SPF, DKIM and DMARC results, whether mail claiming to come
from a user passes (`judge`), and our own Authentication-Results field (RFC 8601). A temperror
is never a failure on its own: the verdict is then `pending`. Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import authres
import authres.dmarc

from smtp_logger.verify.dkimcheck import DkimResult
from smtp_logger.verify.dmarc import DmarcResult, aligned
from smtp_logger.verify.spfcheck import SpfResult

_TOKEN = re.compile(r"^[A-Za-z0-9._-]{1,253}$")


@dataclass(frozen=True)
class AuthVerdict:
    method: str  # verify | authentication-results | none
    spf: str | None = None
    dkim: str | None = None
    dmarc: str | None = None
    authenticated: bool | None = None  # None: not checked
    pending: bool = False  # a temperror that might still turn into a pass
    header: str = ""  # our Authentication-Results field, "Name: value" without CRLF

    def as_json(self) -> dict:
        return {"spf": self.spf, "dkim": self.dkim, "dmarc": self.dmarc, "method": self.method}

    def final(self) -> "AuthVerdict":
        """Decided with what is known: nothing passed, so it does not pass."""
        return replace(self, authenticated=False, pending=False) if self.pending else self


NOT_CHECKED = AuthVerdict("none")


def judge(from_domain: str, spf: SpfResult, dkims: list[DkimResult], dmarc: DmarcResult) -> tuple[bool, bool]:
    """(passes, pending). DMARC pass passes, DMARC fail fails. A From: domain without a DMARC
    record passes when SPF or DKIM passed for a domain aligned with it (relaxed: an unaligned
    pass proves nothing about the From:, anyone passes for their own domain), else fails
    (Pipedrive's rule: SPF and DKIM both failed). Pending: nothing passed, and an aligned
    identifier or the DMARC record could not be looked up for now."""
    if dmarc.result in ("pass", "fail"):
        return dmarc.result == "pass", False
    ids = [(spf.result, spf.domain)] + [(d.result, d.domain) for d in dkims]
    if dmarc.result == "temperror":  # the record is unknown: only an exact-domain pass is aligned for sure
        return (True, False) if any(r == "pass" and d == from_domain for r, d in ids) else (False, True)
    if any(r == "pass" and aligned(d, from_domain) for r, d in ids):
        return True, False
    return False, any(r == "temperror" and aligned(d, from_domain) for r, d in ids)


def summary_dkim(dkims: list[DkimResult], from_domain: str) -> str:
    """One DKIM value for `why`: an aligned pass first, then any pass, temperror, the first."""
    if not dkims:
        return "none"
    for wanted in (lambda d: d.result == "pass" and aligned(d.domain, from_domain),
                   lambda d: d.result == "pass", lambda d: d.result == "temperror"):
        for d in dkims:
            if wanted(d):
                return d.result
    return dkims[0].result


def _safe(value: str) -> str | None:
    return value if value and _TOKEN.match(value) else None


def header_field(authserv_id: str, from_domain: str, spf: SpfResult, dkims: list[DkimResult],
                 dmarc: DmarcResult) -> str:
    """Our Authentication-Results field for these results (identities we could not quote left out)."""
    spf_props = {f"smtp_{spf.identity}": _safe(spf.domain)} if _safe(spf.domain) else {}
    results = [authres.SPFAuthenticationResult(result=spf.result, **spf_props)]
    if not dkims:
        results.append(authres.DKIMAuthenticationResult(result="none"))
    for d in dkims:
        props = {k: v for k, v in (("header_d", _safe(d.domain)), ("header_s", _safe(d.selector))) if v}
        results.append(authres.DKIMAuthenticationResult(result=d.result, **props))
    dmarc_props = {"header_from": _safe(from_domain)} if _safe(from_domain) else {}
    if dmarc.record is not None:
        dmarc_props["policy"] = dmarc.record.policy
    results.append(authres.dmarc.DMARCAuthenticationResult(result=dmarc.result, **dmarc_props))
    return str(authres.AuthenticationResultsHeader(authserv_id=authserv_id, results=results))
