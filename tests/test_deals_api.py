"""The deals endpoints over real HTTP beside a real receiver, on SQLite and PostgreSQL: create,
list (all, one contact's, paged), read and change the stage, `deal_links` through PATCH
/v1/account, the record address a created deal carries logging over SMTP onto it (the timeline
and the decisions show the link), and tenant isolation: another account's deal answers 404 like
one that does not exist, and a key cannot put another account's contact on a deal."""

from __future__ import annotations

import pytest

from .apisupport import new_key, problem, start_api
from .conftest import start_receiver
from .mailers import message, msgid, send

BOB = "bob@acme.example"


@pytest.fixture
def two(tmp_path, db_url):
    rx = start_receiver(tmp_path, db_url)
    api = start_api(rx.settings)
    yield rx, api
    api.stop()
    rx.stop()


def test_deals_endpoints_and_their_tenancy(two):
    rx, api = two
    alice = rx.cli.json("users", "add", "alice@ours.example")
    rx.cli("contacts", "add", BOB)
    rx.cli("contacts", "add", "carol@acme.example")
    theirs = rx.cli.json("accounts", "add", "Theirs")["id"]
    rx.cli("users", "add", "zoe@theirs.example", "--account", str(theirs))
    rx.cli("contacts", "add", "dan@theirs-customer.example", "--account", str(theirs))
    ours, other = api.client(new_key(rx.cli, 1)), api.client(new_key(rx.cli, theirs))

    created = ours.post("/v1/deals", json={"name": "Renewal 2027", "contacts": [BOB], "company": "acme.example",
                                           "owner": "alice@ours.example"})
    assert created.status_code == 201, created.text
    deal = created.json()
    assert deal["stage"] == "open" and deal["contacts"] == [BOB] and deal["company"] == "acme.example"
    assert deal["owner"] == "alice@ours.example" and deal["created_at"].endswith("Z")
    token, domain = alice["bcc_address"].split("@")
    assert deal["bcc_address"] == f"{token}+deal-{deal['id']}@{domain}"
    assert deal["forward_address"].startswith(alice["forward_address"].split("@")[0] + f"+deal-{deal['id']}@")
    second = ours.post("/v1/deals", json={"name": "Pilot", "contacts": ["carol@acme.example"]}).json()
    theirs_deal = other.post("/v1/deals", json={"name": "Theirs", "contacts": ["dan@theirs-customer.example"]}).json()

    assert [d["id"] for d in ours.get("/v1/deals").json()["items"]] == [deal["id"], second["id"]]
    assert [d["id"] for d in ours.get("/v1/deals", params={"contact": BOB}).json()["items"]] == [deal["id"]]
    first_page = ours.get("/v1/deals", params={"limit": 1}).json()
    assert [d["id"] for d in first_page["items"]] == [deal["id"]]
    assert [d["id"] for d in ours.get("/v1/deals", params={"limit": 1, "cursor": first_page["next_cursor"]})
            .json()["items"]] == [second["id"]]
    assert [d["id"] for d in other.get("/v1/deals").json()["items"]] == [theirs_deal["id"]]
    assert ours.get(f"/v1/deals/{deal['id']}").json()["name"] == "Renewal 2027"
    changed = ours.patch(f"/v1/deals/{second['id']}", json={"stage": "won"}).json()
    assert changed["stage"] == "won" and changed["updated_at"] >= second["updated_at"]

    # another account's deal is not there; its contacts are not ours to use
    problem(other.get(f"/v1/deals/{deal['id']}"), 404, "not-found")
    problem(other.patch(f"/v1/deals/{deal['id']}", json={"stage": "lost"}), 404, "not-found")
    assert ours.get(f"/v1/deals/{deal['id']}").json()["stage"] == "open"
    problem(other.post("/v1/deals", json={"name": "Steal", "contacts": [BOB]}), 404, "not-found")
    problem(other.get("/v1/deals", params={"contact": BOB}), 404, "not-found")
    # bad input
    problem(ours.post("/v1/deals", json={"name": "No contacts", "contacts": []}), 422, "invalid-request")
    problem(ours.post("/v1/deals", json={"name": "Free", "contacts": [BOB], "company": "gmail.com"}), 400,
            "invalid-value")
    problem(ours.post("/v1/deals", json={"name": "   ", "contacts": [BOB]}), 400, "invalid-value")
    problem(ours.patch(f"/v1/deals/{deal['id']}", json={"stage": "maybe"}), 422, "invalid-request")
    problem(ours.get("/v1/deals/999999"), 404, "not-found")

    # the account's policy, and a record address that logs onto the deal
    assert ours.patch("/v1/account", json={"deal_links": "none", "deal_links_max": 3}).json()["deal_links"] == "none"
    assert other.get("/v1/account").json()["deal_links"] == "only_one"
    m = message("alice@ours.example", BOB, subject="Renewal terms")
    assert send(rx.port, m, [deal["bcc_address"]], mail_from="alice@ours.example") == {}
    rx.drain()
    [engagement] = ours.get(f"/v1/contacts/{BOB}/timeline").json()["items"]
    assert engagement["deals"] == [{"id": deal["id"], "name": "Renewal 2027", "linked_by": "address"}]
    [decision] = ours.get("/v1/decisions", params={"message_id": msgid(m)}).json()["items"]
    assert decision["deals"] == engagement["deals"] and decision["deal_ignored"] == []
    ours.close()
    other.close()
