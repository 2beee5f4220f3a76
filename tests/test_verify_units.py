"""Tables for the pieces under the sender check: DMARC records and alignment (RFC 7489), the
header scan that intake runs while DATA streams, and the spool envelope's HELO name (old files
without it stay readable)."""

from __future__ import annotations

import json

import pytest

from smtp_logger.base.spoolfile import MAGIC
from smtp_logger.intake.headers import HeaderScan, authserv_id
from smtp_logger.intake.spool import Spool
from smtp_logger.verify.dmarc import aligned, organizational_domain, parse_record

ORGS = [
    ("sales-team.example", "sales-team.example"),  # the hyphen is part of the name
    ("mail.sales-team.example", "sales-team.example"),
    ("a.b.example.co.uk", "example.co.uk"),
    ("news.bbc.co.uk", "bbc.co.uk"),
    ("user.github.io", "user.github.io"),  # a private suffix of the list
    ("co.uk", "co.uk"),
]


@pytest.mark.parametrize("domain, org", ORGS)
def test_organizational_domain_from_the_public_suffix_list(domain, org):
    assert organizational_domain(domain) == org


@pytest.mark.parametrize("domain, from_domain, mode, expected", [
    ("mail.ours.example", "ours.example", "r", True),
    ("mail.ours.example", "ours.example", "s", False),
    ("ours.example", "ours.example", "s", True),
    ("sales.example", "sales-team.example", "r", False),
    ("a.github.io", "b.github.io", "r", False),
    ("", "ours.example", "r", False),
])
def test_alignment(domain, from_domain, mode, expected):
    assert aligned(domain, from_domain, mode) is expected


@pytest.mark.parametrize("text, found_at, policy, adkim, aspf", [
    ("v=DMARC1; p=reject", "ours.example", "reject", "r", "r"),
    ("v=DMARC1;p=quarantine;adkim=s;aspf=s", "ours.example", "quarantine", "s", "s"),
    ("v=DMARC1; p=reject; sp=none", "ours.example", "none", "r", "r"),  # found for a subdomain: sp
    ("v=DMARC1; p=bogus; rua=mailto:r@ours.example", "ours.example", "none", "r", "r"),  # 6.6.3
    ("v=DMARC1; p=reject; adkim=x", "ours.example", "reject", "r", "r"),
])
def test_dmarc_records(text, found_at, policy, adkim, aspf):
    record = parse_record(text, found_at, "mail.ours.example" if "sp=" in text else found_at)
    assert (record.policy, record.adkim, record.aspf) == (policy, adkim, aspf)


@pytest.mark.parametrize("text", ["v=DMARC1; p=bogus", "p=reject; v=DMARC1", "v=spf1 -all", ""])
def test_records_a_receiver_does_not_apply(text):
    assert parse_record(text, "ours.example", "ours.example") is None


def _scan(message: bytes, step: int, own="mx.ours", trusted=()) -> tuple[bytes, HeaderScan]:
    out: list[bytes] = []
    scan = HeaderScan(out.append, own, trusted)
    for i in range(0, len(message), step):
        scan.feed(message[i:i + step])
    scan.finish()
    return b"".join(out), scan


MESSAGE = (b"Received: from a\r\n\tby b\r\nAuthentication-Results: mx.ours;\r\n dmarc=pass\r\n"
           b"Authentication-Results: (trusted?) MX.OURS 1; spf=pass\r\nReceived: from c\r\n"
           b"Authentication-Results: upstream.example; dkim=pass\r\nSubject: hi\r\n\r\n"
           b"Received: in the body\r\nAuthentication-Results: mx.ours; body text\r\n")


@pytest.mark.parametrize("step", [1, 3, 7, 64, len(MESSAGE)])
def test_header_scan_counts_received_and_drops_our_authserv_id_in_any_chunking(step):
    out, scan = _scan(MESSAGE, step)
    assert scan.received == 2 and scan.removed == 2
    assert out == (b"Received: from a\r\n\tby b\r\nReceived: from c\r\n"
                   b"Authentication-Results: upstream.example; dkim=pass\r\nSubject: hi\r\n\r\n"
                   b"Received: in the body\r\nAuthentication-Results: mx.ours; body text\r\n")


def test_header_scan_leaves_a_trusted_upstream_with_our_name_alone():
    out, scan = _scan(MESSAGE, 5, trusted=["mx.ours"])
    assert out == MESSAGE and scan.removed == 0


def test_authserv_id_reading():
    assert authserv_id(" (comment) Example.COM 1; spf=pass") == "example.com"
    assert authserv_id("mx.ours;none") == "mx.ours"
    assert authserv_id("   ") == ""


def test_spool_envelope_keeps_helo_and_reads_files_without_it(tmp_path):
    spool = Spool(tmp_path)
    writer = spool.open_writer("a@b.example", ["x@bcc.example"], "192.0.2.1:4000", "mail.b.example")
    writer.write(b"Subject: x\r\n\r\nhi\r\n")
    entry = writer.commit()
    assert spool.load(entry.path).helo == "mail.b.example"
    old = tmp_path / "spool" / "new" / "0000000000001aaaaaaaaaaaaaaaa.msg"
    meta = {"mail_from": "a@b.example", "rcpt_tos": ["x@bcc.example"], "peer": "192.0.2.1:4000",
            "received_at": 1.0, "sha256": "0" * 64, "size": "3"}
    old.write_bytes(MAGIC + json.dumps(meta).encode() + b"\nhi\n")
    loaded = spool.load(old)
    assert loaded.helo == "" and loaded.peer == "192.0.2.1:4000"


@pytest.mark.parametrize("from_domain, mail_from", [
    ("exa..mple.com", "x@exa..mple.com"), ("bücher.example", "x@bücher.example"),
    ("x" * 70 + ".example", "y@" + "x" * 70 + ".example"), ("", "")])
def test_names_dns_cannot_ask_about_give_a_verdict_not_an_error(from_domain, mail_from):
    from smtp_logger.base.config import Settings
    from smtp_logger.verify.sender import Envelope, verify

    from .dnsserver import DnsServer
    server = DnsServer().start()
    try:
        settings = Settings(sender_auth="verify", dns_servers=[server.address], dns_timeout=1)
        message = f"From: <{mail_from}>\r\nSubject: x\r\n\r\nhi\r\n".encode()
        verdict = verify(settings, message, from_domain, Envelope("127.0.0.1", "helo.example", mail_from))
    finally:
        server.stop()
    assert verdict.pending is False and verdict.authenticated is False
