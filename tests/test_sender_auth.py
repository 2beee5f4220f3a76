"""sender_auth = "verify": SPF, DKIM and DMARC checked against a real DNS server on 127.0.0.1
(tests/dnsserver.py), over real SMTP connections, on SQLite and PostgreSQL. The verdicts are
shown by `why --json`; mail that claims to come from a user and fails is AUTH_FAILED."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from .blobhelp import all_blobs
from .conftest import start_receiver
from .dnsserver import DkimKey, DnsServer
from .mailers import message, msgid
from .smtpclient import send_raw

HOST = "mx.logger.test"
ALICE, BOB, CAROL = "alice@ours.example", "bob@nodmarc.example", "carol@sales-team.example"


@pytest.fixture(scope="module")
def keys():
    return {"ours": DkimKey(), "other": DkimKey(), "nodmarc": DkimKey(), "wrong": DkimKey()}


@pytest.fixture
def dns(keys):
    server = DnsServer()
    add = server.zone.add
    add("ours.example", "TXT", "v=spf1 ip4:127.0.0.1 -all")
    add("mail.ours.example", "TXT", "v=spf1 ip4:127.0.0.1 -all")
    add("sel._domainkey.ours.example", "TXT", keys["ours"].record)
    add("_dmarc.ours.example", "TXT", "v=DMARC1; p=reject; rua=mailto:dmarc@ours.example")
    add("other.example", "TXT", "v=spf1 ip4:127.0.0.1 -all")
    add("sel._domainkey.other.example", "TXT", keys["other"].record)
    add("fail.example", "TXT", "v=spf1 ip4:192.0.2.1 -all")
    add("soft.example", "TXT", "v=spf1 ip4:192.0.2.1 ~all")
    add("nospf.example", "A", "192.0.2.80")
    add("nodmarc.example", "TXT", "v=spf1 ip4:192.0.2.1 -all")
    add("out.nodmarc.example", "TXT", "v=spf1 ip4:127.0.0.1 -all")
    add("sel._domainkey.nodmarc.example", "TXT", keys["nodmarc"].record)
    add("sales-team.example", "TXT", "v=spf1 ip4:192.0.2.1 -all")
    add("mail.sales-team.example", "TXT", "v=spf1 ip4:127.0.0.1 -all")
    add("_dmarc.sales-team.example", "TXT", "v=DMARC1; p=reject")
    server.start()
    yield server
    server.stop()


def _receiver(tmp_path, db_url, dns, **extra):
    settings = dict(sender_auth="verify", dns_servers=dns.address, dns_timeout=1, hostname=HOST)
    settings.update(extra)
    rx = start_receiver(tmp_path, db_url, **settings)
    for user in (ALICE, BOB, CAROL):
        rx.add_user(user)
    return rx


def _mail(sender: str, key: DkimKey | None = None, domain: str = "", **kwargs) -> tuple[str, bytes]:
    m = message(sender, "customer@acme.example", **kwargs)
    data = m.as_bytes()
    return msgid(m), key.sign(data, domain) if key else data


def _why(rx, mid: str) -> dict:
    [row] = rx.cli.json("why", mid)
    return row


def _bcc(rx, user: str) -> str:
    return rx.users[user]["bcc_address"]


def test_spf_pass_fail_softfail_none_for_the_connecting_ip(tmp_path, db_url, dns, keys):
    rx = _receiver(tmp_path, db_url, dns)
    try:
        cases = {  # envelope sender -> SPF for 127.0.0.1; DKIM by ours.example decides DMARC
            ALICE: "pass", "x@fail.example": "fail", "x@soft.example": "softfail", "x@nospf.example": "none"}
        sent = {}
        for mail_from, spf in cases.items():
            mid, data = _mail(ALICE, keys["ours"], "ours.example")
            assert send_raw(rx.port, mail_from, [_bcc(rx, ALICE)], data).startswith("250")
            sent[mid] = spf
        rx.drain()
        for mid, spf in sent.items():
            row = _why(rx, mid)
            assert row["auth"] == {"spf": spf, "dkim": "pass", "dmarc": "pass", "method": "verify"}
            assert row["reason"] == "LOGGED"
    finally:
        rx.stop()


def test_spf_checks_the_client_named_by_the_proxy_header(tmp_path, db_url, dns):
    rx = _receiver(tmp_path, db_url, dns, proxy_protocol_timeout=5)
    try:
        near, far = _mail(ALICE), _mail(ALICE)
        assert send_raw(rx.port, ALICE, [_bcc(rx, ALICE)], near[1], proxy_ip="127.0.0.1").startswith("250")
        assert send_raw(rx.port, ALICE, [_bcc(rx, ALICE)], far[1], proxy_ip="203.0.113.9").startswith("250")
        rx.drain()
        assert _why(rx, near[0])["auth"]["spf"] == "pass" and _why(rx, near[0])["reason"] == "LOGGED"
        row = _why(rx, far[0])
        assert row["auth"] == {"spf": "fail", "dkim": "none", "dmarc": "fail", "method": "verify"}
        assert row["reason"] == "AUTH_FAILED"
    finally:
        rx.stop()


def test_dkim_signed_broken_body_hash_and_unsigned(tmp_path, db_url, dns, keys):
    rx = _receiver(tmp_path, db_url, dns)
    try:
        signed = _mail(ALICE, keys["ours"], "ours.example")
        broken_id, broken = _mail(ALICE, keys["ours"], "ours.example", body="The price is 100 EUR.\n")
        broken = broken.replace(b"100 EUR", b"900 EUR")
        unsigned = _mail(ALICE)
        for data in (signed[1], broken, unsigned[1]):  # SPF fails: DKIM alone decides
            assert send_raw(rx.port, "x@fail.example", [_bcc(rx, ALICE)], data).startswith("250")
        rx.drain()
        assert _why(rx, signed[0])["auth"]["dkim"] == "pass" and _why(rx, signed[0])["reason"] == "LOGGED"
        assert _why(rx, broken_id)["auth"] == {"spf": "fail", "dkim": "fail", "dmarc": "fail", "method": "verify"}
        assert _why(rx, broken_id)["reason"] == "AUTH_FAILED"
        assert _why(rx, unsigned[0])["auth"]["dkim"] == "none"  # RFC 8601: unsigned is none, not fail
        assert _why(rx, unsigned[0])["reason"] == "AUTH_FAILED"
    finally:
        rx.stop()


def test_dmarc_reject_with_unaligned_dkim_and_spf_is_auth_failed(tmp_path, db_url, dns, keys):
    rx = _receiver(tmp_path, db_url, dns)
    try:
        mid, data = _mail(ALICE, keys["other"], "other.example")  # both pass, for other.example
        assert send_raw(rx.port, "bounce@other.example", [_bcc(rx, ALICE)], data).startswith("250")
        rx.drain()
        row = _why(rx, mid)
        assert row["auth"] == {"spf": "pass", "dkim": "pass", "dmarc": "fail", "method": "verify"}
        assert row["reason"] == "AUTH_FAILED"
    finally:
        rx.stop()


def test_domain_without_dmarc_needs_an_aligned_spf_or_dkim_pass(tmp_path, db_url, dns, keys):
    rx = _receiver(tmp_path, db_url, dns)
    try:
        cases = [  # (envelope sender, signing key or None, expected reason, expected spf/dkim)
            (BOB, keys["wrong"], "AUTH_FAILED", ("fail", "fail")),  # both fail
            (BOB, keys["nodmarc"], "LOGGED", ("fail", "pass")),  # DKIM passes
            ("bounce@out.nodmarc.example", None, "LOGGED", ("pass", "none")),  # SPF passes (subdomain)
            ("bounce@other.example", None, "AUTH_FAILED", ("pass", "none")),  # a pass for another domain
        ]
        sent = []
        for mail_from, key, reason, results in cases:
            mid, data = _mail(BOB, key, "nodmarc.example")
            assert send_raw(rx.port, mail_from, [_bcc(rx, BOB)], data).startswith("250")
            sent.append((mid, reason, results))
        rx.drain()
        for mid, reason, (spf, dkim_result) in sent:
            row = _why(rx, mid)
            assert row["auth"] == {"spf": spf, "dkim": dkim_result, "dmarc": "none", "method": "verify"}
            assert row["reason"] == reason
    finally:
        rx.stop()


def test_hyphenated_from_domain_and_subdomain_envelope_sender(tmp_path, db_url, dns):
    rx = _receiver(tmp_path, db_url, dns)
    try:
        good, forged = _mail(CAROL), _mail(CAROL)
        assert send_raw(rx.port, "bounce@mail.sales-team.example", [_bcc(rx, CAROL)], good[1]).startswith("250")
        assert send_raw(rx.port, "x@other.example", [_bcc(rx, CAROL)], forged[1]).startswith("250")
        rx.drain()
        assert _why(rx, good[0])["auth"] == {"spf": "pass", "dkim": "none", "dmarc": "pass", "method": "verify"}
        assert _why(rx, good[0])["reason"] == "LOGGED"
        # "fail", not "none": the record was found at _dmarc.sales-team.example, not cut at the hyphen
        assert _why(rx, forged[0])["auth"]["dmarc"] == "fail"
        assert _why(rx, forged[0])["reason"] == "AUTH_FAILED"
        assert ("_dmarc.sales-team.example", "TXT") in dns.zone.queries
    finally:
        rx.stop()


def _raw_copy(settings, mid: str) -> bytes:
    found = [data for data in all_blobs(settings).values() if mid.encode() in data]
    assert len(found) == 1, f"{len(found)} raw copies hold {mid}"
    return found[0]


def test_our_authentication_results_is_prepended_and_forged_ones_removed(tmp_path, db_url, dns):
    rx = _receiver(tmp_path, db_url, dns)
    try:
        mid, data = _mail(ALICE, headers={
            "Authentication-Results": f"{HOST}; dmarc=pass header.from=ours.example"})
        data = b"Authentication-Results: upstream.example; spf=pass smtp.mailfrom=ours.example\r\n" + data
        assert send_raw(rx.port, ALICE, [_bcc(rx, ALICE)], data).startswith("250")
        rx.drain()
        raw = _raw_copy(rx.settings, mid)
        first, _, rest = raw.partition(b"\r\n")
        assert first == (f"Authentication-Results: {HOST}; spf=pass smtp.mailfrom=ours.example; dkim=none; "
                         f"dmarc=pass header.from=ours.example policy.dmarc=reject").encode()
        assert f"{HOST};".encode() not in rest  # the forged field claiming our authserv-id is gone
        assert b"Authentication-Results: upstream.example; spf=pass" in rest  # others are kept
        assert _why(rx, mid)["reason"] == "LOGGED"
    finally:
        rx.stop()


def _wait_for_decision(rx, mid: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = rx.cli.json("why", mid)
        if rows:
            return rows[0]
        time.sleep(0.25)
    raise AssertionError(f"{mid} was not decided within {timeout} s")


def _spooled(tmp_path: Path) -> int:
    return sum(1 for p in (tmp_path / "data" / "spool" / "new").iterdir() if ".msg" in p.name)


@pytest.mark.parametrize("outage", ["stopped", "servfail"])
def test_dns_outage_is_temperror_nothing_refused_nothing_lost(tmp_path, db_url, dns, outage):
    rx = _receiver(tmp_path, db_url, dns, dns_retry_interval=1)
    try:
        if outage == "stopped":
            dns.stop()
        else:
            dns.zone.servfail = True
        mid, data = _mail(ALICE)
        assert send_raw(rx.port, ALICE, [_bcc(rx, ALICE)], data).startswith("250")  # nothing refused
        time.sleep(3)
        assert rx.cli.json("why", mid) == []  # not decided while DNS is away...
        assert _spooled(tmp_path) == 1  # ...and still in the spool
        if outage == "stopped":
            dns.start()
        else:
            dns.zone.servfail = False
        row = _wait_for_decision(rx, mid)
        assert row["reason"] == "LOGGED"
        assert row["auth"] == {"spf": "pass", "dkim": "none", "dmarc": "pass", "method": "verify"}
        assert _spooled(tmp_path) == 0
    finally:
        rx.stop()


def test_dns_away_longer_than_dns_retry_minutes_is_decided_with_what_is_known(tmp_path, db_url, dns):
    rx = _receiver(tmp_path, db_url, dns, dns_retry_interval=1, dns_retry_minutes=0.05)
    try:
        dns.stop()
        mid, data = _mail(ALICE)
        assert send_raw(rx.port, ALICE, [_bcc(rx, ALICE)], data).startswith("250")
        row = _wait_for_decision(rx, mid)
        assert row["auth"] == {"spf": "temperror", "dkim": "none", "dmarc": "temperror", "method": "verify"}
        assert row["reason"] == "AUTH_FAILED"  # nothing passed in 3 s of trying
        assert _spooled(tmp_path) == 0
    finally:
        dns.start()
        rx.stop()


def test_other_modes_show_their_method_in_why(tmp_path, db_url, dns, keys):
    upstream = start_receiver(tmp_path / "ar", db_url, sender_auth="authentication-results",
                              trusted_authserv_ids="mx.upstream.example")
    try:
        bcc = upstream.add_user(ALICE)["bcc_address"]
        mid, data = _mail(ALICE, headers={"Authentication-Results":
                                          "mx.upstream.example; spf=pass smtp.mailfrom=ours.example; "
                                          "dkim=none; dmarc=pass header.from=ours.example"})
        assert send_raw(upstream.port, ALICE, [bcc], data).startswith("250")
        upstream.drain()
        row = _why(upstream, mid)
        assert row["auth"] == {"spf": "pass", "dkim": "none", "dmarc": "pass", "method": "authentication-results"}
        assert row["reason"] == "LOGGED"
    finally:
        upstream.stop()
    old = start_receiver(tmp_path / "dkim", db_url, sender_auth="dkim", dns_servers=dns.address, dns_timeout=1)
    try:  # the same database: the same user
        signed, unsigned = _mail(ALICE, keys["ours"], "ours.example"), _mail(ALICE)
        for _, data in (signed, unsigned):
            assert send_raw(old.port, ALICE, [bcc], data).startswith("250")
        old.drain()
        assert _why(old, signed[0])["auth"] == {"spf": None, "dkim": "pass", "dmarc": None, "method": "verify"}
        assert _why(old, signed[0])["reason"] == "LOGGED"
        assert _why(old, unsigned[0])["reason"] == "AUTH_FAILED"
    finally:
        old.stop()
    plain = start_receiver(tmp_path / "none", db_url)
    try:
        mid, data = _mail(ALICE)
        assert send_raw(plain.port, ALICE, [bcc], data).startswith("250")
        plain.drain()
        assert _why(plain, mid)["auth"] == {"spf": None, "dkim": None, "dmarc": None, "method": "none"}
    finally:
        plain.stop()
