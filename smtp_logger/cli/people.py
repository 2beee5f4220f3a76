"""The account's own side: account settings, users (logging addresses, aliases, rotation)
and team addresses."""

from __future__ import annotations

import click

from smtp_logger.cli.base import Context, emit, main, pass_ctx, valid_address
from smtp_logger.decide.deals import MAX_LINKS_MAX, POLICIES
from smtp_logger.store import accounts, queries

# -- account --------------------------------------------------------------------------------

@main.group()
def account():
    """Account-wide settings."""


def _account_text(d: dict) -> str:
    return "\n".join(f"{key}: {value}" for key, value in d.items())


@account.command("show")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def account_show(obj: Context, as_json):
    with obj.session() as session:
        data = queries.account_dict(accounts.get_account(session, obj.account_id(session)))
    emit(data, as_json, _account_text(data))


@account.command("set")
@click.option("--create-contacts/--no-create-contacts", default=None,
              help="BCC recipients who are not contacts yet become contacts (default on).")
@click.option("--log-all-from-contacts/--no-log-all-from-contacts", default=None,
              help="Automatic copies from known contacts are logged even outside logged threads (default off).")
@click.option("--language", type=click.Choice(["en", "nl"]), default=None, help="Of the notices to users.")
@click.option("--deal-links", type=click.Choice(POLICIES), default=None,
              help="Which open deals a logged email is linked to (default only_one).")
@click.option("--deal-links-max", type=click.IntRange(1, MAX_LINKS_MAX), default=None,
              help="How many with --deal-links recent (default 5).")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def account_set(obj: Context, create_contacts, log_all_from_contacts, language, deal_links, deal_links_max,
                as_json):
    """Account settings (how users are told: `smtp-logger notices set`)."""
    with obj.session() as session:
        acct = accounts.set_options(accounts.get_account(session, obj.account_id(session)), language=language,
                                    create_contacts=create_contacts, log_all_from_contacts=log_all_from_contacts,
                                    deal_links=deal_links, deal_links_max=deal_links_max)
        data = queries.account_dict(acct)
    emit(data, as_json, _account_text(data))


# -- users ----------------------------------------------------------------------------------

def _user_text(d: dict) -> str:
    return f"{d['email']}\n  BCC address:        {d['bcc_address']}\n  Forwarding address: {d['forward_address']}"


@main.group()
def users():
    """Salespeople and their logging addresses."""


@users.command("add")
@click.argument("email")
@click.option("--name", default=None)
@click.option("--alias", "aliases", multiple=True, help="A verified extra sending address.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def users_add(obj: Context, email, name, aliases, as_json):
    """Create a user and print their BCC and forwarding addresses."""
    email = valid_address(email)
    aliases = [valid_address(a) for a in aliases]
    with obj.session() as session:
        user = accounts.add_user(session, obj.account_id(session), email, name, aliases, obj.settings)
        data = queries.user_dict(session, user)
    emit(data, as_json, _user_text(data))


@users.command("rotate")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def users_rotate(obj: Context, email, as_json):
    """New tokens for both addresses; the old ones stop working."""
    with obj.session() as session:
        user = accounts.find_user(session, obj.account_id(session), valid_address(email))
        accounts.rotate(session, user, obj.settings)
        data = queries.user_dict(session, user)
    emit(data, as_json, _user_text(data))


@users.command("add-alias")
@click.argument("email")
@click.argument("alias")
@pass_ctx
def users_add_alias(obj: Context, email, alias):
    """Add a verified sending address to a user."""
    with obj.session() as session:
        user = accounts.find_user(session, obj.account_id(session), valid_address(email))
        accounts.add_alias(session, user, valid_address(alias))
    click.echo(f"{alias} is now an address of {email}")


@users.command("set-email")
@click.argument("email")
@click.argument("new_email")
@pass_ctx
def users_set_email(obj: Context, email, new_email):
    """Change a user's primary address (the old one stays as an alias)."""
    with obj.session() as session:
        user = accounts.find_user(session, obj.account_id(session), valid_address(email))
        accounts.change_primary(session, user, valid_address(new_email))
    click.echo(f"{email} is now {new_email}")


@users.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def users_list(obj: Context, as_json):
    with obj.session() as session:
        rows = [queries.user_dict(session, u) for u in accounts.users_of(session, obj.account_id(session))]
    emit(rows, as_json, "\n".join(_user_text(r) for r in rows) or "no users")


# -- teams ----------------------------------------------------------------------------------

@main.group()
def teams():
    """Team addresses (shared mailboxes) and their members."""


@teams.command("add")
@click.argument("address")
@click.option("--name", default=None)
@click.option("--member", "members", multiple=True, help="A user's email.")
@pass_ctx
def teams_add(obj: Context, address, name, members):
    with obj.session() as session:
        account_id = obj.account_id(session)
        users_ = [accounts.find_user(session, account_id, valid_address(m)) for m in members]
        accounts.add_team(session, account_id, valid_address(address), name, users_)
    click.echo(f"team {address}: {', '.join(members) or 'no members'}")
