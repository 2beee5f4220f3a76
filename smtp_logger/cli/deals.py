"""Deals: `deals add`, `deals list`, `deals set-stage`. A deal's JSON carries its two record
addresses (`<token>+deal-<id>@…`: mail to them is logged on the deal whatever the policy),
with the owner's tokens (the account's first user's for a deal without an owner)."""

from __future__ import annotations

import click

from smtp_logger.cli.base import Context, UserError, emit, main, pass_ctx, valid_address
from smtp_logger.decide.deals import STAGES
from smtp_logger.store import deals

MAX_NAME = 200


def _deal_text(d: dict) -> str:
    return (f"deal {d['id']}: {d['name']} [{d['stage']}]  contacts: {', '.join(d['contacts']) or '-'}"
            f"  company: {d['company'] or '-'}  owner: {d['owner'] or '-'}\n"
            f"  BCC record address:        {d['bcc_address'] or '-'}\n"
            f"  Forwarding record address: {d['forward_address'] or '-'}")


@main.group("deals")
def deals_group():
    """What salespeople work on; logged emails are linked to them."""


@deals_group.command("add")
@click.argument("name")
@click.option("--contact", "contact_emails", multiple=True, required=True, help="A contact's address (repeatable).")
@click.option("--company", "domain", default=None, help="The company, by its domain.")
@click.option("--owner", "owner_email", default=None, help="The user who owns the deal.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def deals_add(obj: Context, name, contact_emails, domain, owner_email, as_json):
    """Create an open deal of these contacts."""
    name = name.strip()
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise UserError(f"a deal's name is 1 to {MAX_NAME} printable characters")
    addresses = [valid_address(each) for each in contact_emails]
    with obj.session() as session:
        try:
            deal = deals.add_deal(session, obj.account_id(session), name, addresses,
                                  domain.strip().lower() if domain else None,
                                  valid_address(owner_email) if owner_email else None)
        except ValueError as exc:
            raise UserError(str(exc)) from exc
        data = deals.deal_dict(session, deal)
    emit(data, as_json, _deal_text(data))


@deals_group.command("list")
@click.option("--contact", "contact_email", default=None, help="Only this contact's deals.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def deals_list(obj: Context, contact_email, as_json):
    with obj.session() as session:
        found = deals.deals_of(session, obj.account_id(session), valid_address(contact_email) if contact_email else None)
        rows = [deals.deal_dict(session, deal) for deal in found]
    emit(rows, as_json, "\n".join(_deal_text(r) for r in rows) or "no deals")


@deals_group.command("set-stage")
@click.argument("deal_id", type=click.IntRange(min=1))
@click.argument("stage", type=click.Choice(STAGES))
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def deals_set_stage(obj: Context, deal_id, stage, as_json):
    """Move a deal to open, won or lost (only open deals are linked by the policy)."""
    with obj.session() as session:
        data = deals.deal_dict(session, deals.set_stage(session, obj.account_id(session), deal_id, stage))
    emit(data, as_json, _deal_text(data))
