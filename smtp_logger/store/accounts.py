"""Accounts, users, aliases, teams and logging addresses (tokens >= 128 bits, rotation).

SQL only; callers own the transaction (a Session) unless a function says otherwise.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import Boolean, or_, select, text
from sqlalchemy.orm import Session

from smtp_logger.store.directory import bump
from smtp_logger.store.models import Account, LoggingAddress, TeamAddress, TeamMember, User, UserAlias, UTCDateTime


class NotFound(LookupError):
    pass


class Conflict(ValueError):
    pass


def new_token() -> str:
    """160 random bits, lower-case base32: safe in a local part, case-insensitive."""
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=").lower()


# Set in a session's info when it issued or retired logging addresses.
ADDRESSES_CHANGED = "logging_addresses_changed"


@dataclass(frozen=True)
class LiveAddress:
    account_id: int
    user_id: int
    kind: str
    address: str


def default_account(session: Session) -> Account:
    account = session.scalars(select(Account).order_by(Account.id).limit(1)).first()
    if account is None:
        account = Account(name="Default account")
        session.add(account)
        session.flush()
    return account


def loaded_account(session: Session, account_id: int) -> Account:
    """The account row, loaded once per session: the identity map holds objects only weakly,
    so without this every delivery of a batch would load it again."""
    loaded = session.info.setdefault("accounts", {})
    if account_id not in loaded:
        loaded[account_id] = session.get(Account, account_id)
    return loaded[account_id]


def find_user(session: Session, account_id: int, email: str) -> User:
    user = session.scalars(select(User).where(User.account_id == account_id, User.email == email)).first()
    if user is None:
        raise NotFound(f"no user {email}")
    return user


def users_of(session: Session, account_id: int) -> list[User]:
    return list(session.scalars(select(User).where(User.account_id == account_id).order_by(User.id)))


def add_user(session: Session, account_id: int, email: str, name: str | None,
             aliases: list[str], settings) -> User:
    if session.scalars(select(User).where(User.account_id == account_id, User.email == email)).first():
        raise Conflict(f"user {email} already exists")
    aliases = list(dict.fromkeys(aliases))  # the same alias twice is one alias
    if taken := session.scalars(select(UserAlias.address).where(
            UserAlias.account_id == account_id, UserAlias.address.in_(aliases))).first():
        raise Conflict(f"alias {taken} is already another user's")
    user = User(account_id=account_id, email=email, name=name)
    session.add(user)
    session.flush()
    for alias in aliases:
        session.add(UserAlias(account_id=account_id, user_id=user.id, address=alias, verified=True))
    issue_addresses(session, user, settings)
    return user


def issue_addresses(session: Session, user: User, settings) -> None:
    bump(session, user.account_id)
    session.info[ADDRESSES_CHANGED] = True  # after the commit, receivers are told (cli/base.py)
    for kind, domain in (("bcc", settings.bcc_domain), ("forward", settings.forward_domain)):
        session.add(LoggingAddress(account_id=user.account_id, user_id=user.id, kind=kind,
                                   address=f"{new_token()}@{domain}".lower(), active=True))
    session.flush()


def rotate(session: Session, user: User, settings) -> None:
    """New tokens for both addresses; the old ones stop (after the grace period, if any)."""
    now = datetime.now(timezone.utc)
    grace = timedelta(hours=settings.rotation_grace_hours)
    for old in session.scalars(select(LoggingAddress).where(
            LoggingAddress.user_id == user.id, LoggingAddress.active.is_(True),
            LoggingAddress.valid_until.is_(None))):
        if grace:
            old.valid_until = now + grace
        else:
            old.active = False
    issue_addresses(session, user, settings)


def current_addresses(session: Session, user: User) -> dict[str, str]:
    rows = session.scalars(select(LoggingAddress).where(
        LoggingAddress.user_id == user.id, LoggingAddress.active.is_(True),
        LoggingAddress.valid_until.is_(None)).order_by(LoggingAddress.id))
    return {row.kind: row.address for row in rows}


# The RCPT TO check runs for every recipient, on the event loop for SQLite: plain SQL with
# typed result columns costs a third of the equivalent select() (no per-call compilation).
_LIVE_SQL = text("SELECT active, valid_until FROM logging_addresses WHERE address = :address"
                 ).columns(active=Boolean(), valid_until=UTCDateTime())


def is_live(connection, address: str, at: datetime | None = None) -> bool:
    """The RCPT TO check on a bare connection (no ORM session: it runs for every recipient)."""
    row = connection.execute(_LIVE_SQL, {"address": address}).first()
    if row is None or not row.active:
        return False
    return row.valid_until is None or row.valid_until >= (at or datetime.now(timezone.utc))


def live_addresses(connection, at: datetime | None = None) -> dict[str, datetime | None]:
    """Every live logging address, with the end of its grace period if it has one (the
    intake's own copy, refreshed every few seconds: run/addresses.py)."""
    at = at or datetime.now(timezone.utc)
    rows = connection.execute(select(LoggingAddress.address, LoggingAddress.valid_until).where(
        LoggingAddress.active.is_(True),
        or_(LoggingAddress.valid_until.is_(None), LoggingAddress.valid_until >= at)))
    return {address: until for address, until in rows}


def any_address(session: Session, address: str) -> LiveAddress | None:
    """A logging address, live or not: mail accepted while it was live is still processed."""
    row = session.scalars(select(LoggingAddress).where(LoggingAddress.address == address)).first()
    return LiveAddress(row.account_id, row.user_id, row.kind, row.address) if row else None


def user_addresses(session: Session, user: User) -> frozenset[str]:
    aliases = session.scalars(select(UserAlias.address).where(
        UserAlias.user_id == user.id, UserAlias.verified.is_(True)))
    return frozenset([user.email, *aliases])


def add_team(session: Session, account_id: int, address: str, name: str | None,
             members: list[User]) -> TeamAddress:
    team = session.scalars(select(TeamAddress).where(
        TeamAddress.account_id == account_id, TeamAddress.address == address)).first()
    if team is None:
        team = TeamAddress(account_id=account_id, address=address, name=name)
        session.add(team)
        session.flush()
    bump(session, account_id)
    for user in members:
        if session.get(TeamMember, (team.id, user.id)) is None:
            session.add(TeamMember(team_id=team.id, user_id=user.id))
    session.flush()
    return team


def add_alias(session: Session, user: User, alias: str) -> None:
    exists = session.scalars(select(UserAlias).where(
        UserAlias.account_id == user.account_id, UserAlias.address == alias)).first()
    if exists or alias == user.email:
        raise Conflict(f"{alias} is already a user's address")
    session.add(UserAlias(account_id=user.account_id, user_id=user.id, address=alias, verified=True))
    bump(session, user.account_id)
    session.flush()


def change_primary(session: Session, user: User, new_email: str) -> None:
    """A user's new primary address; the old one stays as an alias so old threads continue."""
    clash = session.scalars(select(User).where(User.account_id == user.account_id,
                                               or_(User.email == new_email))).first()
    if clash is not None:
        raise Conflict(f"{new_email} is already a user")
    old = user.email
    bump(session, user.account_id)
    user.email = new_email
    alias = session.scalars(select(UserAlias).where(UserAlias.account_id == user.account_id,
                                                    UserAlias.address == new_email)).first()
    if alias is not None:
        session.delete(alias)
    session.flush()
    session.add(UserAlias(account_id=user.account_id, user_id=user.id, address=old, verified=True))
    session.flush()


# -- accounts (tenants) ---------------------------------------------------------------------

def add_account(session: Session, name: str) -> Account:
    account = Account(name=name)
    session.add(account)
    session.flush()
    return account


def all_accounts(session: Session) -> list[Account]:
    return list(session.scalars(select(Account).order_by(Account.id)))


def get_account(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"no account {account_id}; {_choices(session)}")
    return account


def only_account(session: Session) -> Account:
    """The account when there is one (created on first use, as before); several: an error
    naming them, so a command never picks one at random."""
    found = session.scalars(select(Account).order_by(Account.id).limit(2)).all()
    if len(found) > 1:
        raise Conflict(f"there are several accounts; pass --account ID ({_choices(session)})")
    return found[0] if found else default_account(session)


def _choices(session: Session) -> str:
    return "accounts: " + ", ".join(f"{a.id} ({a.name})" for a in all_accounts(session))


def set_options(account: Account, name: str | None = None, create_contacts: bool | None = None,
                log_all_from_contacts: bool | None = None, language: str | None = None,
                deal_links: str | None = None, deal_links_max: int | None = None) -> Account:
    """Change the account's settings (None leaves one as it is)."""
    if deal_links is not None:
        account.deal_links = deal_links
    if deal_links_max is not None:
        account.deal_links_max = deal_links_max
    if name is not None:
        account.name = name
    if language is not None:
        account.language = language
    if create_contacts is not None:
        account.create_contacts = create_contacts
    if log_all_from_contacts is not None:
        account.log_all_from_contacts = log_all_from_contacts
    return account
