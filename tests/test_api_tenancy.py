"""Two accounts on one receiver, with the same contact address in each and a key each: through
the API, every object of the other account answers 404 exactly like one that does not exist
(engagements, attachments, held mail, users, contacts, never-log entries, webhooks), lists and
the change feed show only the key's own account, and changes stay inside it."""

from __future__ import annotations

import pytest

from .apisupport import new_key, problem, start_api
from .conftest import start_receiver
from .mailers import message, msgid, send

BOB = "bob@acme.example"


@pytest.fixture
def two(tmp_path, db_url):
    rx = start_receiver(tmp_path, db_url, webhook_allow_private_networks=True)
    api = start_api(rx.settings)
    yield rx, api
    api.stop()
    rx.stop()


def _account(rx, api, user: str, account: int) -> dict:
    created = rx.cli.json("users", "add", user, "--account", str(account))
    rx.cli("contacts", "add", BOB, "--account", str(account))
    m = message(user, BOB, subject=f"Offer from {user}")
    m.add_attachment(f"file of {user}".encode(), maintype="application", subtype="pdf", filename="offer.pdf")
    assert send(rx.port, m, [created["bcc_address"]], mail_from=user) == {}
    stranger = message("Eve <eve@elsewhere.example>", user, subject="Cold")
    assert send(rx.port, stranger, [created["forward_address"]], mail_from="eve@elsewhere.example") == {}
    rx.drain()
    client = api.client(new_key(rx.cli, account))
    [engagement] = client.get(f"/v1/contacts/{BOB}/timeline").json()["items"]
    [held] = client.get("/v1/held").json()["items"]
    client.post("/v1/never-log", json={"value": f"private@{user.split('@')[1]}"}).raise_for_status()
    hook = client.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"}).json()
    return {"client": client, "user": user, "engagement": engagement, "attachment": engagement["attachments"][0],
            "held": held, "message_id": msgid(m), "hook": hook, "never_log": f"private@{user.split('@')[1]}"}


def test_each_key_sees_only_its_own_account(two):
    rx, api = two
    rx.cli("users", "add", "seed@ours.example")  # the default account exists: id 1
    second = rx.cli.json("accounts", "add", "Theirs")["id"]
    a = _account(rx, api, "alice@ours.example", 1)
    b = _account(rx, api, "zoe@theirs.example", second)
    for me, other in ((a, b), (b, a)):
        c = me["client"]
        assert c.get("/v1/account").json()["id"] == (1 if me is a else second)
        assert [e["id"] for e in c.get(f"/v1/contacts/{BOB}/timeline").json()["items"]] == [me["engagement"]["id"]]
        problem(c.get(f"/v1/engagements/{other['engagement']['id']}"), 404, "not-found")
        problem(c.get(f"/v1/attachments/{other['attachment']['id']}/content"), 404, "not-found")
        assert c.get(f"/v1/attachments/{me['attachment']['id']}/content").content == f"file of {me['user']}".encode()
        feed = [item["engagement_id"] for item in c.get("/v1/engagements").json()["items"]]
        assert feed == [me["engagement"]["id"]]
        problem(c.get("/v1/decisions", params={"message_id": other["message_id"]}), 404, "not-found")
        assert c.get("/v1/decisions", params={"message_id": me["message_id"]}).json()["items"][0]["reason"] == "LOGGED"
        assert [h["id"] for h in c.get("/v1/held").json()["items"]] == [me["held"]["id"]]
        problem(c.post(f"/v1/held/{other['held']['id']}/release"), 404, "not-found")
        assert [u["email"] for u in c.get("/v1/users").json()["items"]] == (
            ["seed@ours.example", me["user"]] if me is a else [me["user"]])
        problem(c.post(f"/v1/users/{other['user']}/rotate"), 404, "not-found")
        problem(c.post(f"/v1/users/{other['user']}/aliases", json={"alias": "x@ours.example"}), 404, "not-found")
        problem(c.delete(f"/v1/never-log/{other['never_log']}"), 404, "not-found")
        assert [w["id"] for w in c.get("/v1/webhooks").json()["items"]] == [me["hook"]["id"]]
        problem(c.delete(f"/v1/webhooks/{other['hook']['id']}"), 404, "not-found")
        problem(c.get(f"/v1/webhooks/{other['hook']['id']}/deliveries"), 404, "not-found")
    # changes stay in the account: Alice's CRM adds an address to its Bob and purges acme.example
    a["client"].post("/v1/contacts/bob@acme.example/emails", json={"email": "robert@acme.example"}).raise_for_status()
    problem(b["client"].post("/v1/contacts/merge", json={"keep": BOB, "other": "robert@acme.example"}), 404, "not-found")
    assert rx.cli.json("contacts", "show", BOB, "--account", str(second))["emails"] == [BOB]
    assert a["client"].post("/v1/never-log/acme.example/purge").json()["deleted"] == 1
    assert [e["id"] for e in b["client"].get(f"/v1/contacts/{BOB}/timeline").json()["items"]] == [b["engagement"]["id"]]
    assert [i["change"] for i in b["client"].get("/v1/engagements").json()["items"]] == ["written"]
    assert [i["change"] for i in a["client"].get("/v1/engagements").json()["items"]] == ["written", "deleted"]
    for side in (a, b):
        side["client"].close()
