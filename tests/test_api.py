"""The HTTP API against a real receiver and a real uvicorn, on SQLite and PostgreSQL: the
document it serves is the one in the repository; keys are shown once, kept as hashes, and a
missing, wrong or revoked one answers 401; each endpoint does what its command does (the same
JSON fields, the same retroactive logging), pages with cursors and answers problem+json."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

from smtp_logger.store.db import get_engine

from .apisupport import new_key, problem, start_api
from .mailers import message, msgid, send

ALICE, BOB = "alice@ours.example", "bob@acme.example"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def api(receiver):
    server = start_api(receiver.settings)
    yield server
    server.stop()


@pytest.fixture
def crm(receiver, api):
    """Alice (a user), Bob (a contact) and an API client with a key of their account."""
    receiver.add_user(ALICE, "--name", "Alice Seller")
    receiver.cli("contacts", "add", BOB, "--name", "Bob Buyer")
    with api.client(new_key(receiver.cli)) as client:
        yield client


def bcc(rx, msg, user=ALICE):
    assert send(rx.port, msg, [rx.users[user]["bcc_address"]], mail_from=user) == {}
    rx.drain()


def test_served_document_is_openapi_3_1_and_equals_the_file(api):
    with api.client() as client:
        served = client.get("/v1/openapi.json")
    assert served.status_code == 200 and served.json()["openapi"].startswith("3.1")
    kept = json.loads((REPO / "docs" / "openapi.json").read_text("utf-8"))
    assert served.json() == kept, "docs/openapi.json is stale: run `make openapi`"


def test_keys_are_shown_once_stored_as_hashes_and_revocable(receiver, api, db_url):
    created = receiver.cli.json("api-keys", "create", "--name", "crm")
    key = created["key"]
    assert key.startswith("slk_") and len(key) >= 4 + 43  # 256 random bits, url-safe base64
    with get_engine(db_url).connect() as connection:
        stored = [dict(r._mapping) for r in connection.execute(text("SELECT * FROM api_keys"))]
    assert stored and key not in repr(stored) and stored[0]["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    with api.client() as anonymous, api.client(key) as good, api.client(key[:-2] + "xx") as wrong:
        missing = problem(anonymous.get("/v1/account"), 401, "unauthorized")
        assert anonymous.get("/v1/account").headers["www-authenticate"] == "Bearer"
        refused = wrong.get("/v1/account")
        problem(refused, 401, "unauthorized")
        assert key[:-2] not in refused.text  # the key is never echoed
        assert good.get("/v1/account").status_code == 200
        receiver.cli("api-keys", "revoke", str(created["id"]))
        problem(good.get("/v1/account"), 401, "unauthorized")
    assert missing["instance"] == "/v1/account"
    [listed] = receiver.cli.json("api-keys", "list")
    assert listed["id"] == created["id"] and listed["revoked_at"] and "key" not in listed


def test_timeline_pages_with_a_cursor_and_has_the_fields_of_timeline_json(receiver, crm):
    sent = []
    for hour in (9, 10, 11):
        m = message(ALICE, BOB, subject=f"Offer {hour}", date=datetime(2026, 11, 23, hour, tzinfo=timezone(timedelta(hours=1))))
        bcc(receiver, m)
        sent.append(msgid(m))
    cli_rows = receiver.cli.json("timeline", BOB)
    first = crm.get(f"/v1/contacts/{BOB}/timeline", params={"limit": 2}).json()
    assert [e["subject"] for e in first["items"]] == ["Offer 11", "Offer 10"] and first["next_cursor"]
    second = crm.get(f"/v1/contacts/{BOB}/timeline", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [e["subject"] for e in second["items"]] == ["Offer 9"] and second["next_cursor"] is None
    api_rows = first["items"] + second["items"]
    assert [e["id"] for e in api_rows] == [e["id"] for e in cli_rows]
    for api_row, cli_row in zip(api_rows, cli_rows):
        assert set(cli_row) <= set(api_row)
        assert api_row["sent_at"].endswith("Z")  # the same instant, in UTC
        assert datetime.fromisoformat(api_row["sent_at"]) == datetime.fromisoformat(cli_row["sent_at"])
        assert {k: v for k, v in api_row.items() if k != "sent_at"} == {k: v for k, v in cli_row.items() if k != "sent_at"}
    one = crm.get(f"/v1/engagements/{api_rows[0]['id']}").json()
    assert one == api_rows[0]
    problem(crm.get("/v1/engagements/999999"), 404, "not-found")
    problem(crm.get(f"/v1/contacts/{BOB}/timeline", params={"cursor": "bm9wZQ"}), 400, "invalid-cursor")
    problem(crm.get(f"/v1/contacts/{BOB}/timeline", params={"limit": 0}), 422, "invalid-request")


def test_contact_endpoints_log_held_mail_as_the_commands_do(receiver, crm):
    carol = "carol@globex.example"
    answer = message(f"Carol <{carol}>", ALICE, subject="Question")
    assert send(receiver.port, answer, [receiver.users[ALICE]["forward_address"]], mail_from=carol) == {}
    receiver.drain()
    [held] = crm.get("/v1/held").json()["items"]
    assert held["reason"] == "SENDER_NOT_CONTACT" and held["received_at"].endswith("Z")
    # a message from Carol answering nothing logged: log_all_from_contacts lets it in once she is a contact
    crm.patch("/v1/account", json={"log_all_from_contacts": True}).raise_for_status()
    created = crm.post("/v1/contacts", json={"email": carol, "name": "Carol"})
    assert created.status_code == 201 and created.json()["retroactively_logged"] == 1
    assert [e["subject"] for e in crm.get(f"/v1/contacts/{carol}/timeline").json()["items"]] == ["Question"]
    assert crm.get("/v1/held").json()["items"] == []
    problem(crm.post("/v1/contacts", json={"email": carol}), 409, "conflict")
    # a second address, then a merge: the same store functions as add-email and merge
    dave = "dave@globex.example"
    second = message(f"Carol <{dave}>", ALICE, subject="From my other address")
    assert send(receiver.port, second, [receiver.users[ALICE]["forward_address"]], mail_from=dave) == {}
    receiver.drain()
    added = crm.post(f"/v1/contacts/{carol}/emails", json={"email": dave}).json()
    assert added["emails"] == [carol, dave] and added["retroactively_logged"] == 1
    crm.post("/v1/contacts", json={"email": "c.other@globex.example"}).raise_for_status()
    merged = crm.post("/v1/contacts/merge", json={"keep": carol, "other": "c.other@globex.example"}).json()
    assert "c.other@globex.example" in merged["emails"]
    [decision] = crm.get("/v1/decisions", params={"message_id": msgid(second)}).json()["items"][-1:]
    assert decision["reason"] == "LOGGED" and decision["engagement_id"] and decision["decided_at"].endswith("Z")
    problem(crm.post("/v1/contacts", json={"email": "not an address"}), 422, "invalid-request")


def test_held_release_logs_what_may_now_be_logged_and_refuses_the_rest(receiver, crm):
    out_of_thread = message(f"Bob Buyer <{BOB}>", ALICE, subject="New topic")
    stranger = message("Eve <eve@elsewhere.example>", ALICE, subject="Cold mail")
    for m, sender in ((out_of_thread, BOB), (stranger, "eve@elsewhere.example")):
        assert send(receiver.port, m, [receiver.users[ALICE]["forward_address"]], mail_from=sender) == {}
    receiver.drain()
    held = {h["message_id"]: h for h in crm.get("/v1/held").json()["items"]}
    assert {h["reason"] for h in held.values()} == {"NOT_IN_LOGGED_THREAD", "SENDER_NOT_CONTACT"}
    refused = problem(crm.post(f"/v1/held/{held[msgid(out_of_thread)]['id']}/release"), 409, "not-releasable")
    assert refused["reason"] == "NOT_IN_LOGGED_THREAD"
    crm.patch("/v1/account", json={"log_all_from_contacts": True}).raise_for_status()  # `account set` does not retry
    released = crm.post(f"/v1/held/{held[msgid(out_of_thread)]['id']}/release").json()
    assert released["status"] == "logged" and released["engagement_id"]
    assert crm.get(f"/v1/engagements/{released['engagement_id']}").json()["subject"] == "New topic"
    problem(crm.post(f"/v1/held/{held[msgid(out_of_thread)]['id']}/release"), 404, "not-found")  # no longer held
    problem(crm.post(f"/v1/held/{held[msgid(stranger)]['id']}/release"), 409, "not-releasable")


def test_attachment_content_with_its_type_name_and_sha256_etag(receiver, crm):
    data = b"%PDF-1.7 offer " * 1000
    m = message(ALICE, BOB, subject="With file")
    m.add_attachment(data, maintype="application", subtype="pdf", filename="Offerte Müller.pdf")
    bcc(receiver, m)
    [e] = crm.get(f"/v1/contacts/{BOB}/timeline").json()["items"]
    [a] = e["attachments"]
    got = crm.get(f"/v1/attachments/{a['id']}/content")
    assert got.status_code == 200 and got.content == data
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"' == f'"{a["sha256"]}"'
    assert got.headers["content-disposition"].startswith("attachment;") and "Offerte%20M%C3%BCller.pdf" in \
        got.headers["content-disposition"]
    assert got.headers["x-content-type-options"] == "nosniff"
    again = crm.get(f"/v1/attachments/{a['id']}/content", headers={"If-None-Match": got.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    problem(crm.get(f"/v1/attachments/{a['id'] + 1000}/content"), 404, "not-found")


def test_users_never_log_and_account_endpoints(receiver, crm):
    made = crm.post("/v1/users", json={"email": "zed@ours.example", "aliases": ["z@ours.example"]})
    assert made.status_code == 201 and made.json()["bcc_address"].endswith("@bcc.smtp-logger.localhost")
    rotated = crm.post("/v1/users/zed@ours.example/rotate").json()
    assert rotated["bcc_address"] != made.json()["bcc_address"]
    assert crm.post("/v1/users/zed@ours.example/aliases", json={"alias": "zz@ours.example"}).json()["aliases"] == [
        "z@ours.example", "zz@ours.example"]
    emails = [u["email"] for u in crm.get("/v1/users", params={"limit": 1}).json()["items"]]
    assert emails == [ALICE]
    assert {u["email"] for u in receiver.cli.json("users", "list")} == {ALICE, "zed@ours.example"}
    bcc(receiver, message(ALICE, BOB, subject="To be purged"))
    assert crm.post("/v1/never-log", json={"value": "acme.example"}).status_code == 201
    purged = crm.post("/v1/never-log/acme.example/purge").json()
    assert purged == {"value": "acme.example", "deleted": 1}
    assert crm.get(f"/v1/contacts/{BOB}/timeline").json()["items"] == []
    assert crm.delete("/v1/never-log/acme.example").status_code == 204
    problem(crm.delete("/v1/never-log/acme.example"), 404, "not-found")
    problem(crm.post("/v1/never-log", json={"value": "nodot"}), 422, "invalid-request")
    changed = crm.patch("/v1/account", json={"create_contacts": False, "name": "Acme CRM"}).json()
    assert changed["create_contacts"] is False and changed["name"] == "Acme CRM"
    assert receiver.cli.json("account", "show")["create_contacts"] is False
    problem(crm.patch("/v1/account", json={"bogus": 1}), 422, "invalid-request")


def test_smtp_logger_api_serves_alone_and_stops_on_sigterm(tmp_path, cli):
    import os
    import signal
    import subprocess
    import sys
    import time

    import httpx

    from .conftest import free_port

    key = new_key(cli)
    port = free_port()
    process = subprocess.Popen([str(Path(sys.executable).parent / "smtp-logger"), "api", "--port", str(port)],
                               env={**os.environ, **cli.env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/v1/account", headers={"Authorization": f"Bearer {key}"})
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and process.poll() is None, "smtp-logger api did not start"
                time.sleep(0.1)
        assert answer.status_code == 200 and answer.json()["name"] == "Default account"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    assert b"Traceback" not in process.stderr.read()
