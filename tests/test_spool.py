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


def _spooled(spool: Spool, body: bytes):
    writer = spool.open_writer("alice@ours.example", ["bcc@bcc.example"], "127.0.0.1:1")
    writer.write(body)
    return writer.commit()


def test_a_processed_file_is_emptied_and_used_again_but_never_a_raw_copy(tmp_path):
    """On ext4 without a journal every file created costs a scan past recently freed inodes:
    a processed delivery's file is kept empty for the next one instead (intake/recycle.py)."""
    worker = Spool(tmp_path)
    _spooled(worker, b"Subject: one\r\n\r\nwhat nobody may read later\r\n")
    [claimed] = worker.claim("w1", 10)
    inode = os.stat(claimed.path).st_ino
    worker.done(claimed)
    free = tmp_path / "spool" / "free"
    assert [p.stat().st_size for p in free.iterdir()] == [0]  # no message bytes left behind
    assert worker.backlog() == 0

    smtp = Spool(tmp_path)  # the SMTP process's own spool object
    second = _spooled(smtp, b"Subject: two\r\n\r\nhello\r\n")
    assert os.stat(second.path).st_ino == inode and not list(free.iterdir())
    assert read_message(second.path) == b"Subject: two\r\n\r\nhello\r\n"

    [claimed] = worker.claim("w1", 10)  # kept as a raw copy (a hard link): never emptied
    worker.keep_raw([claimed])
    worker.done(claimed)
    assert not list(free.iterdir())
    assert read_message(worker.raw_path(claimed.sha256)) == b"Subject: two\r\n\r\nhello\r\n"


def test_start_up_removes_a_kept_file_that_still_holds_bytes(tmp_path):
    spool = Spool(tmp_path)
    free = tmp_path / "spool" / "free"
    (free / "crashed-before-emptying").write_bytes(b"Subject: old\r\n\r\nbody\r\n")
    (free / "empty").write_bytes(b"")
    spool.recover()
    assert [p.name for p in free.iterdir()] == ["empty"]
