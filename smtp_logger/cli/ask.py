"""What users ask: timelines, why a message was (not) logged, recent decisions, held mail."""

from __future__ import annotations

import click
import structlog

from smtp_logger.cli.base import Context, UserError, emit, main, pass_ctx, valid_address
from smtp_logger.store import accounts, flood, privacy, queries
from smtp_logger.store.blobstore import open_store, refs

log = structlog.get_logger("smtp_logger.cli")

# -- what users ask -------------------------------------------------------------------------

@main.command()
@click.argument("contact_email")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def timeline(obj: Context, contact_email, as_json):
    """A contact's logged emails, newest first."""
    with obj.session() as session:
        rows = queries.timeline(session, obj.account_id(session), valid_address(contact_email))
    text = "\n".join(f"{r['sent_at']}  {r['direction']:8}  {r['subject']}  (thread {r['thread_id']})" for r in rows)
    emit(rows, as_json, text or "no emails logged")


@main.command()
@click.argument("message_id")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def why(obj: Context, message_id, as_json):
    """Every decision taken for a Message-ID."""
    with obj.session() as session:
        rows = queries.why(session, obj.account_id(session), message_id)
    if not rows and not as_json:
        raise UserError(f"no message with Message-ID {message_id} was received")
    text = "\n".join(f"{r['logging_address']}: {r['reason']} - {r['explanation']}" + _deal_lines(r) for r in rows)
    emit(rows, as_json, text)


IGNORED_BECAUSE = {"not_found": "there is no such deal", "other_account": "it belongs to another account"}


def _deal_lines(row: dict) -> str:
    """The deals a decision linked, and the record addresses or tags it ignored, one line each."""
    lines = [f"  linked to deal {d['id']} ({d['name']}) by {d['linked_by']}" for d in row.get("deals", [])]
    lines += [f"  deal {d['id']} ignored ({'record address' if d['via'] == 'address' else 'subject tag'}): "
              f"{IGNORED_BECAUSE.get(d['reason'], d['reason'])}; the email was logged without it"
              for d in row.get("deal_ignored", [])]
    return "".join("\n" + line for line in lines)


@main.command()
@click.option("--limit", type=click.IntRange(1, 1000), default=20)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def recent(obj: Context, limit, as_json):
    """The latest decisions, newest first (Message-IDs to ask `why` about)."""
    with obj.session() as session:
        rows = queries.recent(session, limit, obj.account_id(session))
    text = "\n".join(f"{r['decided_at'][:19]}  {r['reason']:26} <{r['message_id']}>  {r['subject'][:50]}"
                     for r in rows)
    emit(rows, as_json, text or "nothing received yet")


@main.group()
def held():
    """Messages received and not (yet) logged."""


@held.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def held_list(obj: Context, as_json):
    with obj.session() as session:
        rows = queries.held(session, obj.account_id(session))
    text = "\n".join(f"{r['received_at']}  {r['reason']:26} {r['message_id']}" for r in rows)
    emit(rows, as_json, text or "no held messages")


@held.command("purge")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def held_purge(obj: Context, as_json):
    """Expire held messages older than the retention time (held_retention_days) with the raw
    copies nothing else needs, and remove blobs that nothing references and that were not
    written for blob_grace_seconds (store.blobstore.refs)."""
    settings = obj.settings
    blobs = open_store(settings, obj.prepare())
    with obj.session() as session:
        expired = privacy.expire_held(session, settings.held_retention_days, blobs, settings.blob_grace_seconds)
    reclaimed = refs.sweep(obj.prepare(), blobs, settings.blob_grace_seconds)
    log.info("attachment_files_reclaimed", files=reclaimed)
    emit({"expired": expired, "blobs_removed": reclaimed}, as_json,
         f"{expired} held message(s) expired; {reclaimed} unreferenced blob(s) removed")


@held.command("release")
@click.argument("message_id", required=False)
@click.option("--reason", type=click.Choice(["FLOOD"]), default=None,
              help="Release every message held for this reason.")
@click.option("--user", "user_email", default=None, help="Only this user's messages (with --reason).")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def held_release(obj: Context, message_id, reason, user_email, as_json):
    """Log messages held for FLOOD, as the rules would have: one (MESSAGE_ID) or all (--reason FLOOD)."""
    if bool(message_id) == bool(reason):
        raise UserError("give either a MESSAGE_ID or --reason FLOOD")
    if user_email and not reason:
        raise UserError("--user goes with --reason FLOOD")
    with obj.session() as session:
        account_id = obj.account_id(session)
        user_id = accounts.find_user(session, account_id, valid_address(user_email)).id if user_email else None
        mid = message_id.strip().strip("<>") if message_id else None
        ids = flood.held_for_flood(session, account_id, mid, user_id)
    if message_id and not ids:
        raise UserError(f"no message with Message-ID {message_id} is held for FLOOD")
    logged = obj.pipeline().release_held(ids)
    emit({"released": len(ids), "logged": logged}, as_json,
         f"{len(ids)} held message(s) released, {logged} logged")
