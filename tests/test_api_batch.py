"""`POST /v1/contacts:batch`: 1,000 upserts in one request, and one retroactive pass that logs
the held mail of all of them (1,000 automatic copies held SENDER_NOT_CONTACT). Prints the time
the request took; the same batch again changes nothing."""

from __future__ import annotations

import smtplib
import time

from .apisupport import new_key, problem, start_api
from .mailers import message

ALICE = "alice@ours.example"
N = 1000


def test_a_batch_of_1000_contacts_logs_their_held_mail_in_one_pass(receiver):
    alice = receiver.add_user(ALICE)
    receiver.cli("account", "set", "--log-all-from-contacts")
    senders = [f"buyer{i}@customer{i % 37}.example" for i in range(N)]
    per_connection = 100  # the receiver's default max_messages_per_connection
    for start in range(0, N, per_connection):
        with smtplib.SMTP("127.0.0.1", receiver.port, timeout=60) as client:
            for sender in senders[start:start + per_connection]:
                client.send_message(message(sender, ALICE, subject=f"Question from {sender}"), from_addr=sender,
                                    to_addrs=[alice["forward_address"]])
    receiver.drain(300)
    api = start_api(receiver.settings)
    try:
        with api.client(new_key(receiver.cli)) as crm:
            assert len(crm.get("/v1/held", params={"limit": 500}).json()["items"]) == 500
            batch = {"contacts": [{"email": s, "name": f"Buyer {i}"} for i, s in enumerate(senders)]}
            started = time.perf_counter()
            answer = crm.post("/v1/contacts:batch", json=batch, timeout=600)  # 1,000 retries: slow on a busy machine
            took = time.perf_counter() - started
            assert answer.status_code == 200, answer.text[:500]
            body = answer.json()
            print(f"\ncontacts:batch of {N} on {receiver.settings.db_url.split(':')[0]}: {took:.2f} s, "
                  f"{body['retroactively_logged']} held messages logged")
            assert body["retroactively_logged"] == N
            assert [r["status"] for r in body["results"]] == ["created"] * N
            assert crm.get("/v1/held").json()["items"] == []
            [e] = crm.get(f"/v1/contacts/{senders[-1]}/timeline").json()["items"]
            assert e["subject"] == f"Question from {senders[-1]}" and e["direction"] == "incoming"
            again = crm.post("/v1/contacts:batch", json=batch, timeout=600).json()
            assert again["retroactively_logged"] == 0 and {r["status"] for r in again["results"]} == {"unchanged"}
            mixed = crm.post("/v1/contacts:batch", json={"contacts": [
                {"email": senders[0], "emails": ["second@customer0.example"]},
                {"email": "new@else.example", "emails": [senders[1]]}]}).json()["results"]
            assert [r["status"] for r in mixed] == ["updated", "error"] and senders[1] in mixed[1]["error"]
            too_many = {"contacts": [{"email": f"x{i}@else.example"} for i in range(N + 1)]}
            problem(crm.post("/v1/contacts:batch", json=too_many), 422, "invalid-request")
    finally:
        api.stop()
