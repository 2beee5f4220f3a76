"""Which deals a logged email is linked to: pure choice over plain data, no I/O.

Asked for explicitly (a record address `<token>+deal-<id>@…`, a subject tag `[deal:<id>]`): that
deal, whatever its stage and whatever the policy, when it is the account's; otherwise the request
is ignored with a reason (`not_found`, `other_account`) and the email is logged without it. Then
the account's `deal_links` policy over the open deals of the email's contacts (and, for `recent`,
of their companies): `none`; `only_one` (exactly one open deal among its contacts: Pipedrive's
rule, the default, since a wrong link is worse than none); `recent` (the `deal_links_max` most
recently updated: HubSpot's).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

POLICIES = ("none", "only_one", "recent")
STAGES = ("open", "won", "lost")
STAGES_OPEN = ("open",)
DEFAULT_POLICY = "only_one"
DEFAULT_MAX = 5
MAX_LINKS_MAX = 100
NOT_FOUND, OTHER_ACCOUNT = "not_found", "other_account"


@dataclass(frozen=True)
class OpenDeal:
    """An open deal near the email: `by_contact` when one of its contacts is on the email,
    else it is only its company's."""

    id: int
    updated_at: datetime
    by_contact: bool


@dataclass(frozen=True)
class Asked:
    """A deal id named by a record address ("address") or a subject tag ("tag")."""

    ref: str
    via: str


@dataclass(frozen=True)
class Ignored:
    ref: str
    via: str
    reason: str  # not_found | other_account


@dataclass(frozen=True)
class Links:
    explicit: tuple[tuple[int, str], ...]  # (deal id, "address" | "tag"), in the order asked
    ignored: tuple[Ignored, ...]


def explicit_links(asked: list[Asked], owner_of: dict[str, int], account_id: int) -> Links:
    """The deals asked for that are this account's; the rest ignored with their reason.
    `owner_of`: each existing deal's account, by the ref as asked."""
    linked: dict[int, str] = {}
    ignored: list[Ignored] = []
    for each in asked:
        owner = owner_of.get(each.ref)
        if owner is None:
            ignored.append(Ignored(each.ref, each.via, NOT_FOUND))
        elif owner != account_id:
            ignored.append(Ignored(each.ref, each.via, OTHER_ACCOUNT))
        else:
            linked.setdefault(int(each.ref), each.via)  # asked twice: the first way counts
    unique = tuple(dict.fromkeys(ignored))
    return Links(tuple(linked.items()), unique)


def by_policy(policy: str | None, links_max: int | None, near: list[OpenDeal]) -> list[int]:
    """The open deals the account's policy links, most recently updated first."""
    policy = policy or DEFAULT_POLICY
    if policy == "only_one":
        of_contacts = {deal.id for deal in near if deal.by_contact}
        return list(of_contacts) if len(of_contacts) == 1 else []
    if policy == "recent":
        newest = sorted({deal.id: deal for deal in near}.values(), key=lambda d: (d.updated_at, d.id), reverse=True)
        return [deal.id for deal in newest[:links_max or DEFAULT_MAX]]
    return []


def all_links(explicit: Links, policy: str | None, links_max: int | None,
              near: list[OpenDeal]) -> list[tuple[int, str]]:
    """Explicit links first, then the policy's (a deal linked once, by the first way)."""
    links = dict(explicit.explicit)
    for deal_id in by_policy(policy, links_max, near):
        links.setdefault(deal_id, "policy")
    return list(links.items())
