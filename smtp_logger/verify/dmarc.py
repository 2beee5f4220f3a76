"""DMARC (RFC 7489) as a receiver does it: policy discovery for the From: domain (6.6.3), tags
p/sp/adkim/aspf (6.3), alignment (3.1) and the result (6.6.2), over the SPF and DKIM results
already worked out. Organisational domains from `publicsuffixlist` (a maintained offline copy
of the Public Suffix List). No I/O but the TXT look-ups of `_dmarc` records.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from publicsuffixlist import PublicSuffixList

from smtp_logger.verify import dns as ourdns

POLICIES = frozenset({"none", "quarantine", "reject"})
# Why not a library's DMARC: authheaders 0.16 cuts a hyphenated From: domain at the hyphen
# (get_domain_part's [a-z0-9.]+) and says dkim=fail for unsigned mail (RFC 8601: none), on a
# PSL bundled through the unmaintained publicsuffix2; checkdmarc audits a domain's records
# (extra apex and CNAME queries, errors for records a receiver must accept, a process-wide
# cache) rather than evaluating one message.


@lru_cache(maxsize=1)
def _psl() -> PublicSuffixList:
    return PublicSuffixList()


@lru_cache(maxsize=4096)
def organizational_domain(domain: str) -> str:
    """RFC 7489 3.2: the public suffix plus one label (the domain itself when it is a suffix)."""
    domain = domain.lower().rstrip(".")
    return _psl().privatesuffix(domain) or domain


def aligned(domain: str, from_domain: str, mode: str = "r") -> bool:
    domain, from_domain = domain.lower().rstrip("."), from_domain.lower().rstrip(".")
    if not domain or not from_domain:
        return False
    if mode == "s":
        return domain == from_domain
    return organizational_domain(domain) == organizational_domain(from_domain)


@dataclass(frozen=True)
class DmarcRecord:
    policy: str  # p, or sp for a subdomain found through its organisational domain
    adkim: str
    aspf: str
    domain: str  # where the record was found


@dataclass(frozen=True)
class DmarcResult:
    result: str  # pass | fail | none | temperror | permerror
    record: DmarcRecord | None


def parse_record(text: str, found_at: str, from_domain: str) -> DmarcRecord | None:
    """A record's tags, or None when it is not a DMARC record a receiver may apply."""
    parts = [part.strip() for part in text.split(";")]
    tags: dict[str, str] = {}
    for part in parts:
        name, equals, value = part.partition("=")
        if equals:
            tags.setdefault(name.strip().lower(), value.strip())
    if not parts or parts[0].replace(" ", "") != "v=DMARC1":
        return None
    policy = tags.get("p", "").lower()
    if policy not in POLICIES:
        if not tags.get("rua"):  # 6.6.3: an invalid p= with a report address reads as p=none
            return None
        policy = "none"
    if found_at != from_domain:
        sub = tags.get("sp", "").lower()
        policy = sub if sub in POLICIES else policy
    modes = {name: tags.get(name, "r").lower() for name in ("adkim", "aspf")}
    return DmarcRecord(policy, *(m if m in ("r", "s") else "r" for m in (modes["adkim"], modes["aspf"])),
                       found_at)


def _record_at(resolver, domain: str, from_domain: str) -> DmarcRecord | None:
    found = [t for t in ourdns.txt(resolver, f"_dmarc.{domain}") if t.lstrip().startswith("v=DMARC1")]
    if len(found) != 1:  # none, or several: no DMARC processing (6.6.3 step 2)
        return None
    return parse_record(found[0], domain, from_domain)


def discover(resolver, from_domain: str) -> DmarcRecord | None:
    """The record for the From: domain, else for its organisational domain (6.6.3). Raises
    TempDNSError when a look-up failed for now."""
    record = _record_at(resolver, from_domain, from_domain)
    org = organizational_domain(from_domain)
    if record is None and org != from_domain:
        record = _record_at(resolver, org, from_domain)
    return record


def evaluate(resolver, from_domain: str, spf: list[tuple[str, str]], dkim: list[tuple[str, str]]) -> DmarcResult:
    """DMARC for the From: domain given the SPF and DKIM (result, domain) pairs: pass when an
    aligned one passed, temperror when none did but an aligned one could not be checked now."""
    from_domain = from_domain.lower().rstrip(".")
    if not from_domain:
        return DmarcResult("none", None)
    try:
        record = discover(resolver, from_domain)
    except ourdns.TempDNSError:
        return DmarcResult("temperror", None)
    except Exception:  # a From: domain the list or DNS cannot take: no policy can be found
        return DmarcResult("permerror", None)
    if record is None:
        return DmarcResult("none", None)
    found = {r for r, d in dkim if aligned(d, from_domain, record.adkim)} | {
        r for r, d in spf if aligned(d, from_domain, record.aspf)}
    return DmarcResult("pass" if "pass" in found else "temperror" if "temperror" in found else "fail", record)
