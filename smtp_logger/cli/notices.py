"""Notices to users: what was sent or is waiting (`notices list`), who is told how (`notices
set`), and the daily digests made now instead of at notify_digest_hour (`notices digest`; the
running server sends them)."""

from __future__ import annotations

from datetime import datetime, timezone

import click

from smtp_logger.cli.base import Context, UserError, emit, main, pass_ctx, valid_address
from smtp_logger.decide.notices import NOTIFY_MODES
from smtp_logger.store import accounts, outbox
from smtp_logger.store import notices as notice_store


@main.group()
def notices():
    """Mail to users about their mail that was not logged."""


def _user_id(obj: Context, session, email: str | None) -> int | None:
    if email is None:
        return None
    return accounts.find_user(session, obj.account_id(session), valid_address(email)).id


@notices.command("list")
@click.option("--user", "user_email", default=None, help="Only this user's notices.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=200)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def notices_list(obj: Context, user_email, limit, as_json):
    """Notices sent or waiting, newest first: to whom, why, when, status."""
    with obj.session() as session:
        rows = outbox.listing(session, obj.account_id(session), _user_id(obj, session, user_email), limit)
    text = "\n".join(f"{r['created_at'][:19]}  {r['status']:9} {r['mode']:9} {r['reason']:24} {r['to']}  "
                     f"{(r['subject'] or '')[:40]}" + (f"  ({r['last_error'][:60]})" if r["last_error"] else "")
                     for r in rows)
    if not obj.settings.notices_on and not as_json:
        text = (text + "\n" if text else "") + "notices are off: notify_smtp_host is not set"
    emit(rows, as_json, text or "no notices")


@notices.command("set")
@click.argument("mode", type=click.Choice([*NOTIFY_MODES, "default"]))
@click.option("--user", "user_email", default=None, help="For this user only (default: the account).")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def notices_set(obj: Context, mode, user_email, as_json):
    """How a user (or by default the account) is told: off, immediate, daily; `default` clears it."""
    with obj.session() as session:
        account = accounts.default_account(session)
        user = accounts.find_user(session, account.id, valid_address(user_email)) if user_email else None
        notice_store.set_notify(session, account, user, None if mode == "default" else mode)
        data = {"user": user.email if user else None, "notify": user.notify if user else account.notify,
                "effective": notice_store.notify_of(user, account) if user else (account.notify or "immediate")}
    emit(data, as_json, f"{data['user'] or 'account'}: notify {data['effective']}")


@notices.command("digest")
@click.option("--user", "user_email", default=None)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def notices_digest(obj: Context, user_email, as_json):
    """Gather the notices waiting for the daily digest into digests now."""
    if not obj.settings.notices_on:
        raise UserError("notices are off: notify_smtp_host is not set")
    now = datetime.now(timezone.utc)
    with obj.session() as session:
        made = outbox.make_digests(session, now, now, _user_id(obj, session, user_email))
    emit({"digests": made}, as_json, f"{made} digest(s) queued")
