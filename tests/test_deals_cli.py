"""`smtp-logger deals add | list | set-stage` and `account set --deal-links`, on SQLite and
PostgreSQL: the JSON (with the deal's two record addresses, the owner's tokens), filtering by
contact, bad input (one line, exit 1), and two accounts that never see each other's deals."""

from __future__ import annotations


def test_deals_commands_print_what_they_did(cli):
    alice = cli.json("users", "add", "alice@ours.example")
    cli.json("users", "add", "zed@ours.example")
    cli("contacts", "add", "bob@acme.example")
    cli("contacts", "add", "carol@acme.example", "--email", "c.buyer@acme.example")
    deal = cli.json("deals", "add", "Renewal", "--contact", "bob@acme.example", "--contact", "c.buyer@acme.example",
                    "--company", "ACME.example", "--owner", "zed@ours.example")
    zed = cli.json("users", "list")[1]
    assert {k: deal[k] for k in ("name", "stage", "contacts", "company", "owner")} == {
        "name": "Renewal", "stage": "open", "contacts": ["bob@acme.example", "carol@acme.example"],
        "company": "acme.example", "owner": "zed@ours.example"}
    token, domain = zed["bcc_address"].split("@")
    assert deal["bcc_address"] == f"{token}+deal-{deal['id']}@{domain}"
    token, domain = zed["forward_address"].split("@")
    assert deal["forward_address"] == f"{token}+deal-{deal['id']}@{domain}"
    unowned = cli.json("deals", "add", "Pilot", "--contact", "carol@acme.example")
    assert unowned["owner"] is None and unowned["bcc_address"].startswith(alice["bcc_address"].split("@")[0] + "+deal-")
    assert [d["id"] for d in cli.json("deals", "list")] == [deal["id"], unowned["id"]]
    assert [d["id"] for d in cli.json("deals", "list", "--contact", "bob@acme.example")] == [deal["id"]]
    won = cli.json("deals", "set-stage", str(unowned["id"]), "won")
    assert won["stage"] == "won" and won["updated_at"] >= unowned["updated_at"]
    assert "Pilot [won]" in cli("deals", "list").stdout
    assert cli.json("account", "set", "--deal-links", "recent", "--deal-links-max", "3")["deal_links_max"] == 3


def test_bad_input_is_one_line_and_exit_1(cli):
    cli("users", "add", "alice@ours.example")
    cli("contacts", "add", "bob@acme.example")
    for args, says in [
        (("deals", "add", "X", "--contact", "nobody@acme.example"), "no contact with address nobody@acme.example"),
        (("deals", "add", "X"), "--contact"),
        (("deals", "add", "X", "--contact", "not-an-address"), "not a valid email address"),
        (("deals", "add", "X", "--contact", "bob@acme.example", "--company", "gmail.com"), "free-mail"),
        (("deals", "add", "X", "--contact", "bob@acme.example", "--owner", "eve@ours.example"), "no user"),
        (("deals", "add", " ", "--contact", "bob@acme.example"), "name"),
        (("deals", "set-stage", "42", "won"), "no deal 42"),
        (("deals", "set-stage", "1", "maybe"), "maybe"),
        (("deals", "list", "--contact", "nobody@acme.example"), "no contact"),
        (("account", "set", "--deal-links", "all"), "all"),
        (("account", "set", "--deal-links-max", "0"), "0"),
    ]:
        result = cli(*args, expect=1)
        assert says in result.output and result.output.count("\n") == 1, (args, result.output)
        assert "Traceback" not in result.output


def test_accounts_never_see_each_others_deals(cli):
    cli("users", "add", "alice@ours.example")
    cli("contacts", "add", "bob@acme.example")
    mine = cli.json("deals", "add", "Ours", "--contact", "bob@acme.example")
    theirs = cli.json("accounts", "add", "Theirs")["id"]
    cli("users", "add", "zoe@theirs.example", "--account", str(theirs))
    cli("contacts", "add", "bob@acme.example", "--account", str(theirs))
    assert cli.json("deals", "list", "--account", str(theirs)) == []
    cli("deals", "list", expect=1)  # two accounts: --account is needed
    other = cli.json("deals", "add", "Theirs", "--contact", "bob@acme.example", "--account", str(theirs))
    assert other["bcc_address"].split("+")[0] != mine["bcc_address"].split("+")[0]  # zoe's token
    assert [d["id"] for d in cli.json("deals", "list", "--account", "1")] == [mine["id"]]
    assert "no deal" in cli("deals", "set-stage", str(mine["id"]), "lost", "--account", str(theirs), expect=1).output
    assert cli.json("deals", "list", "--account", "1")[0]["stage"] == "open"
    cli("deals", "add", "X", "--contact", "carol@only-ours.example", "--account", str(theirs), expect=1)
    cli("contacts", "add", "carol@only-ours.example", "--account", "1")
    assert "no contact" in cli("deals", "add", "X", "--contact", "carol@only-ours.example", "--account",
                               str(theirs), expect=1).output
