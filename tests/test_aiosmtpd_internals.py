"""The aiosmtpd internals intake/server.py relies on (aiosmtpd has no public hook for streaming
DATA). pyproject.toml pins aiosmtpd below 1.5; when a new version changes one of these, this
test fails and names the internal, before any mail is lost to a subtle change."""

from __future__ import annotations

import asyncio
import inspect

import aiosmtpd
from aiosmtpd.smtp import SMTP

from smtp_logger.intake.server import StreamingSMTP


def _source(function) -> str:
    return inspect.getsource(function)


def test_the_stream_reader_is_kept_as_reader_and_has_a_buffer():
    assert "self._reader = reader" in _source(SMTP._cb_client_connected), \
        "aiosmtpd no longer keeps the connection's StreamReader as SMTP._reader"
    reader = asyncio.StreamReader()
    assert isinstance(getattr(reader, "_buffer", None), bytearray), \
        "asyncio.StreamReader._buffer is gone: pipelined commands after DATA cannot be handed back"


def test_timeout_and_post_data_state_helpers_exist():
    assert "duration" in inspect.signature(SMTP._reset_timeout).parameters, \
        "SMTP._reset_timeout(duration) changed: DATA streaming keeps the session alive with it"
    assert "self.envelope = self._create_envelope()" in _source(SMTP._set_post_data_state), \
        "SMTP._set_post_data_state() no longer resets the envelope after DATA"


def test_commands_are_found_with_dir_so_our_dir_and_data_override_work():
    init = _source(SMTP.__init__)
    assert "for m in dir(self)" in init and 'm.startswith("smtp_")' in init, \
        "SMTP.__init__ no longer finds smtp_ commands with dir(self): StreamingSMTP.__dir__ is wrong"
    assert "inspect.getmembers(obj)" in init, \
        "SMTP.__init__ no longer finds auth_ mechanisms with inspect.getmembers"
    assert SMTP.smtp_DATA.__code__.co_argcount == StreamingSMTP.smtp_DATA.__code__.co_argcount, \
        "SMTP.smtp_DATA's signature changed: our streaming override may no longer be called"
    names = StreamingSMTP.__dir__(object.__new__(StreamingSMTP))
    assert "smtp_DATA" in names and "smtp_STARTTLS" in names and "auth_PLAIN" in names
    assert all(name.startswith(("smtp_", "auth_")) for name in names)


def test_the_pinned_range_is_the_installed_one():
    major, minor = (int(part) for part in aiosmtpd.__version__.split(".")[:2])
    assert (major, minor) == (1, 4), f"aiosmtpd {aiosmtpd.__version__}: re-check the internals above"


def test_commands_are_looked_up_in_smtp_methods_and_readers_keep_a_waiter():
    """Graceful shutdown (intake/shutdown.py) swaps a session's `_smtp_methods` for a table that
    answers 421 outside the transaction in flight, and tells a session waiting for a command by
    its StreamReader's `_waiter`."""
    assert "method = self._smtp_methods.get(command)" in _source(SMTP._handle_client), \
        "SMTP._handle_client no longer looks commands up with _smtp_methods.get(command)"
    assert "self._waiter = None" in _source(asyncio.StreamReader.__init__), \
        "asyncio.StreamReader._waiter is gone: shutdown cannot tell an idle session"


def test_addresses_are_parsed_as_our_remembered_getaddr_does():
    """StreamingSMTP._getaddr remembers the parse of MAIL FROM / RCPT TO arguments; it must
    answer as aiosmtpd's own does, on good and bad arguments alike."""
    source = _source(SMTP._getaddr)
    assert "get_angle_addr(arg)" in source and "get_addr_spec(arg)" in source \
        and "self.local_part_limit" in source, "SMTP._getaddr changed: re-check StreamingSMTP._getaddr"
    ours, theirs = object.__new__(StreamingSMTP), object.__new__(SMTP)
    for limit in (0, 64):
        ours.local_part_limit = theirs.local_part_limit = limit
        for arg in ("<a@b.example>", "<a@b.example> SIZE=100", "a@b.example", "", "<>", "<bad",
                    "<" + "x" * 70 + "@b.example>", "<a@[127.0.0.1]> BODY=8BITMIME", "not an address"):
            assert ours._getaddr(arg) == theirs._getaddr(arg), arg
