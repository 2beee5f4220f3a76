"""Large base64 parts are decoded in 1 MiB blocks, not line by line. Boundaries that fall on
or next to a block edge, LF or CRLF line ends, unusually long lines, a part cut off at the end
of the message, and the parts after a large one must all come out exactly."""

from __future__ import annotations

import base64
import hashlib
import os
import random

import pytest

from smtp_logger.understand.largeparts import BATCH, BLOCK
from smtp_logger.understand.parse import parse_file


def _message(payload: bytes, eol: bytes, line: int, tail: bytes = b"", closed: bool = True,
             fill: int = 0) -> bytes:
    encoded = base64.b64encode(payload)
    lines = [encoded[i:i + line] for i in range(0, len(encoded), line)]
    lines[-1] += b" " * fill  # not base64: decoders skip it (RFC 2045); it moves the boundary
    head = eol.join([b"From: Seller <seller@ours.example>", b"To: Buyer <buyer@acme.example>",
                     b"Subject: Drawings", b"MIME-Version: 1.0",
                     b'Content-Type: multipart/mixed; boundary="b-1"', b"", b"--b-1",
                     b"Content-Type: application/octet-stream",
                     b'Content-Disposition: attachment; filename="drawing.bin"',
                     b"Content-Transfer-Encoding: base64", b"", b""])
    body = eol.join(lines) + eol
    after = eol.join([b"--b-1", b"Content-Type: text/plain", b"", b"After the drawing." + tail,
                      b"--b-1--", b""])
    return head + body + (after if closed else b"")


def _parse(tmp_path, raw: bytes):
    path = tmp_path / "message.eml"
    path.write_bytes(raw)
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return parse_file(path, work, "t")


def _decoded(attachment) -> bytes:
    return attachment.blob.path.read_bytes()


def _body_length(payload_size: int, line: int, eol: bytes) -> int:
    encoded = 4 * -(-payload_size // 3)
    full, rest = divmod(encoded, line)
    return full * (line + len(eol)) + (rest + len(eol) if rest else 0)


@pytest.mark.parametrize("eol", [b"\r\n", b"\n"])
@pytest.mark.parametrize("shift", [-3, -2, -1, 0, 1, 2, 3])
def test_a_boundary_next_to_a_block_edge_ends_the_part_exactly(tmp_path, eol, shift):
    """Block reading starts after the first full MiB of lines; pick the payload size so that the
    closing boundary line starts `shift` bytes from the second block edge after that."""
    line = 76
    lines_first = -(-BATCH // (line + len(eol)))  # lines read one by one before blocks begin
    target = lines_first * (line + len(eol)) + 2 * BLOCK + shift
    estimate = target * 3 * line // (4 * (line + len(eol)))
    size = next(n for n in range(estimate - 400, estimate + 400)
                if 0 <= target - _body_length(n, line, eol) <= 5)
    fill = target - _body_length(size, line, eol)
    payload = random.Random(shift).randbytes(size)
    raw = _message(payload, eol, line, fill=fill)
    body_start = raw.index(b"base64" + eol + eol) + len(b"base64" + eol + eol)
    assert raw.index(b"--b-1" + eol, body_start) - body_start == target
    parsed = _parse(tmp_path, raw)
    [attachment] = [a for a in parsed.attachments if a.filename == "drawing.bin"]
    assert hashlib.sha256(_decoded(attachment)).hexdigest() == hashlib.sha256(payload).hexdigest()
    assert attachment.blob.damage is None
    assert "After the drawing." in parsed.body_text


def test_lines_longer_than_a_block_decode_exactly(tmp_path):
    payload = os.urandom(3 * BLOCK)
    parsed = _parse(tmp_path, _message(payload, b"\r\n", line=3 * BLOCK))  # one 4 MiB line
    [attachment] = parsed.attachments
    assert _decoded(attachment) == payload
    assert "After the drawing." in parsed.body_text


def test_a_large_part_cut_off_by_the_end_of_the_message_keeps_what_arrived(tmp_path):
    payload = os.urandom(2 * BLOCK + 12345)
    raw = _message(payload, b"\r\n", 76, closed=False)
    parsed = _parse(tmp_path, raw[:-1000])  # the sender's connection broke inside the part
    [attachment] = parsed.attachments
    data = _decoded(attachment)
    assert len(data) > 2 * BLOCK and payload.startswith(data[:2 * BLOCK])


def test_two_glued_base64_encodings_keep_the_first_file_whole(tmp_path):
    """Padding in the middle of a large part (a client glued two encodings together) is not
    strict base64: that block is read leniently, and the first file arrives whole."""
    first, second = os.urandom(2 * BLOCK + 2), os.urandom(1000)  # its encoding ends in "="
    alone, glued = base64.b64encode(first), base64.b64encode(first) + base64.b64encode(second)
    as_lines = lambda encoded: b"\r\n".join(encoded[i:i + 76] for i in range(0, len(encoded), 76))  # noqa: E731
    raw = _message(first, b"\r\n", 76).replace(as_lines(alone), as_lines(glued))
    parsed = _parse(tmp_path, raw)
    [attachment] = parsed.attachments
    assert _decoded(attachment).startswith(first)
    assert "After the drawing." in parsed.body_text
