"""Quarantine (Mailman's shunt queue): a delivery whose processing failed max_attempts times
leaves spool/new for spool/failed/<id>.msg, with its error record <id>.json beside it (type,
message, traceback, attempts, times), and gets PROCESSING_FAILED for each logging address.
Until then, spool/errors/<id>.json counts its failed attempts across restarts. `retry` puts a
quarantined delivery back into spool/new unchanged. Nothing here is ever deleted unprocessed.
"""

from __future__ import annotations

import json
import os
import traceback
from datetime import datetime, timezone
from pathlib import Path

import structlog

from smtp_logger.intake.spool import SUFFIX, Spool, SpoolEntry
from smtp_logger.run.build import logging_addresses
from smtp_logger.store.failures import record_processing_failed
from smtp_logger.understand.parse import message_id_of

log = structlog.get_logger("smtp_logger.run.quarantine")


class NoSuchDelivery(LookupError):
    pass


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2), "utf-8")
    os.replace(tmp, path)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None


class Quarantine:
    """The failed/ and errors/ folders of one spool."""

    def __init__(self, spool: Spool):
        self.spool = spool
        self.failed = spool.root / "spool" / "failed"
        self.errors = spool.root / "spool" / "errors"
        for folder in (self.failed, self.errors):
            folder.mkdir(parents=True, exist_ok=True)

    # -- the workers' side ---------------------------------------------------------------

    def failed_attempt(self, entry: SpoolEntry, exc: BaseException) -> int:
        """Count one failed attempt (with this error as the last one); returns the attempts so far."""
        path = self.errors / f"{entry.spool_id}.json"
        record = _read_json(path) or {"spool_id": entry.spool_id, "attempts": 0, "first_failed_at": _now()}
        record.update(attempts=record["attempts"] + 1, last_failed_at=_now(), error={
            "type": exc.__class__.__name__, "message": str(exc)[:2000],
            "traceback": "".join(traceback.format_exception(exc))[-20000:]})
        _write_json(path, record)
        return record["attempts"]

    def succeeded(self, entry: SpoolEntry) -> None:
        """Processed at last: its failed attempts are forgotten (usually there were none)."""
        (self.errors / f"{entry.spool_id}.json").unlink(missing_ok=True)

    def quarantine(self, entry: SpoolEntry, sessions, settings) -> None:
        """Record PROCESSING_FAILED for each logging address not decided yet, then move the
        delivery and its error record into failed/ (durably). Raises if the database cannot be
        written: the delivery then stays where it is and is tried again."""
        record = _read_json(self.errors / f"{entry.spool_id}.json") or {"attempts": 0, "error": {}}
        error = record.get("error") or {}
        detail = f"{error.get('type', 'error')} after {record['attempts']} attempts"
        with sessions() as session:
            record_processing_failed(
                session, settings, spool_id=entry.spool_id, recipients=logging_addresses(entry.rcpt_tos),
                mail_from=entry.mail_from,
                message_id=_message_id(entry.path), raw_sha256=entry.sha256, size=entry.size,
                received_at=datetime.fromtimestamp(entry.received_at, timezone.utc), detail=detail)
            session.commit()
        record.update(spool_id=entry.spool_id, quarantined_at=_now())
        _write_json(self.failed / f"{entry.spool_id}.json", record)
        os.replace(entry.path, self.failed / f"{entry.spool_id}{SUFFIX}")
        _fsync_dir(self.failed)
        self.spool.sync_new()
        (self.errors / f"{entry.spool_id}.json").unlink(missing_ok=True)
        log.error("delivery_quarantined", spool_id=entry.spool_id, attempts=record["attempts"],
                  error=error.get("type"))

    # -- the operator's side -------------------------------------------------------------

    def count_failed(self) -> int:
        with os.scandir(self.failed) as found:
            return sum(1 for e in found if e.name.endswith(SUFFIX))

    def waiting(self) -> list[dict]:
        """Deliveries in spool/new (waiting, or held by a worker), oldest first."""
        rows = []
        for path in sorted(self.spool.new.iterdir()):
            if SUFFIX in path.name and (entry := self.spool.load(path)) is not None:
                holder = path.name.rpartition(".")[2] if not path.name.endswith(SUFFIX) else None
                rows.append(self._row(entry, self.errors, "processing" if holder else "waiting"))
        return rows

    def quarantined(self) -> list[dict]:
        rows = []
        for path in sorted(self.failed.glob(f"*{SUFFIX}")):
            if (entry := self.spool.load(path)) is not None:
                rows.append(self._row(entry, self.failed, "failed"))
        return rows

    def show(self, spool_id: str) -> dict:
        for row in (*self.quarantined(), *self.waiting()):
            if row["id"] == spool_id:
                folder = self.failed if row["state"] == "failed" else self.errors
                record = _read_json(folder / f"{spool_id}.json") or {}
                path = Path(row.pop("path"))
                return {**row, "mail_from": self.spool.load(path).mail_from, "message_id": _message_id(path),
                        "first_failed_at": record.get("first_failed_at"),
                        "last_failed_at": record.get("last_failed_at"),
                        "quarantined_at": record.get("quarantined_at"), "error": record.get("error")}
        raise NoSuchDelivery(f"no delivery {spool_id} in the spool")

    def retry(self, spool_id: str) -> None:
        """Put a quarantined delivery back into spool/new, with a fresh count of attempts."""
        source = self.failed / f"{spool_id}{SUFFIX}"
        if "/" in spool_id or not source.exists():
            raise NoSuchDelivery(f"no failed delivery {spool_id}")
        os.replace(source, self.spool.new / source.name)
        self.spool.sync_new()
        (self.failed / f"{spool_id}.json").unlink(missing_ok=True)
        (self.errors / f"{spool_id}.json").unlink(missing_ok=True)
        _fsync_dir(self.failed)
        log.info("delivery_retried", spool_id=spool_id)

    @staticmethod
    def _row(entry: SpoolEntry, folder: Path, state: str) -> dict:
        record = _read_json(folder / f"{entry.spool_id}.json") or {}
        error = record.get("error") or {}
        return {"id": entry.spool_id, "state": state, "size": entry.size, "recipients": entry.rcpt_tos,
                "attempts": record.get("attempts", 0),
                "last_error": f"{error['type']}: {error['message']}"[:300] if error else None,
                "received_at": datetime.fromtimestamp(entry.received_at, timezone.utc).isoformat(timespec="seconds"),
                "path": str(entry.path)}


def _message_id(path: Path) -> str | None:
    try:
        return message_id_of(path)
    except Exception:  # the header block itself may be what cannot be read
        return None
