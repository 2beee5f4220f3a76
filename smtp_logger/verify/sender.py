"""Sender authenticity for mail that claims to come from a user (BCC and manual forwards), in the
mode of setting `sender_auth`: "none", "authentication-results" (a trusted upstream's header),
"dkim" (the old check: the first signature verifies) or "verify" (SPF, DKIM and DMARC against
DNS). Returns an `AuthVerdict` (verdict.py); may do DNS, writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_bytes

import authres

from smtp_logger.base.spoolfile import open_message, read_message
from smtp_logger.understand.addresses import domain_of, parse_mailbox
from smtp_logger.understand.mime import POLICY, header_text, raw_header
from smtp_logger.verify import dns as ourdns
from smtp_logger.verify.dkimcheck import check_dkim, header_section
from smtp_logger.verify.dmarc import evaluate
from smtp_logger.verify.spfcheck import RESULTS, check_spf
from smtp_logger.verify.verdict import NOT_CHECKED, AuthVerdict, header_field, judge, summary_dkim

MODES = ("none", "authentication-results", "dkim", "verify")


@dataclass(frozen=True)
class Envelope:
    """What the SMTP session knew about the client."""

    client_ip: str
    helo: str
    mail_from: str


def _results(email, trusted: list[str]):
    wanted = {t.lower() for t in trusted}
    for value in email.get_all("Authentication-Results", []) or []:
        try:
            header = authres.AuthenticationResultsHeader.parse_value(str(value))
        except Exception:
            continue
        if header.authserv_id and header.authserv_id.lower() in wanted:
            yield from header.results


def _passes(result, sender_domain: str) -> bool:
    if result.result != "pass":
        return False
    if result.method == "dmarc":
        policy_domain = next((p.value for p in result.properties if p.name == "from"), "")
        return not policy_domain or policy_domain.lower() == sender_domain
    if result.method == "dkim":
        signer = next((p.value for p in result.properties if p.name in ("d", "i")), "")
        signer = signer.lstrip("@").rpartition("@")[2].lower()
        return signer == sender_domain or sender_domain.endswith("." + signer)
    return False


def _upstream(email, trusted: list[str], from_domain: str) -> AuthVerdict:
    results = list(_results(email, trusted))
    first = {}
    for r in results:
        if r.method in ("spf", "dkim", "dmarc") and str(r.result).lower() in RESULTS:
            first.setdefault(r.method, str(r.result).lower())
    return AuthVerdict("authentication-results", first.get("spf"), first.get("dkim"), first.get("dmarc"),
                       any(_passes(r, from_domain) for r in results))


def _old_dkim(settings, message: bytes) -> AuthVerdict:
    """The old "dkim" mode: its first signature verifies (any signer), through our resolver."""
    results = check_dkim(message, ourdns.for_settings(settings))[:1]
    ok = bool(results) and results[0].result == "pass"
    return AuthVerdict("verify", None, results[0].result if results else "none", None, ok)


def verify(settings, message: bytes, from_domain: str, envelope: Envelope) -> AuthVerdict:
    """SPF, DKIM and DMARC checked ourselves against DNS."""
    resolver = ourdns.for_settings(settings)
    spf = check_spf(resolver, envelope.client_ip, envelope.mail_from, envelope.helo)
    dkims = check_dkim(message, resolver)
    dmarc = evaluate(resolver, from_domain, [(spf.result, spf.domain)], [(d.result, d.domain) for d in dkims])
    passes, pending = judge(from_domain, spf, dkims, dmarc)
    return AuthVerdict("verify", spf.result, summary_dkim(dkims, from_domain), dmarc.result,
                       passes, pending, header_field(settings.hostname, from_domain, spf, dkims, dmarc))


def read_head(path, limit: int = 1 << 20) -> bytes:
    """A stored message's header section (at most `limit` bytes of it)."""
    with open_message(path) as f:
        head = f.read(limit)
    return head.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0] + b"\r\n\r\n"


def from_domain_of(headers) -> str:
    """The From: domain, read as parse.py reads the From: the rules compare with the user's."""
    sender = parse_mailbox(header_text(headers, "From") or raw_header(headers, "From"))
    return domain_of(sender.address) if sender is not None and sender.address else ""


def authenticate(settings, path, envelope: Envelope) -> AuthVerdict:
    """The verdict for the stored message at `path` (a spool file or a raw copy)."""
    mode = settings.sender_auth
    if mode == "none":
        return NOT_CHECKED
    if mode not in MODES:
        raise ValueError(f"unknown sender_auth mode {mode!r}")
    message = read_message(path) if mode in ("verify", "dkim") else b""
    if mode == "dkim":
        return _old_dkim(settings, message)
    headers = message_from_bytes(header_section(message) + b"\r\n\r\n" if message else read_head(path),
                                 policy=POLICY)
    from_domain = from_domain_of(headers)
    if mode == "authentication-results":
        return _upstream(headers, settings.trusted_authserv_ids, from_domain)
    return verify(settings, message, from_domain, envelope)
