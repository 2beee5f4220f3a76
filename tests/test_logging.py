"""Structured logs from the real `smtp-logger serve`: one JSON event per SMTP transaction and
per decision, and never a logging token, a subject or a message body."""

from __future__ import annotations

import json
import signal

from .conftest import free_port, make_env
from .mailers import message, send
from .servers import serve
from .test_crash_recovery import _wait_for


def test_json_events_without_tokens_subjects_or_bodies(tmp_path, db_url, cli):
    port = free_port()
    env = make_env(tmp_path, db_url, port=port, log_level="info", worker_processes=1)
    cli.env = env
    user = cli.json("users", "add", "alice@ours.example")
    log = tmp_path / "serve.log"
    proc = serve(env, log)
    m = message("alice@ours.example", "bob@acme.example", subject="Secret merger plans",
                body="The confidential price is 4.2 million.")
    try:
        send(port, m, [user["bcc_address"]])
        assert _wait_for(lambda: cli.json("why", m["Message-ID"]))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        stderr = log.read_bytes()
    events = [json.loads(line) for line in stderr.decode().splitlines() if line.startswith("{")]
    names = [e["event"] for e in events]
    assert "accepted" in names and "decision" in names
    [decision] = [e for e in events if e["event"] == "decision"]
    assert decision["reason"] == "LOGGED" and decision["way"] == "bcc"
    text = stderr.decode()
    token = user["bcc_address"].split("@")[0]
    for secret in (token, "Secret merger", "confidential price", user["forward_address"].split("@")[0]):
        assert secret not in text
