"""The logging rules: a pure function of (what is to be logged, what the CRM knows) -> Decision.

SPEC.md's reason codes are small named checks evaluated in the spec's order of precedence; the
first that returns a reason wins, otherwise the message is logged with a `LogPlan`. No I/O,
no database, no clock: everything the rules need arrives in `Candidate` and `CrmFacts`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from smtp_logger.decide.reasons import HELD_REASONS, LOGGED, OWN_NOTICE
from smtp_logger.understand.addresses import Mailbox, domain_of
from smtp_logger.understand.classify.confirmations import Confirmation, describe


@dataclass(frozen=True)
class Candidate:
    """The email that would be logged: the message itself (BCC, automatic copy) or the
    original found inside a manual forward."""

    delivery: str  # how it came in: "bcc" | "manual_forward" | "auto_copy"
    direction: str  # "outgoing" | "incoming"
    from_: Mailbox | None
    to: tuple[Mailbox, ...]
    cc: tuple[Mailbox, ...]
    subject: str
    sent_at: datetime | None
    thread_keys: tuple[str, ...]  # own Message-ID first, then what it answers
    dedup_key: str
    subject_key: str
    original_found: bool = True
    automatic: tuple[str, str] | None = None  # ("OWN_NOTICE" | "BOUNCE" | "AUTO_REPLY" | "SPAM", why)
    unparseable: bool = False
    confirmation: Confirmation | None = None  # a provider asks to confirm automatic forwarding
    named_contact: Mailbox | None = None  # a forwarder's "Contact:" line: logged on them instead


@dataclass(frozen=True)
class UserFacts:
    id: int
    addresses: frozenset[str]  # primary + verified aliases
    team_ids: frozenset[int] = frozenset()
    team_addresses: dict[str, int] = field(default_factory=dict)  # team address -> team id


@dataclass(frozen=True)
class ThreadFacts:
    id: int
    owner_user_id: int | None
    owner_team_id: int | None
    never_log: bool
    has_engagements: bool = True


@dataclass(frozen=True)
class CrmFacts:
    user: UserFacts
    internal_addresses: frozenset[str]  # every user's addresses, team addresses, logging addresses
    logging_domains: frozenset[str]
    never_log: frozenset[str]  # addresses and domains, account-wide and this user's
    contacts: dict[str, int]  # address -> contact id, for the candidate's participants
    contacts_by_name: dict[str, tuple[int, ...]] = field(default_factory=dict)
    contact_addresses: dict[int, str] = field(default_factory=dict)
    already_logged: bool = False
    thread: ThreadFacts | None = None
    create_contacts: bool = True
    log_all_from_contacts: bool = False
    sender_authenticated: bool | None = None  # None: no check configured
    flood_limit: int = 0  # 0: off
    sender_recent: int = 0  # earlier messages from this From: to this logging address in the window


@dataclass(frozen=True)
class LogPlan:
    direction: str
    contact_ids: tuple[int, ...]
    new_contacts: tuple[Mailbox, ...]
    thread_id: int | None
    owner_user_id: int
    owner_team_id: int | None
    thread_never_log: bool
    from_: Mailbox | None


@dataclass(frozen=True)
class Decision:
    reason: str
    detail: str = ""
    plan: LogPlan | None = None
    waits: tuple[tuple[str, str], ...] = ()  # what a held message waits for

    @property
    def logged(self) -> bool:
        return self.reason == LOGGED

    @property
    def held(self) -> bool:
        return self.reason in HELD_REASONS


Check = Callable[[Candidate, CrmFacts], "Decision | None"]


# -- helpers over plain data -------------------------------------------------------------

def is_never_log(address: str | None, facts: CrmFacts) -> bool:
    return bool(address) and (address in facts.never_log or domain_of(address) in facts.never_log)


def is_internal(address: str | None, facts: CrmFacts) -> bool:
    return (not address or address in facts.user.addresses or address in facts.internal_addresses
            or domain_of(address) in facts.logging_domains)


def sender_address(c: Candidate, facts: CrmFacts) -> str | None:
    """The sender's address; for a name-only sender, the unique contact with that name."""
    if c.from_ is None:
        return None
    if c.from_.address:
        return c.from_.address
    ids = facts.contacts_by_name.get((c.from_.name or "").casefold(), ())
    return facts.contact_addresses.get(ids[0]) if len(ids) == 1 else None


def external_participants(c: Candidate, facts: CrmFacts) -> list[Mailbox]:
    """Everyone outside the account this email involves, sender included for incoming mail."""
    people = list(c.to) + list(c.cc)
    if c.direction == "incoming" and c.from_ is not None:
        people.insert(0, Mailbox(c.from_.name, sender_address(c, facts)))
    seen, result = set(), []
    for box in people:
        if box.address and not is_internal(box.address, facts) and box.address not in seen:
            seen.add(box.address)
            result.append(box)
    return result


def loggable_participants(c: Candidate, facts: CrmFacts) -> list[Mailbox]:
    return [b for b in external_participants(c, facts) if not is_never_log(b.address, facts)]


def overriding_contact(c: Candidate, facts: CrmFacts) -> Mailbox | None:
    """The contact a forwarder named in their note, unless that is someone inside the account."""
    named = c.named_contact
    return named if named is not None and not is_internal(named.address, facts) else None


def _thread_owned_by_user(thread: ThreadFacts, user: UserFacts) -> bool:
    if thread.owner_team_id is not None:
        return thread.owner_team_id in user.team_ids
    return thread.owner_user_id in (None, user.id)


# -- the checks, in SPEC.md's order of precedence -----------------------------------------

def gives(*reasons: str):
    """Declares the reason codes a check may return, in precedence order: CHECKS read in order
    must give reasons.NOT_LOGGED exactly (tests/test_layout.py holds the two together)."""
    def mark(check: Check) -> Check:
        check.reasons = reasons
        return check
    return mark


@gives(OWN_NOTICE)
def own_notice(c: Candidate, facts: CrmFacts) -> Decision | None:
    """Our own notices coming back (understand/classify/notices.py recognises them) are never
    logged, and never answered: they are decided before any reason that could make us write to
    someone, so no loop can start."""
    if c.automatic is not None and c.automatic[0] == OWN_NOTICE:
        return Decision(OWN_NOTICE, c.automatic[1])
    return None


@gives("SENDER_NOT_ALLOWED")
def sender_not_allowed(c: Candidate, facts: CrmFacts) -> Decision | None:
    if c.delivery != "bcc":
        return None
    sender = c.from_.address if c.from_ else None
    if sender in facts.user.addresses or sender in facts.user.team_addresses:
        return None
    return Decision("SENDER_NOT_ALLOWED", f"From {sender or '(none)'} is not one of your addresses")


@gives("AUTH_FAILED")
def auth_failed(c: Candidate, facts: CrmFacts) -> Decision | None:
    if c.delivery in ("bcc", "manual_forward") and facts.sender_authenticated is False:
        return Decision("AUTH_FAILED", "the message claims to come from you but failed sender authentication")
    return None


@gives("FORWARDING_CONFIRMATION")
def forwarding_confirmation(c: Candidate, facts: CrmFacts) -> Decision | None:
    """Not conversation: the user needs its code and link (a notice passes them on)."""
    if c.confirmation is None:
        return None
    return Decision("FORWARDING_CONFIRMATION", describe(c.confirmation))


@gives("FLOOD")
def flood(c: Candidate, facts: CrmFacts) -> Decision | None:
    if facts.flood_limit and facts.sender_recent >= facts.flood_limit:
        return Decision("FLOOD", f"{facts.sender_recent} earlier emails from this sender reached this "
                                 f"address within the flood window (flood_limit {facts.flood_limit})")
    return None


@gives("DUPLICATE")
def duplicate(c: Candidate, facts: CrmFacts) -> Decision | None:
    return Decision("DUPLICATE", "this email is already logged") if facts.already_logged else None


@gives("BOUNCE", "AUTO_REPLY", "SPAM")
def automatic_mail(c: Candidate, facts: CrmFacts) -> Decision | None:
    if c.automatic is None:
        return None
    kind, why = c.automatic
    if kind == "SPAM" and c.delivery != "auto_copy":
        return None  # explicit BCC/forward by the user: their decision, not a filter's
    return Decision(kind, why)


@gives("NEVER_LOG")
def never_log(c: Candidate, facts: CrmFacts) -> Decision | None:
    if c.delivery == "auto_copy" and facts.thread is not None and facts.thread.never_log:
        return Decision("NEVER_LOG", "the thread started with an address on a never-log list")
    if (named := overriding_contact(c, facts)) and is_never_log(named.address, facts):
        return Decision("NEVER_LOG", f"the contact named in your note, {named.address}, is on a never-log list")
    if c.direction == "incoming" and is_never_log(sender_address(c, facts), facts):
        return Decision("NEVER_LOG", f"the sender {sender_address(c, facts)} is on a never-log list")
    externals = external_participants(c, facts)
    if externals and not loggable_participants(c, facts):
        return Decision("NEVER_LOG", "every recipient is on a never-log list")
    return None


@gives("ORIGINAL_NOT_FOUND")
def original_not_found(c: Candidate, facts: CrmFacts) -> Decision | None:
    if c.delivery == "manual_forward" and not c.original_found:
        return Decision("ORIGINAL_NOT_FOUND", "no forwarded message was found in what you forwarded")
    return None


@gives("ORIGINAL_SENDER_UNKNOWN")
def original_sender_unknown(c: Candidate, facts: CrmFacts) -> Decision | None:
    if c.delivery != "manual_forward" or c.from_ is None or c.from_.address:
        return None
    if sender_address(c, facts) or overriding_contact(c, facts):
        return None
    matches = len(facts.contacts_by_name.get((c.from_.name or "").casefold(), ()))
    why = "several contacts have" if matches else "no contact has"
    return Decision("ORIGINAL_SENDER_UNKNOWN",
                    f"the forwarded email shows only the name {c.from_.name!r} and {why} that name",
                    waits=(("name", (c.from_.name or "").casefold()),))


@gives("NO_EXTERNAL_RECIPIENTS")
def no_external_recipients(c: Candidate, facts: CrmFacts) -> Decision | None:
    if c.direction == "incoming" and c.delivery == "manual_forward":
        if sender_address(c, facts) is None and not overriding_contact(c, facts):
            return Decision("NO_EXTERNAL_RECIPIENTS", "the forwarded email has no sender address")
        return None
    if c.direction == "incoming":
        return None
    if not external_participants(c, facts):
        return Decision("NO_EXTERNAL_RECIPIENTS", "nobody outside your company received this email")
    return None


@gives("SENDER_NOT_CONTACT")
def sender_not_contact(c: Candidate, facts: CrmFacts) -> Decision | None:
    if c.delivery != "auto_copy":
        return None
    sender = sender_address(c, facts)
    if sender and sender in facts.contacts:
        return None
    return Decision("SENDER_NOT_CONTACT", f"the sender {sender or '(none)'} is not a contact",
                    waits=(("address", sender),) + _thread_waits(c) if sender else ())


def _thread_waits(c: Candidate) -> tuple[tuple[str, str], ...]:
    """Message-IDs whose logging would put this email in a logged thread: what it answers
    (a late original) and its own (a logged reply to it, e.g. the user's BCC'd answer)."""
    return tuple(("message_id", key) for key in c.thread_keys)


@gives("NOT_IN_LOGGED_THREAD")
def not_in_logged_thread(c: Candidate, facts: CrmFacts) -> Decision | None:
    if c.delivery != "auto_copy":
        return None
    if facts.thread is not None and facts.thread.has_engagements:
        return None
    if facts.log_all_from_contacts:
        return None
    return Decision("NOT_IN_LOGGED_THREAD", "it does not answer an email that was logged",
                    waits=_thread_waits(c))


@gives("THREAD_OWNED_BY_OTHER_USER")
def thread_owned_by_other_user(c: Candidate, facts: CrmFacts) -> Decision | None:
    if c.delivery != "auto_copy" or facts.thread is None or not facts.thread.has_engagements:
        return None
    if _thread_owned_by_user(facts.thread, facts.user):
        return None
    return Decision("THREAD_OWNED_BY_OTHER_USER", "the conversation was started by another user")


@gives("UNPARSEABLE")
def unparseable(c: Candidate, facts: CrmFacts) -> Decision | None:
    return Decision("UNPARSEABLE", "the message could not be read") if c.unparseable else None


CHECKS: tuple[Check, ...] = (
    own_notice,
    sender_not_allowed,
    auth_failed,
    forwarding_confirmation,
    flood,
    duplicate,
    automatic_mail,
    never_log,
    original_not_found,
    original_sender_unknown,
    no_external_recipients,
    sender_not_contact,
    not_in_logged_thread,
    thread_owned_by_other_user,
    unparseable,
)


def plan_logging(c: Candidate, facts: CrmFacts) -> LogPlan:
    people = loggable_participants(c, facts)
    if named := overriding_contact(c, facts):
        people = [named]  # the forwarder's choice; the original's sender stays its From
    if c.delivery == "auto_copy":  # an automatic copy never creates a contact
        people = [p for p in people if p.address in facts.contacts]
    existing = tuple(dict.fromkeys(facts.contacts[p.address] for p in people if p.address in facts.contacts))
    creatable = facts.create_contacts or c.delivery == "manual_forward"
    new = tuple(p for p in people if p.address not in facts.contacts) if creatable else ()
    if c.delivery == "manual_forward" and not facts.create_contacts:
        sender = sender_address(c, facts)
        new = tuple(p for p in new if p.address == sender)  # a forward is an explicit request
    thread = facts.thread
    owner_team = _sender_team(c, facts)
    never = any(is_never_log(b.address, facts) for b in external_participants(c, facts))
    from_ = c.from_
    if from_ is not None and not from_.address:
        from_ = Mailbox(from_.name, sender_address(c, facts))
    return LogPlan(
        direction=c.direction,
        contact_ids=existing,
        new_contacts=new,
        thread_id=thread.id if thread else None,
        owner_user_id=facts.user.id,
        owner_team_id=owner_team,
        thread_never_log=never,
        from_=from_,
    )


def _sender_team(c: Candidate, facts: CrmFacts) -> int | None:
    """The team whose shared address sent this outgoing email, if any."""
    if c.direction == "outgoing" and c.from_ and c.from_.address:
        return facts.user.team_addresses.get(c.from_.address)
    return None


def decide(c: Candidate, facts: CrmFacts) -> Decision:
    for check in CHECKS:
        decision = check(c, facts)
        if decision is not None:
            return decision
    plan = plan_logging(c, facts)
    if not plan.contact_ids and not plan.new_contacts:
        if c.delivery == "auto_copy":
            return Decision("SENDER_NOT_CONTACT", "no participant is a contact")
        return Decision("NO_EXTERNAL_RECIPIENTS", "no recipient could be logged (contact creation is off)")
    return Decision(LOGGED, "", plan)
