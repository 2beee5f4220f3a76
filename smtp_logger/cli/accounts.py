"""Accounts (tenants), their API keys, and `smtp-logger api` (the HTTP API alone, with the
webhook deliverer). A key is printed once and stored only as a hash."""

from __future__ import annotations

import click

from smtp_logger.cli.base import Context, UserError, emit, main, pass_ctx
from smtp_logger.cli.companions import Companions, run_until_signalled
from smtp_logger.store import accounts, api_keys, queries

# -- accounts -------------------------------------------------------------------------------

@main.group("accounts")
def accounts_group():
    """Accounts: each is one CRM; nothing crosses them."""


@accounts_group.command("add")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def accounts_add(obj: Context, name, as_json):
    with obj.session() as session:
        data = queries.account_dict(accounts.add_account(session, name.strip() or "Account"))
    emit(data, as_json, f"account {data['id']}: {data['name']}")


@accounts_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def accounts_list(obj: Context, as_json):
    with obj.session() as session:
        rows = [queries.account_dict(a) for a in accounts.all_accounts(session)]
    emit(rows, as_json, "\n".join(f"{r['id']}  {r['name']}" for r in rows) or "no accounts")


# -- API keys -------------------------------------------------------------------------------

@main.group("api-keys")
def api_keys_group():
    """Keys for the HTTP API (Authorization: Bearer KEY); each sees one account."""


@api_keys_group.command("create")
@click.option("--name", required=True, help="What the key is for.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def api_keys_create(obj: Context, name, as_json):
    """Create a key and print it (the only time it is shown)."""
    with obj.session() as session:
        row, key = api_keys.create(session, obj.account_id(session), name)
        data = {"id": row.id, "key": key, "name": row.name, "account_id": row.account_id}
    emit(data, as_json, f"API key {data['id']} ({name}) for account {data['account_id']}:\n{key}\n"
                        "(shown once; only its hash is kept)")


@api_keys_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def api_keys_list(obj: Context, as_json):
    with obj.session() as session:
        rows = [api_keys.key_dict(k) for k in api_keys.of_account(session, obj.account_id(session))]
    emit(rows, as_json, "\n".join(f"{r['id']}  {r['prefix']}…  {r['name']}" + ("  (revoked)" if r["revoked_at"] else "")
                                  for r in rows) or "no API keys")


@api_keys_group.command("revoke")
@click.argument("key_id", type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def api_keys_revoke(obj: Context, key_id, as_json):
    with obj.session() as session:
        data = api_keys.key_dict(api_keys.revoke(session, obj.account_id(session), key_id))
    emit(data, as_json, f"API key {key_id} revoked")


# -- the API alone --------------------------------------------------------------------------

@main.command("api")
@click.option("--host", default=None, help="Default: api_host (127.0.0.1).")
@click.option("--port", type=int, default=None, help="Default: api_port, else 8025.")
@pass_ctx
def api(obj: Context, host, port):
    """Run the HTTP API (OpenAPI at /v1/openapi.json) and the webhook deliverer."""
    obj.prepare()
    try:
        run_until_signalled(Companions(obj.settings, host, port or obj.settings.api_port or 8025))
    except RuntimeError as exc:
        raise UserError(str(exc)) from exc
