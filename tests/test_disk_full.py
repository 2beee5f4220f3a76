"""A full disk: below min_free_bytes MAIL FROM is answered 452 4.3.1 and EHLO's SIZE shrinks to
what fits; running out of space while writing a spool file (ENOSPC) is answered 452 4.3.1, the
partial file is removed and the server keeps running.

The exact cases run on a small size-limited tmpfs mounted as data_dir (the test needs the
right to mount: root here; skipped with the reason elsewhere), where nothing else writes."""

from __future__ import annotations

import os
import smtplib
import subprocess
from pathlib import Path

import pytest

from smtp_logger.intake.disk import free_bytes

from .conftest import start_receiver
from .mailers import message, msgid, send

ALICE = "alice@ours.example"
MiB = 1 << 20


def _ehlo_size(port: int) -> int:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo("client.test")
        return int(client.esmtp_features["size"])


def _mail(port: int, *options: str) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo("client.test")
        return client.mail(ALICE, list(options))


@pytest.fixture
def small_disk(tmp_path):
    """data_dir on a 16 MiB tmpfs."""
    data = tmp_path / "data"
    data.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(data)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a size-limited tmpfs here: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield data
    finally:
        subprocess.run(["umount", "-l", str(data)], check=False)


def _fill(folder: Path, leave: int) -> Path:
    """A file that leaves about `leave` bytes free."""
    filler = folder / "filler"
    with open(filler, "wb") as f:
        while (free := free_bytes(folder)) > leave:
            f.write(b"\0" * min(MiB, free - leave))
            f.flush()
            os.fsync(f.fileno())
    return filler


def test_below_min_free_bytes_mail_from_is_answered_452(tmp_path, db_url):
    (tmp_path / "data").mkdir()
    rx = start_receiver(tmp_path, db_url, min_free_bytes=free_bytes(tmp_path / "data") + (1 << 40))
    try:
        rx.add_user(ALICE)
        code, text = _mail(rx.port)
        assert (code, text[:5]) == (452, b"4.3.1")
        assert _ehlo_size(rx.port) == 1  # nothing fits (SIZE 0 would mean "no limit")
    finally:
        rx.stop()


def test_size_shrinks_to_what_fits_above_the_reserve(tmp_path, db_url, small_disk):
    reserve = 8 * MiB
    rx = start_receiver(tmp_path, db_url, min_free_bytes=reserve)
    try:
        user = rx.add_user(ALICE)
        fits = free_bytes(small_disk) - reserve
        size = _ehlo_size(rx.port)
        assert fits - MiB < size <= fits < 83_886_080, "SIZE is what fits, not max_message_size"
        assert _mail(rx.port, f"SIZE={fits + MiB}")[0] == 452  # declared too big for what is left
        assert _mail(rx.port, "SIZE=1000")[0] == 250
        m = message(ALICE, "bob@acme.example", subject="Still fits")
        assert send(rx.port, m, [user["bcc_address"]]) == {}
        rx.drain()
        assert [d["reason"] for d in rx.cli.json("why", msgid(m))] == ["LOGGED"]
        filler = _fill(small_disk, reserve - MiB)  # below the reserve now
        assert _mail(rx.port)[0] == 452
        filler.unlink()
        assert _mail(rx.port)[0] == 250
    finally:
        rx.stop()


def _refused_data(port: int, raw: bytes, rcpt: str) -> tuple[int, bytes]:
    """DATA without declaring SIZE at MAIL (which would be refused up front: tested above)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        client.ehlo("client.test")
        assert client.mail(ALICE)[0] == 250 and client.rcpt(rcpt)[0] == 250
        reply = client.data(raw)
        assert client.noop()[0] == 250, "the session goes on after the refusal"
    return reply


def test_enospc_while_spooling_answers_452_removes_the_partial_file_and_serving_goes_on(
        tmp_path, db_url, small_disk):
    rx = start_receiver(tmp_path, db_url, min_free_bytes=0)
    tmp = small_disk / "spool" / "tmp"
    try:
        user = rx.add_user(ALICE)
        big = message(ALICE, "bob@acme.example", subject="Too big for this disk",
                      body="".join(f"line {n:08d} of a long report\n" for n in range(700_000)))  # ~22 MiB
        code, text = _refused_data(rx.port, big.as_bytes(), user["bcc_address"])  # streamed: spill path
        assert (code, text[:5]) == (452, b"4.3.1")
        assert not list(tmp.iterdir()), "the partial spool file is removed"

        filler = _fill(small_disk, 200_000)
        small = message(ALICE, "bob@acme.example", subject="Small but no room",
                        body="".join(f"line {n:06d} of a short report\n" for n in range(20_000)))  # ~600 KB
        code, text = _refused_data(rx.port, small.as_bytes(), user["bcc_address"])  # group-commit path
        assert (code, text[:5]) == (452, b"4.3.1")
        assert not list(tmp.iterdir())
        assert not [p for p in (small_disk / "spool" / "new").iterdir()]

        filler.unlink()
        ok = message(ALICE, "bob@acme.example", subject="Room again")
        assert send(rx.port, ok, [user["bcc_address"]]) == {}
        rx.drain()
        assert [d["reason"] for d in rx.cli.json("why", msgid(ok))] == ["LOGGED"]
        assert rx.cli.json("why", msgid(big)) == [] and rx.cli.json("why", msgid(small)) == []
    finally:
        rx.stop()
