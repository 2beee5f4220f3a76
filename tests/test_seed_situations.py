"""One case per situation of the seed article (../shared/seed/, "Antwoorden op e-mails vastleggen
in CRM"), over real SMTP on SQLite and PostgreSQL.

Each case is a row: a short script of emails (our own, written here) sent the way a salesperson's
mail reaches us (BCC, an automatic copy by a mailbox rule, a manual forward) and of admin commands,
then what `why --json` must say for each email and what `timeline --json` must show, newest first,
with original dates and one thread per conversation.

Not a case: "Antwoorden op e-mail die naar een andere map is gefilterd (alleen IMAP-inboxen)".
We have no inbox connection; a mailbox rule copies mail to the forwarding address whatever folder
it is filed in, so an IMAP subfolder cannot hide a reply from us. (Spam/junk filing is a case.)
"""

from __future__ import annotations

import itertools
import smtplib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from typing import Callable

import pytest

from .mailers import message, msgid, send

ALICE = "alice@ours.example"      # the salesperson
CAROL = "carol@ours.example"      # a colleague, not in the sales team
TEAM = "sales@ours.example"       # the team address (shared mailbox)
BOB = "bob@acme.example"          # an existing contact
CET = timezone(timedelta(hours=1))
FIRST_DATE = datetime(2026, 11, 23, 9, 0, tzinfo=CET)


# -- the world a script runs in ---------------------------------------------------------------

@dataclass
class World:
    rx: object
    users: dict[str, dict]
    sent: dict[str, EmailMessage] = field(default_factory=dict)
    dates: itertools.count = field(default_factory=itertools.count)

    def next_date(self) -> datetime:
        return FIRST_DATE + timedelta(hours=next(self.dates))

    def message_id(self, key: str) -> str:
        return msgid(self.sent[key])

    def deliver(self, msg: EmailMessage, rcpt: str, mail_from: str, refused: bool = False) -> None:
        if refused:
            with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
                send(self.rx.port, msg, [rcpt], mail_from=mail_from)
            assert info.value.recipients[rcpt][0] == 550
            return
        assert send(self.rx.port, msg, [rcpt], mail_from=mail_from) == {}
        self.rx.drain()


Step = Callable[[World], None]


def _compose(world: World, key: str, sender: str, to, subject: str, body: str,
             answers: str | None, cc=None, headers: dict | None = None) -> EmailMessage:
    parent = world.sent.get(answers) if answers else None
    references = None
    if parent is not None:
        references = " ".join(filter(None, [parent["References"], parent["Message-ID"]]))
    msg = message(sender, to, subject=subject, body=body, cc=cc, date=world.next_date(),
                  in_reply_to=parent["Message-ID"] if parent is not None else None,
                  references=references, headers=headers)
    world.sent[key] = msg
    return msg


def bcc(key: str, sender: str, to, subject: str, body: str, answers: str | None = None,
        user: str = ALICE, cc=None) -> Step:
    """The salesperson sends an email with their BCC address added."""
    def run(world: World) -> None:
        msg = _compose(world, key, sender, to, subject, body, answers, cc)
        world.deliver(msg, world.users[user]["bcc_address"], sender)
    return run


def not_bcced(key: str, sender: str, to, subject: str, body: str, answers: str | None = None) -> Step:
    """An email sent without the BCC address (the seed's 'Log' box not ticked): never reaches us."""
    def run(world: World) -> None:
        _compose(world, key, sender, to, subject, body, answers)
    return run


def auto_copy(key: str, sender: str, to, subject: str, body: str, answers: str | None = None,
              user: str = ALICE, cc=None, headers: dict | None = None, refused: bool = False) -> Step:
    """A mailbox rule copies a received email, unchanged, to the user's forwarding address."""
    def run(world: World) -> None:
        msg = world.sent.get(key) or _compose(world, key, sender, to, subject, body, answers, cc, headers)
        world.deliver(msg, world.users[user]["forward_address"], sender, refused=refused)
    return run


def forward(key: str, original: str, user: str = ALICE, note: str = "Ter info, graag loggen.") -> Step:
    """The salesperson forwards an email as an attachment to their forwarding address."""
    def run(world: World) -> None:
        inner = world.sent[original]
        address = world.users[user]["forward_address"]
        wrapper = message(user, address, subject=f"Fwd: {inner['Subject']}", body=note + "\n",
                          date=world.next_date())
        wrapper.add_attachment(inner)
        world.sent[key] = wrapper
        world.deliver(wrapper, address, user)
    return run


def cli(*args: str) -> Step:
    def run(world: World) -> None:
        world.rx.cli(*args)
    return run


# -- the table -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Situation:
    name: str
    seed: str  # the seed article's words for it
    script: tuple[Step, ...]
    why: dict[str, list[str]]  # email key -> reasons of `why`, in order
    timeline: dict[str, list[str] | None]  # contact -> email keys newest first (None: no contact)
    threads: tuple[tuple[str, ...], ...] = ()  # keys that must share one thread


OFFER = ("Offerte kantoormeubilair",
         "Beste Bob,\n\nIn de bijlage vindt u onze offerte voor 40 werkplekken.\n\nMet vriendelijke groet,\nAlice\n")
REPLY = ("Re: Offerte kantoormeubilair",
         "Hallo Alice,\n\nDank voor de offerte. Kunnen we de levering naar maart schuiven?\n\nBob\n")


def offer(**kw) -> Step:
    return bcc("offer", f"Alice Seller <{ALICE}>", f"Bob Buyer <{BOB}>", *OFFER, **kw)


def reply(key: str = "reply", sender: str = f"Bob Buyer <{BOB}>", to: str = ALICE, **kw) -> Step:
    return auto_copy(key, sender, to, *REPLY, answers=kw.pop("answers", "offer"), **kw)


SITUATIONS = [
    Situation(
        "original logged: the contact's reply is logged in the thread",
        "De oorspronkelijke e-mail is verzonden via het CRM ... met het selectievakje Log geselecteerd.",
        (offer(), reply()),
        why={"offer": ["LOGGED"], "reply": ["LOGGED"]},
        timeline={BOB: ["reply", "offer"]},
        threads=(("offer", "reply"),),
    ),
    Situation(
        "reply to an email that was not logged: held, and logged once forwarded",
        "Antwoorden op e-mails die niet eerder zijn gelogd ... kunnen wel naar het CRM worden "
        "doorgestuurd via uw doorstuuradres.",
        (not_bcced("offer", ALICE, BOB, *OFFER), reply(), forward("fwd", "reply")),
        why={"reply": ["NOT_IN_LOGGED_THREAD", "LOGGED", "DUPLICATE"], "fwd": ["LOGGED"]},
        timeline={BOB: ["reply"]},
    ),
    Situation(
        "original went to a never-log address: its replies are not continued",
        "De oorspronkelijke e-mail is niet verzonden naar een e-mailadres of domein dat in uw lijst "
        "Nooit loggen staat.",
        (cli("never-log", "add", "legal@acme.example"),
         bcc("nda", ALICE, "Legal <legal@acme.example>", "Geheimhoudingsverklaring",
             "Beste juristen,\n\nhierbij de getekende NDA.\n\nAlice\n"),
         auto_copy("nda-reply", f"Bob Buyer <{BOB}>", ALICE, "Re: Geheimhoudingsverklaring",
                   "Alice, legal heeft de NDA ontvangen. Bob\n", answers="nda",
                   cc="legal@acme.example")),
        why={"nda": ["NEVER_LOG"], "nda-reply": ["NEVER_LOG"]},
        timeline={BOB: [], "legal@acme.example": None},
    ),
    Situation(
        "inbox disconnected (rotated logging address): the reply is refused at RCPT",
        "De inbox is nog steeds verbonden wanneer het antwoord wordt ontvangen.",
        (offer(), cli("users", "rotate", ALICE), reply(refused=True)),
        why={"offer": ["LOGGED"], "reply": []},
        timeline={BOB: ["offer"]},
    ),
    Situation(
        "reply sent to another user's inbox: not logged for them, logged for the thread's owner",
        "Het antwoord is verzonden naar een inbox die is verbonden met de gebruiker die de thread "
        "oorspronkelijk heeft gestart.",
        (offer(), reply(to=ALICE, cc=CAROL, user=CAROL), reply(to=ALICE, cc=CAROL, user=ALICE)),
        why={"offer": ["LOGGED"], "reply": ["THREAD_OWNED_BY_OTHER_USER", "LOGGED"]},
        timeline={BOB: ["reply", "offer"]},
        threads=(("offer", "reply"),),
    ),
    Situation(
        "reply sender not a contact: held, logged after contacts add-email",
        "De afzender van het antwoord is een bestaand contact in HubSpot.",
        (offer(), reply(sender="Bob Buyer <b.buyer@acme.example>"),
         cli("contacts", "add-email", BOB, "b.buyer@acme.example")),
        why={"offer": ["LOGGED"], "reply": ["SENDER_NOT_CONTACT", "LOGGED"]},
        timeline={BOB: ["reply", "offer"]},
        threads=(("offer", "reply"),),
    ),
    Situation(
        "reply from an alias that is not a contact: forwarded, then the two contacts merged",
        "contacts@domain.com (een bestaand contact), maar het contact antwoordt met "
        "contacts-alias@domain.com ... doorgestuurd ... de twee contactrecords samen te voegen.",
        (cli("contacts", "add", "inkoop@bakkerij-jansen.example", "--name", "Inkoop Jansen"),
         bcc("order", ALICE, "inkoop@bakkerij-jansen.example", "Bestelling broodkratten",
             "Beste inkoper,\n\nuw bestelling van 200 kratten staat klaar.\n\nAlice\n"),
         auto_copy("alias-reply", "Inkoop <inkoop-alias@bakkerij-jansen.example>", ALICE,
                   "Re: Bestelling broodkratten", "Prima, graag dinsdag leveren.\n", answers="order"),
         forward("fwd", "alias-reply"),
         cli("contacts", "merge", "inkoop@bakkerij-jansen.example", "inkoop-alias@bakkerij-jansen.example")),
        why={"order": ["LOGGED"], "alias-reply": ["SENDER_NOT_CONTACT", "LOGGED", "DUPLICATE"]},
        timeline={"inkoop@bakkerij-jansen.example": ["alias-reply", "order"],
                  "inkoop-alias@bakkerij-jansen.example": ["alias-reply", "order"]},
        threads=(("order", "alias-reply"),),
    ),
    Situation(
        "reply in the spam or junk folder: not logged",
        "e-mailantwoorden die naar de map SPAM of JUNK ... worden gestuurd, worden niet ... gelogd.",
        (offer(), reply(headers={"X-Spam-Flag": "YES", "X-Spam-Status": "Yes, score=7.2 required=5.0"})),
        why={"offer": ["LOGGED"], "reply": ["SPAM"]},
        timeline={BOB: ["offer"]},
    ),
    Situation(
        "new email from a non-contact, the BCC'd answer, the next reply: all three in one thread",
        "Inkomende e-mails van niet-contactpersonen ... Als je deze e-mail beantwoordt en ... het "
        "BCC-adres vermeldt ... Latere antwoorden op deze thread zullen worden gelogd.",
        (auto_copy("inquiry", "Nora Nieuw <nora@nieuwklant.example>", ALICE, "Vraag over leasevoorwaarden",
                   "Goedemiddag,\n\nbieden jullie ook lease aan voor 24 maanden?\n\nNora\n"),
         bcc("answer", ALICE, "Nora Nieuw <nora@nieuwklant.example>", "Re: Vraag over leasevoorwaarden",
             "Beste Nora,\n\nja, 24 en 36 maanden. Ik stuur u de voorwaarden.\n\nAlice\n", answers="inquiry"),
         auto_copy("thanks", "Nora Nieuw <nora@nieuwklant.example>", ALICE, "Re: Vraag over leasevoorwaarden",
                   "Dank u, dan graag 24 maanden.\n", answers="answer")),
        why={"inquiry": ["SENDER_NOT_CONTACT", "LOGGED"], "answer": ["LOGGED"], "thanks": ["LOGGED"]},
        timeline={"nora@nieuwklant.example": ["thanks", "answer", "inquiry"]},
        threads=(("inquiry", "answer", "thanks"),),
    ),
    Situation(
        "team-address thread: a member of the team continues it",
        "Als een e-mailthread begint met uw teame-mailadres ... (we do let team members continue, "
        "from the team address or their own)",
        (cli("teams", "add", TEAM, "--member", ALICE),
         bcc("offer", f"Sales <{TEAM}>", BOB, *OFFER),
         reply(to=TEAM),
         bcc("follow-up", ALICE, BOB, "Re: Offerte kantoormeubilair", "Bob, maart is akkoord. Alice\n",
             answers="reply")),
        why={"offer": ["LOGGED"], "reply": ["LOGGED"], "follow-up": ["LOGGED"]},
        timeline={BOB: ["follow-up", "reply", "offer"]},
        threads=(("offer", "reply", "follow-up"),),
    ),
    Situation(
        "team-address thread: a user outside the team does not continue it",
        "Antwoorden op e-mails die zijn verzonden vanaf een e-mailadres van het team.",
        (cli("teams", "add", TEAM, "--member", ALICE),
         bcc("offer", f"Sales <{TEAM}>", BOB, *OFFER),
         reply(to=TEAM, cc=CAROL, user=CAROL)),
        why={"offer": ["LOGGED"], "reply": ["THREAD_OWNED_BY_OTHER_USER"]},
        timeline={BOB: ["offer"]},
    ),
    Situation(
        "changing the user's address: old threads continue",
        "Antwoorden op emails na het veranderen van inbox provider.",
        (offer(),
         cli("users", "set-email", ALICE, "alice@ours-new.example"),
         reply(to=ALICE),
         bcc("follow-up", "alice@ours-new.example", BOB, "Re: Offerte kantoormeubilair",
             "Bob, maart is akkoord. Alice\n", answers="reply")),
        why={"offer": ["LOGGED"], "reply": ["LOGGED"], "follow-up": ["LOGGED"]},
        timeline={BOB: ["follow-up", "reply", "offer"]},
        threads=(("offer", "reply", "follow-up"),),
    ),
]


# -- running a row --------------------------------------------------------------------------------

@pytest.fixture
def world(receiver) -> World:
    users = {ALICE: receiver.add_user(ALICE, "--name", "Alice Seller"),
             CAROL: receiver.add_user(CAROL, "--name", "Carol Colleague")}
    receiver.cli("contacts", "add", BOB, "--name", "Bob Buyer")
    return World(receiver, users)


def assert_decisions(world: World, why: dict[str, list[str]]) -> None:
    for key, expected in why.items():
        decisions = world.rx.cli.json("why", world.message_id(key))
        assert [d["reason"] for d in decisions] == expected, key
        for d in decisions:
            assert d["logged"] is (d["reason"] == "LOGGED") and d["explanation"]
            assert (d["engagement_id"] is not None) is d["logged"]


def assert_timelines(world: World, timelines: dict[str, list[str] | None]) -> dict[str, dict]:
    """Checks each contact's timeline; returns the engagements seen, by email key."""
    by_key = {}
    keys_by_id = {world.message_id(k): k for k in world.sent}
    for contact, expected in timelines.items():
        if expected is None:
            world.rx.cli("timeline", contact, expect=1)  # never became a contact
            continue
        rows = world.rx.cli.json("timeline", contact)
        assert [keys_by_id.get(r["message_id"], r["message_id"]) for r in rows] == expected, contact
        for row in rows:
            key = keys_by_id[row["message_id"]]
            sent = world.sent[key]
            assert row["sent_at"] == datetime.strptime(sent["Date"], "%a, %d %b %Y %H:%M:%S %z").isoformat()
            assert row["subject"] == sent["Subject"]
            by_key[key] = row
    return by_key


@pytest.mark.parametrize("situation", SITUATIONS, ids=[s.name for s in SITUATIONS])
def test_seed_situation(world, situation):
    for step in situation.script:
        step(world)
    assert_decisions(world, situation.why)
    logged = assert_timelines(world, situation.timeline)
    for keys in situation.threads:
        assert len({logged[k]["thread_id"] for k in keys}) == 1, keys
    for key, row in logged.items():
        sender = world.sent[key]["From"].addresses[0].addr_spec
        assert row["direction"] == ("outgoing" if sender.endswith(("@ours.example", "@ours-new.example"))
                                    else "incoming")
        assert row["from"] == sender
