"""Deals over real SMTP (issue 17), on SQLite and PostgreSQL: which deals a logged email is
linked to under each `deal_links` policy (zero, one and several open deals; several contacts on
one email; a company's deal; the most recently updated first), the record address
`<token>+deal-<id>@…` and the subject tag `[deal:<id>]` (own deal: linked whatever the policy,
its contacts too; another account's or an unknown one: ignored, the email still logged, `why`
says so; retroactive logging links the same way), and the forwarder's `Contact:` override."""

from __future__ import annotations

import pytest

from .mailers import message, msgid, send

ALICE = "alice@ours.example"


def record(address: str, deal_id: int) -> str:
    token, domain = address.split("@")
    return f"{token}+deal-{deal_id}@{domain}"


def crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


@pytest.fixture
def alice(receiver):
    return receiver.add_user(ALICE)


def deal(rx, name: str, *contacts: str, company: str | None = None, account: int | None = None) -> int:
    args = ["deals", "add", name, *[x for c in contacts for x in ("--contact", c)]]
    args += ["--company", company] if company else []
    args += ["--account", str(account)] if account else []
    return rx.cli.json(*args)["id"]


def bcc(rx, user: dict, to: list[str], subject: str, rcpt: str | None = None, cc: list[str] | None = None) -> str:
    m = message(ALICE, to, subject=subject, cc=cc)
    assert send(rx.port, m, [rcpt or user["bcc_address"]], mail_from=ALICE) == {}
    return msgid(m)


def deals_on(rx, contact: str, subject: str) -> list[tuple[int, str]]:
    [engagement] = [e for e in rx.cli.json("timeline", contact) if e["subject"] == subject]
    return [(d["id"], d["linked_by"]) for d in engagement["deals"]]


# -- the policy ----------------------------------------------------------------------------------

@pytest.mark.parametrize("policy", ["none", "only_one", "recent"])
def test_each_policy_with_zero_one_and_several_open_deals(receiver, alice, policy):
    rx = receiver
    for n in range(10):
        rx.cli("contacts", "add", f"c{n}@acme{n}.example")
    rx.cli("account", "set", "--deal-links", policy, "--deal-links-max", "2")
    won = deal(rx, "Closed", "c0@acme0.example")
    rx.cli("deals", "set-stage", str(won), "won")                       # c0: no open deal
    one = deal(rx, "Only", "c1@acme1.example")                          # c1: one
    two_a, two_b = deal(rx, "A", "c2@acme2.example"), deal(rx, "B", "c2@acme2.example")  # c2: two
    of_c3, of_c4 = deal(rx, "C3", "c3@acme3.example"), deal(rx, "C4", "c4@acme4.example")  # one each
    shared = deal(rx, "Shared", "c5@acme5.example", "c6@acme6.example")  # one between them
    oldest, middle, newest = (deal(rx, n, "c7@acme7.example") for n in ("old", "mid", "new"))
    rx.cli("deals", "set-stage", str(oldest), "won")
    rx.cli("deals", "set-stage", str(oldest), "open")                   # now the most recently updated
    of_company = deal(rx, "Acme8 deal", "c9@acme9.example", company="acme8.example")  # c8's company only
    subjects = {}
    for case, to in [("zero", ["c0@acme0.example"]), ("one", ["c1@acme1.example"]), ("two", ["c2@acme2.example"]),
                     ("apart", ["c3@acme3.example", "c4@acme4.example"]),
                     ("shared", ["c5@acme5.example", "c6@acme6.example"]), ("three", ["c7@acme7.example"]),
                     ("company", ["c8@acme8.example"])]:
        subjects[case] = f"{policy} {case}"
        bcc(rx, alice, to, subjects[case])
    rx.drain()
    got = {case: sorted(d for d, _ in deals_on(rx, to, subjects[case])) for case, to in [
        ("zero", "c0@acme0.example"), ("one", "c1@acme1.example"), ("two", "c2@acme2.example"),
        ("apart", "c3@acme3.example"), ("shared", "c6@acme6.example"), ("three", "c7@acme7.example"),
        ("company", "c8@acme8.example")]}
    expected = {
        "none": dict(zero=[], one=[], two=[], apart=[], shared=[], three=[], company=[]),
        "only_one": dict(zero=[], one=[one], two=[], apart=[], shared=[shared], three=[], company=[]),
        "recent": dict(zero=[], one=[one], two=sorted([two_a, two_b]), apart=sorted([of_c3, of_c4]),
                       shared=[shared], three=sorted([oldest, newest]), company=[of_company]),
    }[policy]
    assert got == expected
    [engagement] = rx.cli.json("timeline", "c1@acme1.example")
    assert engagement["deals"] == ([] if policy == "none" else [{"id": one, "name": "Only", "linked_by": "policy"}])
    [decision] = rx.cli.json("why", engagement["message_id"])
    assert decision["deals"] == engagement["deals"] and decision["deal_ignored"] == []


def test_the_default_policy_is_only_one(receiver, alice):
    rx = receiver
    assert rx.cli.json("account", "show")["deal_links"] == "only_one"
    assert rx.cli.json("account", "show")["deal_links_max"] == 5
    rx.cli("contacts", "add", "bob@acme.example")
    only = deal(rx, "Bob's deal", "bob@acme.example")
    bcc(rx, alice, ["bob@acme.example"], "Hello Bob")
    rx.drain()
    assert deals_on(rx, "bob@acme.example", "Hello Bob") == [(only, "policy")]


# -- record addresses and subject tags -----------------------------------------------------------

class OneAccount:
    """The command line with `--account ID` on every command (there are two accounts)."""

    def __init__(self, cli, account: int):
        self.cli, self.account = cli, account

    def __call__(self, *args: str, expect: int = 0):
        return self.cli(*args, "--account", str(self.account), expect=expect)

    def json(self, *args: str):
        return self.cli.json(*args, "--account", str(self.account))


@pytest.fixture
def two_accounts(receiver, alice):
    rx = receiver
    rx.cli("contacts", "add", "bob@acme.example")
    rx.cli("contacts", "add", "carol@acme.example")
    mine = deal(rx, "Our deal", "carol@acme.example")
    theirs = rx.cli.json("accounts", "add", "Theirs")["id"]
    rx.cli("users", "add", "zoe@theirs.example", "--account", str(theirs))
    rx.cli("contacts", "add", "bob@acme.example", "--account", str(theirs))
    foreign = deal(rx, "Their deal", "bob@acme.example", account=theirs)
    rx.all_accounts_cli, rx.cli = rx.cli, OneAccount(rx.cli, 1)
    rx.cli("account", "set", "--deal-links", "none")
    return rx, mine, foreign


def test_a_record_address_and_a_tag_link_our_own_deal_whatever_the_policy(two_accounts, alice):
    rx, mine, _ = two_accounts
    by_address = bcc(rx, alice, ["bob@acme.example"], "Via the address", rcpt=record(alice["bcc_address"], mine))
    by_tag = bcc(rx, alice, ["bob@acme.example"], f"Quote [deal:{mine}] for 2027")
    rx.drain()
    assert deals_on(rx, "bob@acme.example", "Via the address") == [(mine, "address")]
    assert deals_on(rx, "bob@acme.example", f"Quote [deal:{mine}] for 2027") == [(mine, "tag")]  # subject kept
    # the deal's contact is on the email too
    assert {e["subject"] for e in rx.cli.json("timeline", "carol@acme.example")} == {
        "Via the address", f"Quote [deal:{mine}] for 2027"}
    for mid, by in ((by_address, "address"), (by_tag, "tag")):
        [decision] = rx.cli.json("why", mid)
        assert decision["logged"] and decision["deals"] == [{"id": mine, "name": "Our deal", "linked_by": by}]
        assert decision["deal_ignored"] == []
    # the record address is its user's: the decision names the plain logging address
    assert decision["logging_address"] == alice["bcc_address"]
    # a closed deal named explicitly is still linked
    rx.cli("deals", "set-stage", str(mine), "lost")
    bcc(rx, alice, ["bob@acme.example"], f"[DEAL:{mine}] after the loss")
    rx.drain()
    assert deals_on(rx, "bob@acme.example", f"[DEAL:{mine}] after the loss") == [(mine, "tag")]


def test_another_accounts_deal_or_an_unknown_one_is_ignored_and_why_says_so(two_accounts, alice):
    rx, mine, foreign = two_accounts
    rx.cli("account", "set", "--deal-links", "only_one")
    by_address = bcc(rx, alice, ["bob@acme.example"], "Foreign address", rcpt=record(alice["bcc_address"], foreign))
    by_tag = bcc(rx, alice, ["bob@acme.example"], f"Foreign tag [deal:{foreign}] and [deal:999999]")
    rx.drain()
    assert deals_on(rx, "bob@acme.example", "Foreign address") == []  # logged, on no deal (Bob has none here)
    assert deals_on(rx, "bob@acme.example", f"Foreign tag [deal:{foreign}] and [deal:999999]") == []
    [decision] = rx.cli.json("why", by_address)
    assert decision["logged"] and decision["deal_ignored"] == [
        {"id": foreign, "via": "address", "reason": "other_account"}]
    [decision] = rx.cli.json("why", by_tag)
    assert decision["deal_ignored"] == [{"id": foreign, "via": "tag", "reason": "other_account"},
                                        {"id": 999999, "via": "tag", "reason": "not_found"}]
    text = rx.cli("why", by_tag).stdout
    assert f"deal {foreign} ignored" in text and "another account" in text and "deal 999999 ignored" in text
    # the other account's deal got nothing
    assert rx.all_accounts_cli.json("timeline", "bob@acme.example", "--account", "2") == []


def test_an_unknown_record_address_suffix_is_refused_at_rcpt(receiver, alice):
    m = message(ALICE, "bob@acme.example", subject="x")
    token, domain = alice["bcc_address"].split("@")
    refused = send(receiver.port, m, [f"{token}+deal-5@{domain}", f"{token}+other@{domain}"], mail_from=ALICE)
    assert list(refused) == [f"{token}+other@{domain}"] and refused[f"{token}+other@{domain}"][0] == 550


def test_a_held_message_on_a_record_address_links_its_deal_when_logged_later(two_accounts, alice):
    rx, mine, _ = two_accounts
    rx.cli("account", "set", "--log-all-from-contacts")
    stranger = message("Dan <dan@acme.example>", ALICE, subject="Question about the offer")
    assert send(rx.port, stranger, [record(alice["forward_address"], mine)], mail_from="dan@acme.example") == {}
    rx.drain()
    assert [h["reason"] for h in rx.cli.json("held", "list")] == ["SENDER_NOT_CONTACT"]
    rx.cli("contacts", "add", "dan@acme.example")  # logged retroactively
    assert deals_on(rx, "dan@acme.example", "Question about the offer") == [(mine, "address")]
    assert "Question about the offer" in {e["subject"] for e in rx.cli.json("timeline", "carol@acme.example")}
    why = rx.cli.json("why", msgid(stranger))
    assert [d["reason"] for d in why] == ["SENDER_NOT_CONTACT", "LOGGED"]
    assert why[0]["deals"] == [] and why[1]["deals"] == [{"id": mine, "name": "Our deal", "linked_by": "address"}]


def test_threading_ignores_the_tag(two_accounts, alice):
    rx, mine, _ = two_accounts
    bcc(rx, alice, ["bob@acme.example"], f"[deal:{mine}] Quote for 2027")
    rx.drain()
    forward = crlf(f"From: Alice <{ALICE}>\nTo: {ALICE}\nSubject: Fwd: Re: Quote for 2027\n"
                   "Date: Tue, 24 Nov 2026 09:00:00 +0100\nMessage-ID: <fwd-thread@ours.example>\n"
                   "Content-Type: text/plain; charset=utf-8\n\nFYI\n\n---------- Forwarded message ---------\n"
                   "From: Bob <bob@acme.example>\nDate: Mon, Nov 23, 2026 at 11:16 AM\n"
                   f"Subject: Re: Quote for 2027\nTo: Alice <{ALICE}>\n\nLooks good.\n")
    send(rx.port, forward, [alice["forward_address"]], mail_from=ALICE)
    rx.drain()
    timeline = rx.cli.json("timeline", "bob@acme.example")
    assert [e["subject"] for e in timeline] == ["Re: Quote for 2027", f"[deal:{mine}] Quote for 2027"]
    assert timeline[0]["thread_id"] == timeline[1]["thread_id"]


# -- the forwarder's override --------------------------------------------------------------------

def inline_forward(note: str, original_from: str, body: str, n: int) -> bytes:
    return crlf(f"From: Alice Seller <{ALICE}>\nTo: {ALICE}\nSubject: Fwd: Delivery dates\n"
                f"Date: Tue, 24 Nov 2026 09:00:00 +0100\nMessage-ID: <fwd-{n}@ours.example>\n"
                f"Content-Type: text/plain; charset=utf-8\n\n{note}\n\n---------- Forwarded message ---------\n"
                f"From: {original_from}\nDate: Mon, Nov 23, 2026 at 10:16 AM\nSubject: Delivery dates\n"
                f"To: Alice <{ALICE}>\n\n{body}\n")


@pytest.mark.parametrize("line", ["Contact: Carol Buyer <carol@acme.example>", "contact: carol@acme.example",
                                  "Contactpersoon: Carol Buyer <carol@acme.example>"])
def test_the_forwarders_contact_line_logs_on_that_contact(receiver, alice, line):
    rx = receiver
    rx.cli("contacts", "add", "carol@acme.example", "--name", "Carol Buyer")
    send(rx.port, inline_forward(f"{line}\nShe asked me to log this.", "Dave Driver <dave@carrier.example>",
                                 "Trucks leave Monday.", 1), [alice["forward_address"]], mail_from=ALICE)
    rx.drain()
    [engagement] = rx.cli.json("timeline", "carol@acme.example")
    assert engagement["direction"] == "incoming" and engagement["from"] == "dave@carrier.example"
    assert engagement["contacts"] == ["carol@acme.example"] and engagement["body_text"] == "Trucks leave Monday."
    assert "Contact" not in engagement["body_text"]
    rx.cli("contacts", "show", "dave@carrier.example", expect=1)  # the original sender stays a participant only


def test_a_named_contact_who_is_new_is_created_when_the_account_creates_contacts(receiver, alice):
    rx = receiver
    send(rx.port, inline_forward("Contactpersoon: Erik <erik@klant.example>", "Dave <dave@carrier.example>",
                                 "Trucks leave Monday.", 2), [alice["forward_address"]], mail_from=ALICE)
    rx.drain()
    [engagement] = rx.cli.json("timeline", "erik@klant.example")
    assert engagement["from"] == "dave@carrier.example"
    assert rx.cli.json("contacts", "show", "erik@klant.example")["name"] == "Erik"
    rx.cli("account", "set", "--no-create-contacts")
    send(rx.port, inline_forward("Contact: frank@klant.example", "Dave <dave@carrier.example>",
                                 "Second load.", 3), [alice["forward_address"]], mail_from=ALICE)
    rx.drain()
    [decision] = rx.cli.json("why", "fwd-3@ours.example")
    assert decision["reason"] == "NO_EXTERNAL_RECIPIENTS"  # as for any non-contact with creation off
    rx.cli("contacts", "show", "frank@klant.example", expect=1)


def test_a_contact_line_inside_the_forwarded_text_does_not_count(receiver, alice):
    rx = receiver
    rx.cli("contacts", "add", "carol@acme.example")
    send(rx.port, inline_forward("FYI, please log.", "Dave <dave@carrier.example>",
                                 "Contact: Carol <carol@acme.example>\nTrucks leave Monday.", 4),
         [alice["forward_address"]], mail_from=ALICE)
    rx.drain()
    [engagement] = rx.cli.json("timeline", "dave@carrier.example")  # the original sender, as always
    assert engagement["contacts"] == ["dave@carrier.example"]
    assert rx.cli.json("timeline", "carol@acme.example") == []


def test_the_override_works_for_a_forward_as_attachment_too(receiver, alice):
    rx = receiver
    rx.cli("contacts", "add", "carol@acme.example")
    inner = ("From: Dave <dave@carrier.example>\nTo: Alice <alice@ours.example>\nSubject: Loads\n"
             "Date: Mon, 23 Nov 2026 10:16:00 +0000\nMessage-ID: <loads@carrier.example>\n\n"
             "Contact: Mallory <mallory@evil.example>\nTwo loads.\n")
    raw = crlf(f"From: Alice <{ALICE}>\nTo: {ALICE}\nSubject: Fwd: Loads\nDate: Tue, 24 Nov 2026 09:00:00 +0100\n"
               'Message-ID: <fwd-5@ours.example>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="f"\n\n'
               "--f\nContent-Type: text/plain\n\nContact: carol@acme.example\n\n"
               f"--f\nContent-Type: message/rfc822\n\n{inner}\n--f--\n")
    send(rx.port, raw, [alice["forward_address"]], mail_from=ALICE)
    rx.drain()
    [engagement] = rx.cli.json("timeline", "carol@acme.example")
    assert engagement["from"] == "dave@carrier.example" and engagement["message_id"] == "loads@carrier.example"
    rx.cli("contacts", "show", "mallory@evil.example", expect=1)


# -- merges and purges keep deals consistent -----------------------------------------------------

def test_a_merge_moves_deals_and_a_purge_removes_the_links(receiver, alice):
    rx = receiver
    rx.cli("contacts", "add", "bob@acme.example")
    rx.cli("contacts", "add", "robert@acme.example")
    both = deal(rx, "Both", "bob@acme.example", "robert@acme.example")
    robert_only = deal(rx, "Robert's", "robert@acme.example")
    rx.cli("contacts", "merge", "bob@acme.example", "robert@acme.example")
    assert [d["id"] for d in rx.cli.json("deals", "list", "--contact", "bob@acme.example")] == [both, robert_only]
    assert rx.cli.json("deals", "list")[0]["contacts"] == ["bob@acme.example"]
    bcc(rx, alice, ["bob@acme.example"], f"[deal:{both}] Terms")
    rx.drain()
    assert deals_on(rx, "bob@acme.example", f"[deal:{both}] Terms") == [(both, "tag")]
    rx.cli("never-log", "purge", "acme.example", "--yes")
    assert rx.cli.json("timeline", "bob@acme.example") == []
    assert [d["id"] for d in rx.cli.json("deals", "list")] == [both, robert_only]  # the deals stay
