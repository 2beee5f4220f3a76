"""Hostile or broken mail gets a decision, never a crash or a hang: MIME bombs (very deep or
very wide trees), headers without a body, binary junk."""

from __future__ import annotations

import os

import pytest

from .mailers import send

ALICE = "alice@ours.example"


@pytest.fixture
def alice(receiver):
    return receiver.add_user(ALICE)


def _head(mid: str) -> bytes:
    return (f"From: {ALICE}\r\nTo: bob@acme.example\r\nSubject: bomb\r\nMessage-ID: <{mid}>\r\n"
            "MIME-Version: 1.0\r\n").encode()


def test_deeply_nested_mime_is_logged_with_the_rest_kept_opaque(receiver, alice):
    depth = 3000
    opening = b"".join(f"Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n".encode()
                       for i in range(depth))
    raw = _head("deep@x") + opening + b"Content-Type: text/plain\r\n\r\ninnermost\r\n" + \
        b"".join(f"--b{i}--\r\n".encode() for i in reversed(range(depth)))
    send(receiver.port, raw, [alice["bcc_address"]], mail_from=ALICE)
    receiver.drain()
    [d] = receiver.cli.json("why", "deep@x")
    assert d["reason"] == "LOGGED"
    [e] = receiver.cli.json("timeline", "bob@acme.example")
    assert [a["filename"] for a in e["attachments"]] == ["remaining-parts.eml"]


def test_very_wide_mime_is_bounded(receiver, alice):
    parts = b"".join(b"--w\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i for i in range(5000))
    raw = _head("wide@x") + b"Content-Type: multipart/mixed; boundary=\"w\"\r\n\r\n" + parts + b"--w--\r\n"
    send(receiver.port, raw, [alice["bcc_address"]], mail_from=ALICE)
    receiver.drain()
    assert receiver.cli.json("why", "wide@x")[0]["reason"] == "LOGGED"
    [e] = receiver.cli.json("timeline", "bob@acme.example")
    assert e["body_text"].startswith("part 0")
    assert e["attachments"][-1]["filename"] == "remaining-parts.eml"


def test_junk_and_headerless_input_get_a_decision(receiver, alice):
    send(receiver.port, os.urandom(20_000).replace(b"\r\n.", b"\r\n,"), [alice["bcc_address"]], mail_from=ALICE)
    send(receiver.port, b"\r\njust a body, no headers at all\r\n", [alice["bcc_address"]], mail_from=ALICE)
    receiver.drain()
    from sqlalchemy import create_engine, text
    engine = create_engine(receiver.settings.db_url)
    with engine.connect() as conn:
        reasons = sorted(r for (r,) in conn.execute(text("select reason from decisions")))
        undecided = conn.execute(text("select count(*) from received_messages where status = 'received'")).scalar()
    engine.dispose()
    assert len(reasons) == 2 and undecided == 0
    assert set(reasons) <= {"SENDER_NOT_ALLOWED", "UNPARSEABLE"}
    assert not list(receiver.app.spool.new.iterdir())


def test_huge_address_lines_are_parsed_but_not_remembered():
    """Parsed From/To/Cc lines are remembered (the same ones recur), but only short ones: a
    stream of messages with huge, all-different To lines cannot fill the workers' memory."""
    from smtp_logger.understand import addresses

    before = addresses._cached_mailboxes.cache_info().currsize
    huge = ", ".join(f"buyer{i}@acme.example" for i in range(300))
    assert len(addresses.parse_mailbox_list(huge)) == 300
    assert addresses._cached_mailboxes.cache_info().currsize == before
    unique = f"Bob {os.urandom(6).hex()} <bob@acme.example>"  # never seen before in this process
    assert addresses.parse_mailbox_list(unique)[0].address == "bob@acme.example"
    assert addresses._cached_mailboxes.cache_info().currsize == before + 1
