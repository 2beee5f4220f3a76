"""decide.deals as a table: which deals each `deal_links` policy picks among the open deals near
an email, and how explicit requests (record address, subject tag) are kept or ignored. Pure
functions over plain data; the end-to-end behaviour is in test_deals_e2e.py."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from smtp_logger.decide.deals import Asked, Ignored, OpenDeal, all_links, by_policy, explicit_links

T0 = datetime(2026, 12, 1, tzinfo=timezone.utc)


def near(*deals):
    return [OpenDeal(i, T0 + timedelta(hours=h), by_contact) for i, h, by_contact in deals]


@pytest.mark.parametrize("policy,links_max,deals,expected", [
    ("none", 5, [(1, 0, True)], []),
    (None, None, [], []),
    (None, None, [(1, 0, True)], [1]),                             # the default is only_one
    ("only_one", 5, [(1, 0, True), (2, 1, True)], []),
    ("only_one", 5, [(1, 0, True), (1, 0, True)], [1]),            # one deal of two contacts
    ("only_one", 5, [(1, 0, True), (2, 1, False)], [1]),           # a company's deal does not count
    ("only_one", 5, [(2, 1, False)], []),
    ("recent", 2, [(1, 0, True), (2, 5, True), (3, 3, False)], [2, 3]),
    ("recent", None, [(i, i, True) for i in range(1, 8)], [7, 6, 5, 4, 3]),   # the default max is 5
    ("recent", 5, [(1, 0, True), (2, 0, True)], [2, 1]),           # same time: the newer id first
])
def test_policies(policy, links_max, deals, expected):
    assert by_policy(policy, links_max, near(*deals)) == expected


def test_explicit_requests_are_kept_or_ignored_and_come_first():
    asked = [Asked("7", "address"), Asked("8", "tag"), Asked("9", "tag"), Asked("7", "tag"), Asked("8", "tag")]
    links = explicit_links(asked, {"7": 1, "8": 2}, account_id=1)
    assert links.explicit == ((7, "address"),)
    assert links.ignored == (Ignored("8", "tag", "other_account"), Ignored("9", "tag", "not_found"))
    assert all_links(links, "recent", 5, near((3, 0, True), (7, 1, True))) == [(7, "address"), (3, "policy")]
    assert all_links(links, "none", 5, near((3, 0, True))) == [(7, "address")]
