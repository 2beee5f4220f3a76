"""The account directory the rules need for every message (users' addresses, teams, every
internal address, never-log entries), cached per process and keyed by the account's
`directory_version`: every store function that changes the directory calls `bump`, so a cached
copy is used only while it is current. SQL only."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from smtp_logger.store.models import Account, LoggingAddress, NeverLog, TeamAddress, TeamMember, User, UserAlias


@dataclass(frozen=True)
class Directory:
    version: int
    internal: frozenset[str]
    user_addresses: dict[int, frozenset[str]]
    user_teams: dict[int, dict[str, int]]
    never_log_account: frozenset[str]
    never_log_user: dict[int, frozenset[str]]

    def addresses_of(self, user_id: int) -> frozenset[str]:
        return self.user_addresses.get(user_id, frozenset())

    def teams_of(self, user_id: int) -> dict[str, int]:
        return self.user_teams.get(user_id, {})

    def never_log_for(self, user_id: int) -> frozenset[str]:
        return self.never_log_account | self.never_log_user.get(user_id, frozenset())


_cache: dict[tuple[str, int], Directory] = {}
_lock = threading.Lock()


def bump(session: Session, account_id: int) -> None:
    session.execute(update(Account).where(Account.id == account_id)
                    .values(directory_version=Account.directory_version + 1))


def _load(session: Session, account_id: int, version: int) -> Directory:
    users = dict(session.execute(select(User.id, User.email).where(User.account_id == account_id)).all())
    addresses: dict[int, set[str]] = {uid: {email} for uid, email in users.items()}
    for uid, alias in session.execute(select(UserAlias.user_id, UserAlias.address).where(
            UserAlias.account_id == account_id, UserAlias.verified.is_(True))):
        addresses.setdefault(uid, set()).add(alias)
    teams: dict[int, dict[str, int]] = {}
    team_addresses = set()
    for team_id, address, uid in session.execute(
            select(TeamAddress.id, TeamAddress.address, TeamMember.user_id)
            .outerjoin(TeamMember, TeamMember.team_id == TeamAddress.id)
            .where(TeamAddress.account_id == account_id)):
        team_addresses.add(address)
        if uid is not None:
            teams.setdefault(uid, {})[address] = team_id
    logging = session.scalars(select(LoggingAddress.address).where(LoggingAddress.account_id == account_id))
    never_account, never_user = set(), {}
    for uid, value in session.execute(select(NeverLog.user_id, NeverLog.value).where(
            NeverLog.account_id == account_id)):
        (never_account if uid is None else never_user.setdefault(uid, set())).add(value)
    internal = set().union(*addresses.values()) if addresses else set()
    return Directory(
        version=version,
        internal=frozenset(internal | team_addresses | set(logging)),
        user_addresses={uid: frozenset(a) for uid, a in addresses.items()},
        user_teams=teams,
        never_log_account=frozenset(never_account),
        never_log_user={uid: frozenset(v) for uid, v in never_user.items()},
    )


def get(session: Session, account: Account) -> Directory:
    """The account's directory as of its current version (one cached copy per process)."""
    key = (str(session.get_bind().url), account.id)
    cached = _cache.get(key)
    if cached is not None and cached.version == account.directory_version:
        return cached
    fresh = _load(session, account.id, account.directory_version)
    with _lock:
        _cache[key] = fresh
    return fresh
