"""Linking a logged email to deals, inside its delivery's write transaction: the deals its
record addresses and subject tags ask for (decide.deals says which are the account's; their
contacts are added to the email's), then the account's `deal_links` policy over the open deals
of the contacts it was logged on; ignored requests are kept for `why`. The same for a message
logged later (retroactively, or released): its record-address ids were kept when it arrived.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.orm import Session

from smtp_logger.decide.deals import Asked, Links, all_links, explicit_links
from smtp_logger.decide.rules import LogPlan
from smtp_logger.store import deals
from smtp_logger.store.models import Account

NOTHING_ASKED = Links((), ())


def explicit(session: Session, account_id: int, address_refs: list[str] | tuple[str, ...],
             tag_refs: tuple[str, ...]) -> Links:
    """The deals a record address and subject tags asked for: the account's, and the ignored."""
    asked = [Asked(ref, "address") for ref in address_refs] + [Asked(ref, "tag") for ref in tag_refs]
    if not asked:
        return NOTHING_ASKED
    return explicit_links(asked, deals.deal_owners(session, [each.ref for each in asked]), account_id)


def widened(session: Session, plan: LogPlan, links: Links) -> LogPlan:
    """The plan with the explicitly linked deals' contacts among the email's contacts."""
    extra = deals.contacts_of_deals(session, [deal_id for deal_id, _ in links.explicit])
    contact_ids = tuple(dict.fromkeys(plan.contact_ids + tuple(extra)))
    return replace(plan, contact_ids=contact_ids) if contact_ids != plan.contact_ids else plan


def write(session: Session, account: Account, engagement_id: int, received_id: int,
          contact_ids: tuple[int, ...], links: Links) -> list[tuple[int, str]]:
    """Link the engagement to the explicit deals and the policy's; note what was ignored."""
    near = [] if account.deal_links == "none" else deals.open_deals_near(session, account.id, list(contact_ids))
    chosen = all_links(links, account.deal_links, account.deal_links_max, near)
    deals.link(session, engagement_id, chosen)
    deals.note_ignored(session, account.id, received_id, links.ignored)
    return chosen
