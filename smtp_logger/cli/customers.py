"""The customers' side: contacts (addresses, merges, retroactive logging) and never-log
entries (with the purge for privacy requests)."""

from __future__ import annotations

import click

from smtp_logger.cli.base import Context, UserError, emit, main, pass_ctx, valid_address
from smtp_logger.store import accounts, contacts, privacy, queries
from smtp_logger.store.blobstore import open_store

# -- contacts -------------------------------------------------------------------------------

@main.group("contacts")
def contacts_group():
    """Customers and their addresses."""


def _log_held_and_report(obj: Context, account_id: int, contact_address: str, addresses: set[str],
                         names: set[str], as_json: bool, text: str) -> None:
    """After a contact change: log the held mail it unblocks, then print the contact."""
    logged = obj.pipeline().contacts_changed(account_id, addresses, names)
    with obj.session() as session:
        data = dict(queries.contact_dict(session, account_id, contact_address), retroactively_logged=logged)
    emit(data, as_json, f"{text}; {logged} held message(s) logged")


@contacts_group.command("add")
@click.argument("email")
@click.option("--name", default=None)
@click.option("--email", "extra", multiple=True, help="Another address of the same person.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def contacts_add(obj: Context, email, name, extra, as_json):
    """Create a contact (held mail from these addresses is then logged)."""
    email = valid_address(email)
    extra = [valid_address(e) for e in extra]
    with obj.session() as session:
        account_id = obj.account_id(session)
        contacts.add_contact(session, account_id, email, name, extra)
    _log_held_and_report(obj, account_id, email, {email, *extra}, {name} if name else set(), as_json,
                         f"contact {email} created")


@contacts_group.command("add-email")
@click.argument("contact_email")
@click.argument("new_email")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def contacts_add_email(obj: Context, contact_email, new_email, as_json):
    """Add an address to a contact (may log held mail retroactively)."""
    new_email = valid_address(new_email)
    with obj.session() as session:
        account_id = obj.account_id(session)
        contacts.add_email(session, account_id, valid_address(contact_email), new_email)
    _log_held_and_report(obj, account_id, new_email, {new_email}, set(), as_json,
                         f"{new_email} added to {contact_email}")


@contacts_group.command("merge")
@click.argument("keep_email")
@click.argument("other_email")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def contacts_merge(obj: Context, keep_email, other_email, as_json):
    """Merge OTHER into KEEP, timelines included."""
    with obj.session() as session:
        account_id = obj.account_id(session)
        keep = contacts.merge(session, account_id, valid_address(keep_email), valid_address(other_email))
        addresses = set(contacts.contact_emails(session, keep.id))
        names = {keep.name} if keep.name else set()  # a name shared by both may now be unique
    _log_held_and_report(obj, account_id, valid_address(keep_email), addresses, names, as_json,
                         f"merged {other_email} into {keep_email}")


@contacts_group.command("show")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def contacts_show(obj: Context, email, as_json):
    with obj.session() as session:
        data = queries.contact_dict(session, obj.account_id(session), valid_address(email))
    emit(data, as_json, f"{data['name'] or '(no name)'}: {', '.join(data['emails'])}")


# -- never-log ------------------------------------------------------------------------------

@main.group("never-log")
def never_log_group():
    """Addresses and domains that are never logged."""


def _never_log_value(value: str) -> str:
    try:
        return contacts.never_log_value(value)
    except ValueError as exc:
        raise UserError(str(exc)) from exc


@never_log_group.command("add")
@click.argument("address_or_domain")
@click.option("--user", "user_email", default=None, help="Personal list of this user.")
@pass_ctx
def never_log_add(obj: Context, address_or_domain, user_email):
    value = _never_log_value(address_or_domain)
    with obj.session() as session:
        account_id = obj.account_id(session)
        user_id = accounts.find_user(session, account_id, valid_address(user_email)).id if user_email else None
        contacts.add_never_log(session, account_id, value, user_id)
    click.echo(f"{value} will never be logged" + (f" for {user_email}" if user_email else ""))


@never_log_group.command("purge")
@click.argument("address_or_domain")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
def never_log_purge(obj: Context, address_or_domain, yes):
    """Delete everything already logged for an address or domain (privacy requests)."""
    value = _never_log_value(address_or_domain)
    with obj.session() as session:
        account_id = obj.account_id(session)
        found = privacy.engagements_for(session, account_id, value)
        if not found:
            click.echo(f"nothing logged for {value}")
            return
        if not yes and not click.confirm(f"Delete {len(found)} logged email(s) involving {value}?"):
            raise UserError("aborted, nothing deleted")
        count = privacy.purge_engagements(session, found, open_store(obj.settings, obj.prepare()),
                                          obj.settings.blob_grace_seconds)
    click.echo(f"deleted {count} logged email(s) involving {value}")
