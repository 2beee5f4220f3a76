"""Production shape: two identical receivers (own spools) writing to one database. The same
messages delivered to both at once are logged once each, with threads intact."""

from __future__ import annotations

import threading

from .conftest import start_receiver
from .mailers import message, msgid, send

ALICE = "alice@ours.example"


def test_two_receivers_one_database_log_each_message_once(tmp_path, db_url):
    first = start_receiver(tmp_path / "a", db_url)
    second = start_receiver(tmp_path / "b", db_url)
    try:
        user = first.add_user(ALICE)
        opener = message(ALICE, "bob@acme.example", subject="Kick-off", message_id="<kick@ours.example>")
        replies = [message(ALICE, "bob@acme.example", subject=f"Re: Kick-off {i}",
                           in_reply_to="<kick@ours.example>") for i in range(6)]
        batch = [opener, *replies]
        errors = []

        def deliver(rx):
            try:
                for m in batch:
                    send(rx.port, m, [user["bcc_address"]])
            except Exception as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=deliver, args=(rx,)) for rx in (first, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        first.drain()
        second.drain()
        timeline = first.cli.json("timeline", "bob@acme.example")
        assert len(timeline) == len(batch)
        assert len({e["thread_id"] for e in timeline}) == 1
        for m in batch:
            assert sorted(d["reason"] for d in first.cli.json("why", msgid(m))) == ["DUPLICATE", "LOGGED"]
    finally:
        first.stop()
        second.stop()
