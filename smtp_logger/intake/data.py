"""Reading SMTP DATA in large chunks straight into the spool, instead of aiosmtpd's list of
lines in memory. Owns the end-of-data rules: only <CRLF>.<CRLF> ends the data (a bare LF or
bare CR around the dot is content: no SMTP smuggling), a leading dot is unstuffed, the size and
line-length limits are enforced while draining. No parsing, no database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CHUNK = 1 << 18


@dataclass
class DataResult:
    size: int = 0
    too_big: bool = False
    line_too_long: bool = False
    leftover: bytes = b""


class DotUnstuffer:
    """Feed raw DATA bytes; emits message bytes to `sink` until <CRLF>.<CRLF>."""

    def __init__(self, sink, size_limit: int, line_limit: int):
        self.sink = sink
        self.size_limit = size_limit
        self.long_line = re.compile(rb"[^\n]{%d}" % max(line_limit, 1))
        self.line_limit = line_limit
        self.buf = b"\r\n"  # a virtual line end before the data, never emitted
        self.prefix = 2
        self.result = DataResult()
        self.current_line = 0
        self.done = False

    def _emit(self, data: bytes) -> None:
        if self.prefix:
            cut = min(self.prefix, len(data))
            data, self.prefix = data[cut:], self.prefix - cut
        if not data:
            return
        self._check_lines(data)
        self.result.size += len(data)
        if self.size_limit and self.result.size > self.size_limit:
            self.result.too_big = True
        if not (self.result.too_big or self.result.line_too_long):
            self.sink(data)

    def _check_lines(self, data: bytes) -> None:
        last_lf = data.rfind(b"\n")
        if last_lf == -1:
            self.current_line += len(data)
        else:
            first = data.find(b"\n")
            if self.current_line + first > self.line_limit or self.long_line.search(data, first + 1):
                self.result.line_too_long = True
            self.current_line = len(data) - last_lf - 1
        if self.current_line > self.line_limit:
            self.result.line_too_long = True

    def feed(self, chunk: bytes) -> bool:
        """Consume a chunk; True once the end of data was seen."""
        buf = self.buf + chunk
        start = 0
        while True:
            i = buf.find(b"\r\n.", start)
            if i == -1 or i + 5 > len(buf):
                break
            self._emit(buf[start:i + 2])
            if buf[i + 3:i + 5] == b"\r\n":
                self.result.leftover = buf[i + 5:]
                self.done = True
                self.buf = b""
                return True
            start = i + 3  # drop the stuffed dot
        keep_from = i if i != -1 else max(start, len(buf) - 4)
        self._emit(buf[start:keep_from])
        self.buf = buf[keep_from:]
        return False
