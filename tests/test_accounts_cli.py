"""Accounts on the command line: `accounts add/list`, and `--account ID` on every command that
reads or changes an account's data; without it the only account is used, and with several the
command stops with an error naming them."""

from __future__ import annotations

from smtp_logger.cli import main as cli_main


def test_accounts_add_list_and_the_account_option(cli):
    first = cli.json("users", "add", "alice@ours.example")  # creates the default account, as before
    second = cli.json("accounts", "add", "Globex CRM")
    assert second["name"] == "Globex CRM" and second["id"] > 1
    assert [a["name"] for a in cli.json("accounts", "list")] == ["Default account", "Globex CRM"]
    result = cli("users", "list", expect=1)
    line = result.stderr.strip()
    assert line.startswith("error: there are several accounts; pass --account ID") and "Globex CRM" in line
    assert "Default account" in line and len(result.stderr.strip().splitlines()) == 1
    zoe = cli.json("users", "add", "zoe@theirs.example", "--account", str(second["id"]))
    assert zoe["bcc_address"] != first["bcc_address"]
    assert [u["email"] for u in cli.json("users", "list", "--account", "1")] == ["alice@ours.example"]
    assert [u["email"] for u in cli.json("users", "list", "--account", str(second["id"]))] == ["zoe@theirs.example"]
    cli("contacts", "add", "bob@acme.example", "--account", "1")
    cli("contacts", "add", "bob@acme.example", "--account", str(second["id"]))  # same address, other account
    assert cli.json("account", "show", "--account", str(second["id"]))["name"] == "Globex CRM"
    assert cli.json("account", "set", "--no-create-contacts", "--account", str(second["id"]))["create_contacts"] is False
    assert cli.json("account", "show", "--account", "1")["create_contacts"] is True
    missing = cli("timeline", "bob@acme.example", "--account", "99", expect=1)
    assert missing.stderr.startswith("error: no account 99; accounts: 1 (Default account)")


def test_every_account_command_takes_the_option_and_the_others_do_not():
    def commands(group, path=()):
        for name, command in group.commands.items():
            if hasattr(command, "commands"):
                yield from commands(command, (*path, name))
            else:
                yield " ".join((*path, name)), {p.name for p in command.params}

    found = dict(commands(cli_main))
    without = {name for name, params in found.items() if "account_choice" not in params}
    assert without == {"serve", "api", "db upgrade", "config check", "held purge", "accounts add", "accounts list",
                       "blobs check", "blobs migrate"}
    for name in ("timeline", "why", "recent", "held list", "contacts add", "contacts merge", "never-log purge",
                 "users add", "users rotate", "account set", "api-keys create", "api-keys revoke", "teams add"):
        assert "account_choice" in found[name], name
