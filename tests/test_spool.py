"""The spool writer of a large message: disk writeback starts while it arrives, and the
message committed afterwards is byte for byte what was written."""

from __future__ import annotations

import hashlib
import os
import sys

import pytest

from smtp_logger.base.spoolfile import read_message
from smtp_logger.intake.spool import Spool


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sync_file_range is Linux-only")
def test_a_large_message_is_written_back_as_it_arrives_and_commits_intact(tmp_path):
    spool = Spool(tmp_path)
    writer = spool.open_writer("alice@ours.example", ["bcc@bcc.example"], "127.0.0.1:1")
    body = b"".join(os.urandom(1024 * 1024) for _ in range(4))
    for start in range(0, len(body), 1024 * 1024):
        writer.write(body[start:start + 1024 * 1024])
        assert writer.start_writeback()  # the kernel accepted it (the binding's types are right)
    entry = writer.commit()
    assert entry.sha256 == hashlib.sha256(body).hexdigest()
    assert read_message(entry.path) == body
