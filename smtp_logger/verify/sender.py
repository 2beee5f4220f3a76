"""Sender authenticity for mail that claims to come from a user (BCC and manual forwards).

Modes (setting `sender_auth`): "none" (no check: None), "authentication-results" (trust the
Authentication-Results header of a configured upstream MTA: dmarc=pass, or dkim=pass for the
From domain), "dkim" (verify the signature with dkimpy; needs DNS). Returns True/False/None.
"""

from __future__ import annotations

import authres

from smtp_logger.base.spoolfile import read_message
from smtp_logger.understand.addresses import domain_of
from smtp_logger.understand.parse import ParsedMessage


def _results(parsed: ParsedMessage, trusted: list[str]):
    for value in parsed.email.get_all("Authentication-Results", []) or []:
        try:
            header = authres.AuthenticationResultsHeader.parse_value(str(value))
        except Exception:
            continue
        if header.authserv_id and header.authserv_id.lower() in {t.lower() for t in trusted}:
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


def check_sender(settings, parsed: ParsedMessage, raw_path) -> bool | None:
    mode = settings.sender_auth
    if mode == "none":
        return None
    sender = parsed.from_.address if parsed.from_ and parsed.from_.address else ""
    if mode == "authentication-results":
        return any(_passes(r, domain_of(sender)) for r in _results(parsed, settings.trusted_authserv_ids))
    if mode == "dkim":
        import dkim
        try:
            return bool(dkim.verify(read_message(raw_path)))
        except Exception:
            return False
    raise ValueError(f"unknown sender_auth mode {mode!r}")
