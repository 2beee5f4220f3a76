"""Retroactive logging: a held message is decided again when what it waits for happens (a new
contact address or name, a logged Message-ID) or when it is released (FLOOD), following the
chain (a message logged now may unblock others). Each retry reads and builds the message before
its write transaction, with the sender verdict stored with it (no new look-up), then decides it
in one transaction of its own (store.lifecycle records the new status).
"""

from __future__ import annotations

from collections import deque

import structlog
from sqlalchemy.orm import Session, sessionmaker

from smtp_logger.run.build import Builder, Built, Message, read_message
from smtp_logger.run.deliver import Deliverer, Unblocked, with_retries
from smtp_logger.run.rawcopies import RawCopies
from smtp_logger.run.senderauth import stored
from smtp_logger.store import accounts, held, received

log = structlog.get_logger("smtp_logger.run.retroactive")


def merged(changes: list[Unblocked]) -> list[Unblocked]:
    """One change per account: a batch looks for unblocked held messages once."""
    by_account: dict[int, Unblocked] = {}
    for change in changes:
        each = by_account.setdefault(change.account_id, Unblocked(change.account_id))
        each.addresses |= change.addresses
        each.names |= change.names
        each.message_ids |= change.message_ids
    return list(by_account.values())


class Retroactive:
    def __init__(self, sessions: sessionmaker[Session], raws: RawCopies, builder: Builder, deliverer: Deliverer):
        self.sessions, self.raws, self.builder, self.deliverer = sessions, raws, builder, deliverer

    def after_commit(self, changes: list[Unblocked], held_ids: list[int]) -> None:
        """After deliveries committed: retry the held messages their changes unblock, and let
        the messages they held check whether what they wait for arrived meanwhile."""
        for change in merged(changes):
            self.retry_held(change)
        for held_id in held_ids:
            self.recheck(held_id)

    def retry_held(self, change: Unblocked) -> int:
        """Retry held messages waiting on what changed; follow the chain. Returns how many logged."""
        queue, logged, seen = deque([change]), 0, set()
        while queue:
            current = queue.popleft()
            with self.sessions() as session:
                waiting = held.waiting_for(session, current.account_id, current.addresses,
                                           current.names, current.message_ids)
            for held_id in waiting:
                if held_id in seen:
                    continue
                seen.add(held_id)
                was_logged, unblocked = self.retry_one(held_id)
                logged += was_logged
                if unblocked:  # a logged message may unblock others in turn
                    queue.append(unblocked)
        return logged

    def contacts_changed(self, account_id: int, addresses: set[str], names: set[str]) -> int:
        """Called after contacts are created, given an address, or merged."""
        return self.retry_held(Unblocked(account_id, set(addresses), {n.casefold() for n in names if n}))

    def release(self, received_ids: list[int]) -> int:
        """Decide these held messages again as the rules now would (`smtp-logger held release`:
        FLOOD is counted on arrival only, so they are logged unless another reason applies);
        what a logged one unblocks is retried in turn. Returns how many were logged."""
        logged = 0
        for received_id in received_ids:
            was_logged, unblocked = self.retry_one(received_id)
            logged += was_logged
            if unblocked:
                logged += self.retry_held(unblocked)
        return logged

    def recheck(self, received_id: int) -> None:
        """A message just held may wait for something another worker committed meanwhile."""
        with self.sessions() as session:
            if not held.waits_satisfied(session, received_id):
                return
        _, unblocked = self.retry_one(received_id)
        if unblocked:
            self.retry_held(unblocked)

    def retry_one(self, received_id: int) -> tuple[bool, Unblocked | None]:
        """Decide a held message again: (was it logged now, what that unblocks)."""
        message, built = self._read(received_id)
        if message is None:
            return False, None
        try:
            if built is not None:
                self.builder.save_attachments([built])
            return with_retries(self.sessions, lambda s, _first: self._redecide(s, received_id, message, built))
        finally:
            message.remove_work_files()

    def _read(self, received_id: int) -> tuple[Message | None, Built | None]:
        """A held message read and built before its write transaction; (None, None) if it is
        no longer held."""
        with self.sessions() as session:
            row = received.held_message(session, received_id)
            if row is None:
                return None, None
            try:
                message = read_message(self.raws, row.raw_sha256, row.received_at, f"held{row.id}", stored(row))
            except FileNotFoundError:  # kept on another host's local blob store: it stays held
                log.warning("held_raw_copy_not_found", received_message=row.id)
                return None, None
            if message.parsed is None:
                return message, None
            try:
                return message, self.builder.build(session, accounts.loaded_account(session, row.account_id),
                                                   row.user_id, row.address_kind, message)
            except Exception:
                message.remove_work_files()
                raise

    def _redecide(self, session: Session, received_id: int, message: Message,
                  built: Built | None) -> tuple[bool, Unblocked | None]:
        row = received.held_message(session, received_id)
        if row is None:  # decided meanwhile by another worker
            return False, None
        previous = row.reason
        unblocked = self.deliverer.redecide(session, row, message, built)
        if row.reason != previous or unblocked:
            log.info("held_retried", received_message=row.id, before=previous, after=row.reason)
        return row.status == "logged", unblocked
