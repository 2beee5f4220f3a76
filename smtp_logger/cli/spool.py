"""`spool list|show|retry`: what is waiting in the spool, what was quarantined after its
processing kept failing (PROCESSING_FAILED), and putting it back once the cause is gone. Reads
and moves spool files only; a running server's workers pick retried deliveries up themselves.
"""

from __future__ import annotations

import click

from smtp_logger.cli.base import Context, UserError, emit, main, pass_ctx
from smtp_logger.intake.spool import Spool
from smtp_logger.run.quarantine import NoSuchDelivery, Quarantine


def _quarantine(obj: Context) -> Quarantine:
    return Quarantine(Spool(obj.settings.data_path))


def _public(row: dict) -> dict:
    return {key: value for key, value in row.items() if key != "path"}


@main.group()
def spool():
    """Deliveries acknowledged and not decided yet, and quarantined ones."""


@spool.command("list")
@click.option("--failed", is_flag=True, help="Only quarantined deliveries (spool/failed).")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def spool_list(obj: Context, failed, as_json):
    """Waiting deliveries (or, with --failed, quarantined ones), oldest first."""
    quarantine = _quarantine(obj)
    rows = [_public(row) for row in (quarantine.quarantined() if failed else quarantine.waiting())]
    text = "\n".join(f"{r['id']}  {r['state']:10} {r['size']:>10}  {len(r['recipients'])} rcpt  "
                     f"{r['attempts']} attempts  {r['received_at']}  {r['last_error'] or ''}" for r in rows)
    emit(rows, as_json, text or ("no failed deliveries" if failed else "the spool is empty"))


@spool.command("show")
@click.argument("spool_id")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def spool_show(obj: Context, spool_id, as_json):
    """One delivery: envelope, attempts and its last error with the traceback."""
    try:
        row = _quarantine(obj).show(spool_id)
    except NoSuchDelivery as exc:
        raise UserError(str(exc)) from exc
    error = row["error"] or {}
    lines = [f"{key}: {row[key]}" for key in ("id", "state", "received_at", "size", "mail_from", "recipients",
                                              "message_id", "attempts", "first_failed_at", "last_failed_at",
                                              "quarantined_at")]
    if error:
        lines += [f"error: {error.get('type')}: {error.get('message')}", error.get("traceback", "").rstrip()]
    emit(row, as_json, "\n".join(lines))


@spool.command("retry")
@click.argument("spool_id", required=False)
@click.option("--all", "retry_all", is_flag=True, help="Every quarantined delivery.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def spool_retry(obj: Context, spool_id, retry_all, as_json):
    """Put quarantined deliveries back into the spool (the workers process them again)."""
    if bool(spool_id) == retry_all:
        raise UserError("give a SPOOL_ID or --all")
    quarantine = _quarantine(obj)
    ids = [row["id"] for row in quarantine.quarantined()] if retry_all else [spool_id]
    try:
        for one in ids:
            quarantine.retry(one)
    except NoSuchDelivery as exc:
        raise UserError(str(exc)) from exc
    emit({"retried": ids}, as_json, f"{len(ids)} deliver{'y' if len(ids) == 1 else 'ies'} back in the spool")
