"""Attachments end to end: bytes and SHA-256 round-trip for every transfer encoding, the size
cap on each side, inline images linked to cid:, damaged parts recorded while the rest is logged."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import quopri
import time
from pathlib import Path

import pytest

from .blobhelp import blob_bytes, is_local
from .conftest import start_receiver
from .mailers import message, msgid, send

ALICE = "alice@ours.example"


def stored_bytes(receiver, sha: str) -> bytes:
    return blob_bytes(receiver.settings, sha)


def mime(parts: list[tuple[dict, bytes]], subject="Files", mid="<files@ours.example>") -> bytes:
    """A multipart/mixed message with hand-encoded parts: (headers, encoded body)."""
    out = [f"From: {ALICE}\r\nTo: bob@acme.example\r\nSubject: {subject}\r\nMessage-ID: {mid}\r\n"
           "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"BOUND\"\r\n\r\n"
           "--BOUND\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the files.\r\n".encode()]
    for headers, body in parts:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        out.append(b"--BOUND\r\n" + head.encode() + b"\r\n" + body + b"\r\n")
    out.append(b"--BOUND--\r\n")
    return b"".join(out)


def b64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


@pytest.fixture
def alice(receiver):
    return receiver.add_user(ALICE)


def test_every_transfer_encoding_round_trips(receiver, alice):
    binary = bytes(range(256)) * 40
    text = ("Größe ünd Maße = 100%\r\n" * 200).encode("utf-8")  # text/* is CRLF in canonical form
    uu = binascii.b2a_uu(b"uuencoded payload\n")
    small_big = os.urandom(600_000)  # over the streaming threshold: decoded in chunks
    raw = mime([
        ({"Content-Type": "application/octet-stream", "Content-Transfer-Encoding": "base64",
          "Content-Disposition": 'attachment; filename="data.bin"'}, b64(binary)),
        ({"Content-Type": "text/plain; charset=utf-8", "Content-Transfer-Encoding": "quoted-printable",
          "Content-Disposition": 'attachment; filename="notes.txt"'}, quopri.encodestring(text.replace(b"\r\n", b"\n")).replace(b"\n", b"\r\n")),
        ({"Content-Type": "application/octet-stream", "Content-Transfer-Encoding": "x-uuencode",
          "Content-Disposition": 'attachment; filename="old.txt"'}, b"begin 644 old.txt\r\n" + uu.replace(b"\n", b"\r\n") + b"`\r\nend"),
        ({"Content-Type": "application/zip", "Content-Transfer-Encoding": "base64",
          "Content-Disposition": 'attachment; filename="big.zip"'}, b64(small_big)),
        ({"Content-Type": "application/octet-stream", "Content-Transfer-Encoding": "8bit",
          "Content-Disposition": 'attachment; filename="raw8.bin"'}, "plain 8bit ü content".encode()),
    ])
    send(receiver.port, raw, [alice["bcc_address"]], mail_from=ALICE)
    receiver.drain()
    [e] = receiver.cli.json("timeline", "bob@acme.example")
    by_name = {a["filename"]: a for a in e["attachments"]}
    expected = {"data.bin": binary, "notes.txt": text, "old.txt": b"uuencoded payload\n",
                "big.zip": small_big, "raw8.bin": "plain 8bit ü content".encode()}
    assert set(by_name) == set(expected)
    for name, data in expected.items():
        a = by_name[name]
        assert a["stored"] is True and a["size"] == len(data), name
        assert a["sha256"] == hashlib.sha256(data).hexdigest(), name
        assert stored_bytes(receiver, a["sha256"]) == data, name
    assert e["body_text"].strip() == "See the files."


def test_same_file_twice_is_stored_once(receiver, alice):
    data = os.urandom(5000)
    for i in range(2):
        m = message(ALICE, "bob@acme.example", subject=f"copy {i}")
        m.add_attachment(data, maintype="application", subtype="pdf", filename=f"offer{i}.pdf")
        send(receiver.port, m, [alice["bcc_address"]])
    receiver.drain()
    shas = {a["sha256"] for e in receiver.cli.json("timeline", "bob@acme.example") for a in e["attachments"]}
    assert shas == {hashlib.sha256(data).hexdigest()}
    if is_local(receiver.settings):
        assert len(list((Path(receiver.settings.data_dir) / "attachments").rglob("*"))) == 2  # 1 folder + 1 file
    assert stored_bytes(receiver, shas.pop()) == data  # the database back-end's key is unique


def test_cap_applies_on_each_side(tmp_path, db_url):
    rx = start_receiver(tmp_path, db_url, max_attachment_size=300_000)
    port = rx.port
    try:
        user = rx.add_user(ALICE)
        at_cap, over_cap, small_over = os.urandom(300_000), os.urandom(300_001), os.urandom(1000)
        m = message(ALICE, "bob@acme.example", subject="limits")
        m.add_attachment(at_cap, maintype="application", subtype="octet-stream", filename="exact.bin")
        m.add_attachment(over_cap, maintype="application", subtype="octet-stream", filename="over.bin")
        m.add_attachment(small_over, maintype="application", subtype="octet-stream", filename="small.bin")
        send(port, m, [user["bcc_address"]])
        rx.drain()
        [e] = rx.cli.json("timeline", "bob@acme.example")
        by_name = {a["filename"]: a for a in e["attachments"]}
        assert by_name["exact.bin"]["stored"] is True and "reason" not in by_name["exact.bin"]
        assert by_name["over.bin"]["stored"] is False and "limit" in by_name["over.bin"]["reason"]
        assert by_name["over.bin"]["sha256"] == hashlib.sha256(over_cap).hexdigest()
        assert by_name["small.bin"]["stored"] is True
        assert rx.cli.json("why", msgid(m))[0]["reason"] == "LOGGED"
    finally:
        rx.stop()


def test_inline_image_is_linked_to_its_cid(receiver, alice):
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(2000)
    m = message(ALICE, "bob@acme.example", subject="logo", html='<p>Our logo: <img src="cid:logo123@ours"></p>')
    html_part = m.get_payload()[1]
    html_part.add_related(png, maintype="image", subtype="png", cid="<logo123@ours>", filename="logo.png")
    send(receiver.port, m, [alice["bcc_address"]])
    receiver.drain()
    [e] = receiver.cli.json("timeline", "bob@acme.example")
    [a] = e["attachments"]
    assert a["inline"] is True and a["content_id"] == "logo123@ours"
    assert stored_bytes(receiver, a["sha256"]) == png


def test_filenames_are_decoded_and_made_safe(receiver, alice):
    raw = mime([
        ({"Content-Type": "application/pdf", "Content-Transfer-Encoding": "base64",
          "Content-Disposition": "attachment; filename*=utf-8''Offerte%20M%C3%BCller.pdf"}, b64(b"%PDF-1")),
        ({"Content-Type": "application/pdf", "Content-Transfer-Encoding": "base64",
          "Content-Disposition": 'attachment; filename="=?utf-8?q?R=C3=A9sum=C3=A9.pdf?="'}, b64(b"%PDF-2")),
        ({"Content-Type": "application/octet-stream", "Content-Transfer-Encoding": "base64",
          "Content-Disposition": 'attachment; filename="../../etc/pass\twd"'}, b64(b"nope")),
    ])
    send(receiver.port, raw, [alice["bcc_address"]], mail_from=ALICE)
    receiver.drain()
    [e] = receiver.cli.json("timeline", "bob@acme.example")
    assert [a["filename"] for a in e["attachments"]] == ["Offerte Müller.pdf", "Résumé.pdf", "pass_wd"]


def test_broken_base64_is_recorded_and_the_rest_logged(receiver, alice):
    good = os.urandom(3000)
    truncated = b64(os.urandom(700_000))[:-7]  # cut mid-quantum, over the streaming threshold
    raw = mime([
        ({"Content-Type": "application/octet-stream", "Content-Transfer-Encoding": "base64",
          "Content-Disposition": 'attachment; filename="good.bin"'}, b64(good)),
        ({"Content-Type": "application/octet-stream", "Content-Transfer-Encoding": "base64",
          "Content-Disposition": 'attachment; filename="cut.bin"'}, truncated),
        ({"Content-Type": "application/octet-stream", "Content-Transfer-Encoding": "base64",
          "Content-Disposition": 'attachment; filename="junk.bin"'}, b"!!!not base64 at all###\r\nQUJD\r\nA"),
    ])
    send(receiver.port, raw, [alice["bcc_address"]], mail_from=ALICE)
    receiver.drain()
    [e] = receiver.cli.json("timeline", "bob@acme.example")
    by_name = {a["filename"]: a for a in e["attachments"]}
    assert by_name["good.bin"]["sha256"] == hashlib.sha256(good).hexdigest()
    assert "reason" not in by_name["good.bin"]
    assert "truncated" in by_name["cut.bin"]["reason"] or "error" in by_name["cut.bin"]["reason"]
    assert "error" in by_name["junk.bin"]["reason"]
    assert e["body_text"].strip() == "See the files."


def test_fifty_megabyte_attachment_is_stored_and_a_larger_one_listed(receiver, alice):
    stored = os.urandom(50_000_000)
    m = message(ALICE, "bob@acme.example", subject="drawings")
    m.add_attachment(stored, maintype="application", subtype="octet-stream", filename="drawing.dwg")
    send(receiver.port, m, [alice["bcc_address"]])
    receiver.drain(timeout=300)
    [e] = receiver.cli.json("timeline", "bob@acme.example")
    [a] = e["attachments"]
    assert a["stored"] is True and a["size"] == 50_000_000
    assert a["sha256"] == hashlib.sha256(stored).hexdigest()
    assert stored_bytes(receiver, a["sha256"]) == stored
    del stored
    too_big = message(ALICE, "dora@acme.example", subject="too big")
    too_big.add_attachment(os.urandom(50_000_001), maintype="application", subtype="octet-stream",
                           filename="huge.bin")
    send(receiver.port, too_big, [alice["bcc_address"]])
    receiver.drain(timeout=300)
    [e] = receiver.cli.json("timeline", "dora@acme.example")
    assert e["attachments"][0]["stored"] is False and e["attachments"][0]["size"] == 50_000_001


def _age(path: Path, days: float) -> None:
    then = time.time() - days * 86_400
    os.utime(path, (then, then))


def test_held_purge_reclaims_attachment_files_no_email_references(tmp_path, db_url):
    """Attachment files are written before the transaction that may reference them, so an
    email the rules then do not log (here: NEVER_LOG) leaves a file behind. `held purge`
    removes such files once untouched for blob_grace_seconds (an hour); referenced files stay,
    and a file reused by a new email is touched so it is not taken for an orphan. (The local
    back-end's files; tests/test_blob_store.py has the database back-end.)"""
    receiver = start_receiver(tmp_path, db_url, blob_store="local")
    try:
        alice = receiver.add_user(ALICE)
        _purge_reclaims(receiver, alice)
    finally:
        receiver.stop()


def _purge_reclaims(receiver, alice):
    kept, private = os.urandom(3000), os.urandom(4000)
    receiver.cli("never-log", "add", "private.example")
    for to, data, name in (("bob@acme.example", kept, "offer.pdf"), ("eve@private.example", private, "secret.pdf")):
        m = message(ALICE, to, subject=f"for {to}")
        m.add_attachment(data, maintype="application", subtype="pdf", filename=name)
        send(receiver.port, m, [alice["bcc_address"]])
        receiver.drain()
    assert receiver.cli.json("why", msgid(m))[0]["reason"] == "NEVER_LOG"
    folder = Path(receiver.settings.data_dir) / "attachments"
    kept_file, private_file = (folder / sha[:2] / sha for sha in (hashlib.sha256(kept).hexdigest(),
                                                                   hashlib.sha256(private).hexdigest()))
    leftover = kept_file.with_name(".crashed.1234.tmp")
    leftover.write_bytes(b"half")

    assert receiver.cli.json("held", "purge") == {"expired": 0, "blobs_removed": 0}
    assert private_file.exists() and leftover.exists()  # younger than an hour: maybe about to be used

    for path in (kept_file, private_file, leftover):
        _age(path, 2)
    assert "2 unreferenced blob(s) removed" in receiver.cli("held", "purge").stdout
    assert not private_file.exists() and not leftover.exists()
    assert kept_file.read_bytes() == kept

    again = message(ALICE, "carol@acme.example", subject="the same offer")
    again.add_attachment(kept, maintype="application", subtype="pdf", filename="offer.pdf")
    send(receiver.port, again, [alice["bcc_address"]])
    receiver.drain()
    assert kept_file.stat().st_mtime > time.time() - 3600  # touched when reused
    [e] = receiver.cli.json("timeline", "carol@acme.example")
    assert stored_bytes(receiver, e["attachments"][0]["sha256"]) == kept
