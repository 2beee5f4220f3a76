"""`serve` (the receiver, optionally with the demo user) and `db upgrade`."""

from __future__ import annotations

import asyncio

import click

from smtp_logger.cli.base import Context, UserError, main, pass_ctx
from smtp_logger.cli.companions import Companions
from smtp_logger.cli.config import data_dir_problems, database_problems, listen_problems, refuse, start_problems
from smtp_logger.store import accounts
from smtp_logger.store.accounts import NotFound
from smtp_logger.store.db import upgrade

# -- serve and db ---------------------------------------------------------------------------

@main.command()
@click.option("--host", default=None)
@click.option("--port", type=int, default=None)
@click.option("--demo", is_flag=True, help="Create the demo user (idempotent) and print its addresses.")
@pass_ctx
def serve(obj: Context, host, port, demo):
    """Run the receiver (default 127.0.0.1:2525)."""
    from smtp_logger.run.service import App
    from smtp_logger.run.workers import fork_workers_parent
    if host:
        obj.settings.host = host
    if port:
        obj.settings.port = port
    refuse(start_problems(obj.settings) + listen_problems(obj.settings))
    # Before any database engine, thread or socket: the workers' parent shares our pages.
    forks = fork_workers_parent(obj.settings)
    if demo:
        _print_demo(obj)
    obj.prepare()
    companions = Companions(obj.settings)  # webhook deliverer, and the API when api_port is set
    try:
        asyncio.run(App(obj.settings, forks=forks).serve_forever())
    finally:
        companions.stop()


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
  (or: .venv/bin/python -m smtp_logger.cli.demo_send)
Then: .venv/bin/smtp-logger timeline customer@acme.example --json
""")


@main.group()
def db():
    """Database schema."""


@db.command("upgrade")
@pass_ctx
def db_upgrade(obj: Context):
    """Apply migrations."""
    settings = obj.settings
    refuse((data_dir_problems(settings) if settings.is_embedded else []) + database_problems(settings))
    try:
        upgrade(obj.settings.db_url)
    except Exception as exc:
        raise UserError(f"migration failed: {str(exc).splitlines()[0]}") from exc
    click.echo("database is up to date")
