"""The notifier: a thread in the server (beside the workers, never in an SMTP session) that
sends the outbox through the operator's relay (smtplib, null envelope sender MAIL FROM:<>),
after the decisions that queued it were committed. A notice is claimed before it is sent and
marked sent after the relay took it, so a crash in between sends it once more when the claim's
lease runs out, and never loses it. A relay that is down or answers 4xx is tried again later
(notify_retry_seconds, doubling to an hour); only a 5xx for the recipient or the content fails
a notice for good. Also makes the daily digests. Logging never waits for any of this.
"""

from __future__ import annotations

import smtplib
import ssl
import threading
from datetime import datetime, timedelta, timezone

import structlog

from smtp_logger.decide.noticetext import Draft, render
from smtp_logger.store import outbox
from smtp_logger.store.models import Notice

log = structlog.get_logger("smtp_logger.run.notifier")
BATCH = 10  # notices claimed (and sent over one connection) at a time
POLL = 0.5  # seconds between looks at an empty outbox
DIGEST_EVERY = 60.0  # seconds between looks for digests that are due
MAX_DELAY = 3600.0


def lease_for(settings, count: int) -> timedelta:
    """Long enough for every step of a batch's conversation to time out one after the other
    (connect, EHLO, STARTTLS, AUTH; then MAIL, RCPT, DATA and the message for each notice), so
    a live sender is never overtaken."""
    return timedelta(seconds=settings.notify_smtp_timeout * 4 * (count + 1))


def retry_delay(settings, attempts: int) -> timedelta:
    return timedelta(seconds=min(MAX_DELAY, settings.notify_retry_seconds * 2 ** max(0, attempts - 1)))


class Relay:
    """One SMTP conversation with the configured relay for a batch of notices."""

    def __init__(self, settings):
        self.settings = settings

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        smtp = smtplib.SMTP(s.notify_smtp_host, s.notify_smtp_port, local_hostname=s.hostname,
                            timeout=s.notify_smtp_timeout)
        try:
            smtp.ehlo()
            if s.notify_smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if s.notify_smtp_username:
                smtp.login(s.notify_smtp_username, s.notify_smtp_password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, batch: list[tuple[int, str, bytes]]) -> dict[int, tuple[str, str]]:
        """Send each (id, recipient, message); returns id -> ("sent" | "retry" | "failed", error)."""
        results: dict[int, tuple[str, str]] = {}
        try:
            smtp = self._connect()
        except (OSError, smtplib.SMTPException) as exc:
            return {notice_id: ("retry", _error(exc)) for notice_id, _, _ in batch}
        try:
            for notice_id, recipient, data in batch:
                results[notice_id] = _send_one(smtp, recipient, data)
        except (OSError, smtplib.SMTPServerDisconnected) as exc:  # the connection broke: the rest wait
            for notice_id, _, _ in batch:
                results.setdefault(notice_id, ("retry", _error(exc)))
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
        return results


def _wire(msg) -> bytes:
    """The message with CRLF line ends (smtplib sends bytes as they are)."""
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _error(exc: Exception) -> str:
    """For the outbox row (`notices list`); the log gets only its first word (a code or a class)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()))
        return f"{code} {_text(text)}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return f"{exc.__class__.__name__}: {exc}"


def _final(exc: Exception) -> bool:
    """A 5xx for the recipient (RCPT) or for the content (DATA): sending it again cannot help.
    Any other refusal (MAIL FROM, authentication, 4xx) is the relay's state or set-up: retried."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return 500 <= next(iter(exc.recipients.values()))[0] < 600
    return isinstance(exc, smtplib.SMTPDataError) and 500 <= exc.smtp_code < 600


def _send_one(smtp: smtplib.SMTP, recipient: str, data: bytes) -> tuple[str, str]:
    try:
        smtp.sendmail("", [recipient], data)  # "" is MAIL FROM:<>: nobody is told if it bounces
        return "sent", ""
    except smtplib.SMTPServerDisconnected:
        raise
    except smtplib.SMTPException as exc:
        try:
            smtp.rset()
        except (OSError, smtplib.SMTPException):
            pass
        return ("failed" if _final(exc) else "retry"), _error(exc)


class Notifier:
    """Runs in its own thread; `tick` does one round (tests and the command line call it too)."""

    def __init__(self, settings, sessions):
        self.settings, self.sessions = settings, sessions
        self.relay = Relay(settings)
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self._next_digest_look = 0.0

    def start(self) -> None:
        self.thread = threading.Thread(target=self.run, name="smtp-logger-notifier", daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 5) -> None:
        """Stop after the current round; a round stuck on a slow relay is left to its timeout
        (the outbox keeps its notices; the claim's lease hands them to the next sender)."""
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(timeout)

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                busy = self.tick()
            except Exception as exc:  # the database is away, say: look again shortly
                log.error("notifier_failed", error=exc.__class__.__name__, detail=str(exc)[:200])
                busy = False
            if not busy:
                self.stop_event.wait(POLL)

    def tick(self, now: datetime | None = None) -> bool:
        """Make the digests that are due, then send one batch. True when it sent something."""
        now = now or datetime.now(timezone.utc)
        if now.timestamp() >= self._next_digest_look:
            self._next_digest_look = now.timestamp() + DIGEST_EVERY
            with self.sessions() as session:
                if outbox.make_digests(session, now, outbox.digest_cutoff(now, self.settings.notify_digest_hour)):
                    session.commit()
        with self.sessions() as session:
            claimed = outbox.claim(session, now, lambda count: lease_for(self.settings, count), BATCH)
            session.commit()
        if not claimed:
            return False
        self._send(claimed)
        return True

    def _send(self, claimed: list[Notice]) -> None:
        now = datetime.now(timezone.utc)
        s = self.settings
        batch = [(n.id, n.recipient, _wire(render(Draft(n.id, n.kind, n.reason, n.recipient, n.facts or {}),
                                                  s.notify_sender, s.hostname, now))) for n in claimed]
        results = self.relay.send(batch)
        done = datetime.now(timezone.utc)
        with self.sessions() as session:
            for notice in claimed:
                outcome, error = results.get(notice.id, ("retry", "not attempted"))
                if outcome == "sent":
                    outbox.sent(session, notice, done)
                elif outcome == "failed":
                    outbox.failed(session, notice, error)
                else:
                    outbox.retry(session, notice, done, retry_delay(s, notice.attempts), error)
                log.info("notice_" + outcome, notice=notice.id, kind=notice.kind, reason=notice.reason,
                         attempts=notice.attempts, error=error.split(" ", 1)[0].rstrip(":") or None)
            session.commit()
