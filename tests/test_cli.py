"""The command-line contract: JSON shapes, one-line errors, and the real console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .mailers import message, msgid, send

BIN = Path(sys.executable).parent / "smtp-logger"


def test_users_add_prints_addresses_with_unguessable_tokens(cli):
    user = cli.json("users", "add", "alice@ours.example", "--name", "Alice", "--alias", "al@ours.example")
    assert user["email"] == "alice@ours.example" and user["aliases"] == ["al@ours.example"]
    bcc_token, bcc_domain = user["bcc_address"].split("@")
    fwd_token, fwd_domain = user["forward_address"].split("@")
    assert bcc_domain == "bcc.smtp-logger.localhost" and fwd_domain == "fwd.smtp-logger.localhost"
    assert len(bcc_token) >= 26 and bcc_token != fwd_token  # base32, >= 128 bits
    rotated = cli.json("users", "rotate", "alice@ours.example")
    assert {rotated["bcc_address"], rotated["forward_address"]}.isdisjoint(
        {user["bcc_address"], user["forward_address"]})


def test_bad_input_exits_nonzero_with_one_line(cli):
    for args in (["users", "add", "not-an-address"], ["timeline", "nobody@nowhere.example"],
                 ["contacts", "add-email", "ghost@acme.example", "x@acme.example"],
                 ["contacts", "merge", "a@acme.example", "b@acme.example"],
                 ["never-log", "add", "nodot"], ["why", "<unknown@x>"]):
        result = cli(*args, expect=1)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, result.stderr)
        assert "Traceback" not in result.output


def test_duplicate_user_and_contact_are_refused(cli):
    cli("users", "add", "alice@ours.example")
    cli("users", "add", "alice@ours.example", expect=1)
    cli("contacts", "add", "bob@acme.example")
    cli("contacts", "add", "bob@acme.example", expect=1)


def test_contacts_add_email_and_merge(cli):
    cli("contacts", "add", "bob@acme.example", "--name", "Bob", "--email", "robert@acme.example")
    cli("contacts", "add-email", "bob@acme.example", "bobby@gmail.com")
    assert cli.json("contacts", "show", "bobby@gmail.com")["emails"] == [
        "bob@acme.example", "robert@acme.example", "bobby@gmail.com"]
    cli("contacts", "add", "b.buyer@acme.example")
    merged = cli.json("contacts", "merge", "bob@acme.example", "b.buyer@acme.example")
    assert "b.buyer@acme.example" in merged["emails"] and merged["name"] == "Bob"


def test_timeline_and_why_json_shapes(receiver):
    user = receiver.add_user("alice@ours.example")
    m = message("alice@ours.example", "bob@acme.example", cc="carol@globex.example")
    send(receiver.port, m, [user["bcc_address"]])
    receiver.drain()
    [e] = receiver.cli.json("timeline", "bob@acme.example")
    for key in ("id", "direction", "subject", "from", "to", "cc", "sent_at", "thread_id", "message_id",
                "body_text", "reply_text", "attachments"):
        assert key in e, key
    [d] = receiver.cli.json("why", f"<{msgid(m)}>")
    assert set(d) >= {"logging_address", "logged", "reason", "explanation", "engagement_id"}
    assert receiver.cli.json("held", "list") == []


def test_console_script_runs_against_the_same_database(tmp_path, cli):
    env = {**os.environ, **cli.env}
    out = subprocess.run([str(BIN), "users", "add", "zed@ours.example", "--json"], env=env,
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["email"] == "zed@ours.example"
    listed = cli.json("users", "list")
    assert [u["email"] for u in listed] == ["zed@ours.example"]
    bad = subprocess.run([str(BIN), "timeline", "nobody@x.example"], env=env, capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


def test_never_log_purge_removes_logged_mail(receiver):
    user = receiver.add_user("alice@ours.example")
    m = message("alice@ours.example", ["bob@acme.example", "eve@private.example"])
    send(receiver.port, m, [user["bcc_address"]])
    receiver.drain()
    assert len(receiver.cli.json("timeline", "eve@private.example")) == 1
    receiver.cli("never-log", "add", "private.example")
    aborted = receiver.cli("never-log", "purge", "private.example", input="n\n", expect=1)
    assert "aborted" in aborted.stderr
    assert len(receiver.cli.json("timeline", "eve@private.example")) == 1
    receiver.cli("never-log", "purge", "private.example", "--yes")
    assert receiver.cli.json("timeline", "eve@private.example") == []
    assert receiver.cli.json("timeline", "bob@acme.example") == []


def test_recent_lists_latest_decisions_newest_first(receiver):
    user = receiver.add_user("alice@ours.example")
    first = message("alice@ours.example", "bob@acme.example", subject="one")
    second = message("mallory@evil.example", "bob@acme.example", subject="two")
    send(receiver.port, first, [user["bcc_address"]])
    receiver.drain()
    send(receiver.port, second, [user["bcc_address"]])
    receiver.drain()
    rows = receiver.cli.json("recent", "--limit", "5")
    assert [(r["message_id"], r["reason"], r["subject"]) for r in rows] == [
        (msgid(second), "SENDER_NOT_ALLOWED", "two"), (msgid(first), "LOGGED", "one")]
