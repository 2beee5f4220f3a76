"""RCPT TO's answer: from the intake's copy of the live logging addresses (intake/addresses.py)
when the copy has the address and is current; else from the database. While the database
cannot be asked, an address in the copy is accepted and any other is deferred (None: the
session answers 451 4.3.0). The copy is refreshed from the database every
address_sync_seconds, starting from the one saved on disk.
"""

from __future__ import annotations

import asyncio
import time

import structlog
from sqlalchemy.exc import SQLAlchemyError

from smtp_logger.intake.addresses import LiveAddresses
from smtp_logger.store import accounts

log = structlog.get_logger("smtp_logger.run.addresses")
QUIET_AFTER_FAILURE = 2.0  # seconds in which RCPT does not ask a database that just failed


class AddressBook:
    def __init__(self, settings, engine):
        self.settings, self.engine = settings, engine
        self.copy = LiveAddresses(settings.data_path)
        self.quiet_until = 0.0  # monotonic time before which RCPT does not ask the database
        self.refresh_failing = False

    def load_saved(self) -> None:
        if count := self.copy.load_saved():
            log.info("live_addresses_loaded", addresses=count, source="saved copy")

    def refresh(self) -> None:
        """Read every live logging address (in a thread); the marker is looked at first, so a
        change committed meanwhile leaves the copy marked as not current."""
        stamp = self.copy.marker_stamp()
        with self.engine.connect() as connection:
            live = accounts.live_addresses(connection)
        self.copy.replace({address: (until.timestamp() if until else None) for address, until in live.items()},
                          stamp)

    async def keep_fresh(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.refresh)
                if self.refresh_failing:
                    log.info("live_addresses_refreshed_again", addresses=len(self.copy.valid_until))
                self.refresh_failing = False
            except (SQLAlchemyError, OSError) as exc:  # the database is down: keep the copy
                if not self.refresh_failing:
                    log.warning("live_addresses_refresh_failed", error=exc.__class__.__name__,
                                kept=len(self.copy.valid_until))
                self.refresh_failing = True
            await asyncio.sleep(max(0.2, self.settings.address_sync_seconds))

    def _ask(self, address: str) -> bool:
        with self.engine.connect() as connection:
            return accounts.is_live(connection, address)

    async def is_live(self, address: str) -> bool | None:
        """True: accept; False: no such live address; None: cannot tell now (451)."""
        in_copy = self.copy.has(address, time.time())
        if in_copy and self.copy.is_current():
            return True
        if time.monotonic() < self.quiet_until:
            return True if in_copy else None
        try:
            if self.settings.is_embedded:  # SQLite answers in microseconds: on the loop
                return self._ask(address)
            return await asyncio.to_thread(self._ask, address)
        except (SQLAlchemyError, OSError) as exc:
            self.quiet_until = time.monotonic() + QUIET_AFTER_FAILURE
            log.warning("rcpt_lookup_failed", error=exc.__class__.__name__, in_copy=in_copy)
            return True if in_copy else None
