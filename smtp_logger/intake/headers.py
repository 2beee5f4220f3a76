"""The header section of a message as DATA streams in, read once on its way to the spool: counts
the Received: fields (mail loops, refused with 554 5.4.6 above `max_received_headers`) and drops
Authentication-Results fields that claim our own authserv-id (RFC 8601 section 5: only we may
say what we found; an upstream named in trusted_authserv_ids is left alone). The body passes
through untouched, without being looked at. No parsing beyond field names; no I/O.
"""

from __future__ import annotations

import re

_FIELD = re.compile(rb"^([\x21-\x39\x3b-\x7e]+)[ \t]*:")
_COMMENT = re.compile(r"\([^()]*\)")
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_NOT_FIELD = re.compile(rb"^(?![ \t]|[\x21-\x39\x3b-\x7e]+[ \t]*:)", re.MULTILINE)
_RECEIVED = re.compile(rb"^received[ \t]*:", re.MULTILINE | re.IGNORECASE)
_AUTH_RESULTS = re.compile(rb"^authentication-results[ \t]*:", re.MULTILINE | re.IGNORECASE)
FIELD_LIMIT = 1 << 16  # a longer Authentication-Results field is passed on as it is


def authserv_id(value: str) -> str:
    """The authserv-id an Authentication-Results field value starts with ('' if none)."""
    text = value
    for _ in range(5):  # nested comments, a few levels
        text = _COMMENT.sub(" ", text)
    return text.strip().split(";", 1)[0].split(None, 1)[0].lower() if text.strip() else ""


class HeaderScan:
    """Feed message bytes; they go on to `sink`, minus forged Authentication-Results fields."""

    def __init__(self, sink, own_authserv_id: str, trusted: list[str] = ()):
        self.sink = sink
        trusted_ids = {t.lower() for t in trusted}
        self.own = own_authserv_id.lower() if own_authserv_id.lower() not in trusted_ids else ""
        self.received = 0
        self.removed = 0
        self.done = False
        self._started = False
        self._partial = b""
        self._field: list[bytes] = []
        self._field_size = 0
        self._name = b""

    def feed(self, data: bytes) -> None:
        """Lines are bounded: intake/data.py stops passing data on past `max_line_length`."""
        if self.done:
            self.sink(data)
            return
        if not self._started:
            self._started = True
            if self._whole_header(data):
                return
        data, start = self._partial + data, 0
        self._partial = b""
        while not self.done:
            end = data.find(b"\n", start)
            if end == -1:
                break
            self._line(data[start:end + 1])
            start = end + 1
        if self.done:
            if start < len(data):
                self.sink(data[start:])
        else:
            self._partial = data[start:]

    def _whole_header(self, data: bytes) -> bool:
        """The usual case, the whole header section in the first chunk, with nothing to drop:
        counted with two regular expressions and passed on at once (else line by line)."""
        end = _HEAD_END.search(data)
        if end is None or end.start() == 0:
            return False
        block = data[:end.start()]
        if _NOT_FIELD.search(block) or (self.own and _AUTH_RESULTS.search(block)):
            return False
        self.received = len(_RECEIVED.findall(block))
        self.done = True
        self.sink(data)
        return True

    def finish(self) -> None:
        """The end of the message: whatever is still held goes on."""
        if not self.done:
            if self._partial:
                self._line(self._partial)
                self._partial = b""
            self._flush()
            self.done = True

    def _line(self, line: bytes) -> None:
        if line[:1] in (b" ", b"\t") and self._name:  # a continuation of the current field
            if not self._field:
                self.sink(line)
                return
            self._field.append(line)
            self._field_size += len(line)
            if self._field_size > FIELD_LIMIT:  # too long to judge: passed on as it is
                self.sink(b"".join(self._field))
                self._field, self._field_size = [], 0
            return
        self._flush()
        match = _FIELD.match(line)
        if match is None:  # the empty line, or something that is no field: the header section ends
            self.done = True
            self.sink(line)
            return
        self._name = match.group(1).lower()
        if self._name == b"received":
            self.received += 1
        if self._name == b"authentication-results" and self.own:
            self._field, self._field_size = [line], len(line)
        else:
            self.sink(line)

    def _flush(self) -> None:
        if not self._field:
            return
        field = b"".join(self._field)
        self._field, self._field_size = [], 0
        if authserv_id(field.split(b":", 1)[1].decode("utf-8", "replace")) == self.own:
            self.removed += 1
            return
        self.sink(field)
