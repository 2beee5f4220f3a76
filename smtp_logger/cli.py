"""`smtp-logger`: the command-line contract of SPEC.md (serve, db, users, contacts, never-log,
timeline, why, held) plus a few extras. Every command reads the same settings; `--json` prints
only JSON on stdout; bad input exits 1 with a one-line error and no traceback.
"""

from __future__ import annotations

import asyncio
import json
import sys
from contextlib import contextmanager

import click

from . import lifecycle
from .addresses import is_valid_address, normalize_address
from .config import ConfigError, load_settings
from .db import session_factory, upgrade
from .logsetup import configure
from .pipeline import Pipeline
from .spool import Spool
from .store import accounts, contacts, privacy, queries
from .store.accounts import Conflict, NotFound


class UserError(click.ClickException):
    def show(self, file=None):
        click.echo(f"error: {self.message}", err=True)


def _emit(data, as_json: bool, text: str) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False) if as_json else text)


def _address(value: str) -> str:
    value = normalize_address(value)
    if not is_valid_address(value):
        raise UserError(f"not a valid email address: {value!r}")
    return value


class Context:
    def __init__(self, config_file):
        try:
            self.settings = load_settings(config_file)
        except (ConfigError, ValueError) as exc:
            raise UserError(str(exc)) from exc
        configure(self.settings.log_format, self.settings.log_level)
        self.sessions = None

    def prepare(self):
        if self.sessions is None:
            if self.settings.is_embedded:
                upgrade(self.settings.db_url)
            self.sessions = session_factory(self.settings.db_url)
        return self.sessions

    @contextmanager
    def session(self):
        sessions = self.prepare()
        with sessions() as session:
            try:
                yield session
                session.commit()
            except (NotFound, Conflict) as exc:
                session.rollback()
                raise UserError(str(exc)) from exc
            except Exception as exc:
                session.rollback()
                if exc.__class__.__name__ in ("OperationalError", "ProgrammingError"):
                    raise UserError(f"database error: {str(exc).splitlines()[0]}") from exc
                raise

    def pipeline(self) -> Pipeline:
        return Pipeline(self.settings, self.prepare(), Spool(self.settings.data_path))

    def account_id(self, session) -> int:
        return accounts.default_account(session).id


pass_ctx = click.make_pass_decorator(Context)


@click.group()
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="TOML configuration file (default: config/smtp_logger.toml; SMTP_LOGGER_* override).")
@click.pass_context
def main(ctx, config_file):
    """smtp_logger: log BCC'd and forwarded sales email on CRM contact timelines."""
    ctx.obj = Context(config_file)


# -- serve and db ---------------------------------------------------------------------------

@main.command()
@click.option("--host", default=None)
@click.option("--port", type=int, default=None)
@click.option("--demo", is_flag=True, help="Create the demo user (idempotent) and print its addresses.")
@pass_ctx
def serve(obj: Context, host, port, demo):
    """Run the receiver (default 127.0.0.1:2525)."""
    from .service import App
    if host:
        obj.settings.host = host
    if port:
        obj.settings.port = port
    if demo:
        _print_demo(obj)
    asyncio.run(App(obj.settings).serve_forever())


def _print_demo(obj: Context) -> None:
    with obj.session() as session:
        account_id = obj.account_id(session)
        try:
            user = accounts.find_user(session, account_id, "demo@example.com")
        except NotFound:
            user = accounts.add_user(session, account_id, "demo@example.com", "Demo Salesperson", [], obj.settings)
        addresses = accounts.current_addresses(session, user)
    port = obj.settings.port
    click.echo(f"""Demo user: demo@example.com
  BCC address:        {addresses['bcc']}
  Forwarding address: {addresses['forward']}
Send a first message (in another terminal):
  swaks --server 127.0.0.1:{port} --from demo@example.com --to {addresses['bcc']} \\
        --header 'To: Customer <customer@acme.example>' --header 'Subject: Our proposal' \\
        --body 'Hello, here it is.'
  (the envelope goes to the BCC address only; the To header names the customer, as a BCC does)
  (or: .venv/bin/python -m smtp_logger.demo_send)
Then: .venv/bin/smtp-logger timeline customer@acme.example --json
""")


@main.group()
def db():
    """Database schema."""


@db.command("upgrade")
@pass_ctx
def db_upgrade(obj: Context):
    """Apply migrations."""
    try:
        upgrade(obj.settings.db_url)
    except Exception as exc:
        raise UserError(f"migration failed: {str(exc).splitlines()[0]}") from exc
    click.echo("database is up to date")


# -- account --------------------------------------------------------------------------------

@main.group()
def account():
    """Account-wide settings."""


def _account_dict(acct) -> dict:
    return {"name": acct.name, "create_contacts": acct.create_contacts,
            "log_all_from_contacts": acct.log_all_from_contacts}


def _account_text(d: dict) -> str:
    return "\n".join(f"{key}: {value}" for key, value in d.items())


@account.command("show")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def account_show(obj: Context, as_json):
    with obj.session() as session:
        data = _account_dict(accounts.default_account(session))
    _emit(data, as_json, _account_text(data))


@account.command("set")
@click.option("--create-contacts/--no-create-contacts", default=None,
              help="BCC recipients who are not contacts yet become contacts (default on).")
@click.option("--log-all-from-contacts/--no-log-all-from-contacts", default=None,
              help="Automatic copies from known contacts are logged even outside logged threads (default off).")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def account_set(obj: Context, create_contacts, log_all_from_contacts, as_json):
    with obj.session() as session:
        acct = accounts.default_account(session)
        if create_contacts is not None:
            acct.create_contacts = create_contacts
        if log_all_from_contacts is not None:
            acct.log_all_from_contacts = log_all_from_contacts
        data = _account_dict(acct)
    _emit(data, as_json, _account_text(data))


# -- users ----------------------------------------------------------------------------------

def _user_dict(session, user) -> dict:
    addresses = accounts.current_addresses(session, user)
    return {"email": user.email, "name": user.name, "aliases": sorted(accounts.user_addresses(session, user) - {user.email}),
            "bcc_address": addresses.get("bcc"), "forward_address": addresses.get("forward")}


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
    email = _address(email)
    aliases = [_address(a) for a in aliases]
    with obj.session() as session:
        user = accounts.add_user(session, obj.account_id(session), email, name, aliases, obj.settings)
        data = _user_dict(session, user)
    _emit(data, as_json, _user_text(data))


@users.command("rotate")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def users_rotate(obj: Context, email, as_json):
    """New tokens for both addresses; the old ones stop working."""
    with obj.session() as session:
        user = accounts.find_user(session, obj.account_id(session), _address(email))
        accounts.rotate(session, user, obj.settings)
        data = _user_dict(session, user)
    _emit(data, as_json, _user_text(data))


@users.command("add-alias")
@click.argument("email")
@click.argument("alias")
@pass_ctx
def users_add_alias(obj: Context, email, alias):
    """Add a verified sending address to a user."""
    with obj.session() as session:
        user = accounts.find_user(session, obj.account_id(session), _address(email))
        accounts.add_alias(session, user, _address(alias))
    click.echo(f"{alias} is now an address of {email}")


@users.command("set-email")
@click.argument("email")
@click.argument("new_email")
@pass_ctx
def users_set_email(obj: Context, email, new_email):
    """Change a user's primary address (the old one stays as an alias)."""
    with obj.session() as session:
        user = accounts.find_user(session, obj.account_id(session), _address(email))
        accounts.change_primary(session, user, _address(new_email))
    click.echo(f"{email} is now {new_email}")


@users.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def users_list(obj: Context, as_json):
    from sqlalchemy import select
    from .models import User
    with obj.session() as session:
        rows = [_user_dict(session, u) for u in session.scalars(
            select(User).where(User.account_id == obj.account_id(session)).order_by(User.id))]
    _emit(rows, as_json, "\n".join(_user_text(r) for r in rows) or "no users")


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
        users_ = [accounts.find_user(session, account_id, _address(m)) for m in members]
        accounts.add_team(session, account_id, _address(address), name, users_)
    click.echo(f"team {address}: {', '.join(members) or 'no members'}")


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
    _emit(data, as_json, f"{text}; {logged} held message(s) logged")


@contacts_group.command("add")
@click.argument("email")
@click.option("--name", default=None)
@click.option("--email", "extra", multiple=True, help="Another address of the same person.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def contacts_add(obj: Context, email, name, extra, as_json):
    """Create a contact (held mail from these addresses is then logged)."""
    email = _address(email)
    extra = [_address(e) for e in extra]
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
    new_email = _address(new_email)
    with obj.session() as session:
        account_id = obj.account_id(session)
        contacts.add_email(session, account_id, _address(contact_email), new_email)
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
        keep = contacts.merge(session, account_id, _address(keep_email), _address(other_email))
        addresses = set(contacts.contact_emails(session, keep.id))
        names = {keep.name} if keep.name else set()  # a name shared by both may now be unique
    _log_held_and_report(obj, account_id, _address(keep_email), addresses, names, as_json,
                         f"merged {other_email} into {keep_email}")


@contacts_group.command("show")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def contacts_show(obj: Context, email, as_json):
    with obj.session() as session:
        data = queries.contact_dict(session, obj.account_id(session), _address(email))
    _emit(data, as_json, f"{data['name'] or '(no name)'}: {', '.join(data['emails'])}")


# -- never-log ------------------------------------------------------------------------------

@main.group("never-log")
def never_log_group():
    """Addresses and domains that are never logged."""


def _never_log_value(value: str) -> str:
    value = value.strip().lower().lstrip("@")
    if "@" in value:
        return _address(value)
    if "." not in value or " " in value:
        raise UserError(f"not an address or a domain: {value!r}")
    return value


@never_log_group.command("add")
@click.argument("address_or_domain")
@click.option("--user", "user_email", default=None, help="Personal list of this user.")
@pass_ctx
def never_log_add(obj: Context, address_or_domain, user_email):
    value = _never_log_value(address_or_domain)
    with obj.session() as session:
        account_id = obj.account_id(session)
        user_id = accounts.find_user(session, account_id, _address(user_email)).id if user_email else None
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
        count = privacy.purge_engagements(session, found)
    click.echo(f"deleted {count} logged email(s) involving {value}")


# -- what users ask -------------------------------------------------------------------------

@main.command()
@click.argument("contact_email")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def timeline(obj: Context, contact_email, as_json):
    """A contact's logged emails, newest first."""
    with obj.session() as session:
        rows = queries.timeline(session, obj.account_id(session), _address(contact_email))
    text = "\n".join(f"{r['sent_at']}  {r['direction']:8}  {r['subject']}  (thread {r['thread_id']})" for r in rows)
    _emit(rows, as_json, text or "no emails logged")


@main.command()
@click.argument("message_id")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def why(obj: Context, message_id, as_json):
    """Every decision taken for a Message-ID."""
    with obj.session() as session:
        rows = queries.why(session, None, message_id)
    if not rows and not as_json:
        raise UserError(f"no message with Message-ID {message_id} was received")
    text = "\n".join(f"{r['logging_address']}: {r['reason']} - {r['explanation']}" for r in rows)
    _emit(rows, as_json, text)


@main.command()
@click.option("--limit", type=click.IntRange(1, 1000), default=20)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def recent(obj: Context, limit, as_json):
    """The latest decisions, newest first (Message-IDs to ask `why` about)."""
    with obj.session() as session:
        rows = queries.recent(session, limit)
    text = "\n".join(f"{r['decided_at'][:19]}  {r['reason']:26} <{r['message_id']}>  {r['subject'][:50]}"
                     for r in rows)
    _emit(rows, as_json, text or "nothing received yet")


@main.group()
def held():
    """Messages received and not (yet) logged."""


@held.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def held_list(obj: Context, as_json):
    with obj.session() as session:
        rows = queries.held(session, None)
    text = "\n".join(f"{r['received_at']}  {r['reason']:26} {r['message_id']}" for r in rows)
    _emit(rows, as_json, text or "no held messages")


@held.command("purge")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def held_purge(obj: Context, as_json):
    """Expire held messages older than the retention time (held_retention_days)."""
    spool = Spool(obj.settings.data_path)
    with obj.session() as session:
        expired = privacy.expired_held(session, obj.settings.held_retention_days)
        for message in expired:
            lifecycle.expire(session, message, obj.settings.held_retention_days)
        session.flush()
        shas = {m.raw_sha256 for m in expired}
        removable = [sha for sha in shas if not privacy.raw_still_needed(session, sha)]
    for sha in removable:
        spool.raw_path(sha).unlink(missing_ok=True)
    _emit({"expired": len(expired)}, as_json, f"{len(expired)} held message(s) expired")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
