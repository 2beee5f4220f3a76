"""The pure readers behind meetings and blocked attachments, as tables: what an iCalendar object
says (Windows and IANA zones, floating and all-day times, broken input never raising), which bytes
are executable content (whatever the name), which inline images belong to the signature, and the
`blocked_attachment_types` setting refusing a kind it does not know."""

from __future__ import annotations

import gzip
import io
import struct
import zipfile

import pytest

from smtp_logger.base.config import BLOCKABLE_TYPES, ConfigError, load_settings
from smtp_logger.understand.calendar import read_invitation
from smtp_logger.understand.executables import KINDS, blocked_kind
from smtp_logger.understand.signatureimages import signature_image_ids

from . import invitations as inv


def _event(lines: str, method: str = "REQUEST") -> bytes:
    return (f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:{method}\r\nBEGIN:VEVENT\r\nUID:u-1\r\n"
            f"{lines}END:VEVENT\r\nEND:VCALENDAR\r\n").encode()


@pytest.mark.parametrize("lines, start, zone, all_day", [
    ("DTSTART;TZID=W. Europe Standard Time:20260701T100000\r\n", "2026-07-01T08:00:00+00:00", "Europe/Berlin", False),
    ("DTSTART;TZID=Europe/Amsterdam:20261215T110000\r\n", "2026-12-15T10:00:00+00:00", "Europe/Amsterdam", False),
    ("DTSTART:20261215T110000Z\r\n", "2026-12-15T11:00:00+00:00", "UTC", False),
    ("DTSTART;VALUE=DATE:20261224\r\n", "2026-12-24T00:00:00+00:00", None, True),
])
def test_times_and_zones(lines, start, zone, all_day):
    meeting = read_invitation(_event(lines)).invitation
    assert (meeting.starts_at.isoformat(), meeting.time_zone, meeting.all_day) == (start, zone, all_day)


def test_not_meetings_and_broken_calendars():
    assert read_invitation(_event("DTSTART:20261215T110000Z\r\n", method="PUBLISH")) is None
    assert read_invitation(_event("SUMMARY:x\r\n").replace(b"UID:u-1\r\n", b"")).note.startswith("the calendar")
    with pytest.raises(ValueError):
        read_invitation(b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n")
    outlook = read_invitation(inv.outlook_ics(sequence=3).replace("\n", "\r\n").encode()).invitation
    assert outlook.uid == inv.OUTLOOK_UID and outlook.sequence == 3 and outlook.summary == "Product demo"


def _pe() -> bytes:
    head = bytearray(1024)
    head[0:2], head[0x3C:0x40], head[0x80:0x84] = b"MZ", struct.pack("<I", 0x80), b"PE\x00\x00"
    return bytes(head)


def _zip(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize("name, data, kind", [
    ("report.pdf", _pe(), "windows-executable"),
    ("photo.jpg", b"\x7fELF\x02\x01\x01" + bytes(64), "linux-executable"),
    ("notes.txt", b"\xcf\xfa\xed\xfe" + bytes(64), "macos-executable"),
    ("fat.bin", b"\xca\xfe\xba\xbe\x00\x00\x00\x02" + bytes(64), "macos-executable"),
    ("Main.class", b"\xca\xfe\xba\xbe\x00\x00\x00\x34" + bytes(64), None),  # Java, not Mach-O
    ("readme.txt", b"#!/bin/bash\necho hi\n", "script"),
    ("run.bat", b"@echo off\r\ndel *.*\r\n", "script"),
    ("invoice.js", b"var x = 1;", "script"),
    ("tool.exe", b"anything", "windows-executable"),
    ("docs.zip", _zip("a/b/setup.pdf", _pe()), "archive"),
    ("docs.zip", _zip("nested.zip", _zip("x.vbs", b"MsgBox 1")), "archive"),
    ("data.gz", gzip.compress(_pe()), "archive"),
    ("docs.zip", _zip("minutes.txt", b"hello"), None),
    ("broken.zip", b"PK\x03\x04 not really", None),
    ("proposal.pdf", b"%PDF-1.7\n", None),
    ("empty.bin", b"", None),
])
def test_executable_content_by_its_bytes(name, data, kind):
    assert blocked_kind(name, lambda: io.BytesIO(data), frozenset(KINDS)) == kind


def test_only_the_listed_kinds_are_blocked_and_the_setting_knows_them():
    assert set(KINDS) == set(BLOCKABLE_TYPES)
    assert blocked_kind("docs.zip", lambda: io.BytesIO(_zip("x.exe", _pe())), frozenset({"windows-executable"})) is None
    assert blocked_kind("x.sh", lambda: io.BytesIO(b"#!/bin/sh"), frozenset({"windows-executable"})) is None
    with pytest.raises(ConfigError, match="BLOCKED_ATTACHMENT_TYPES: 'exe' is not one of"):
        load_settings(environ={"SMTP_LOGGER_BLOCKED_ATTACHMENT_TYPES": "script,exe"})


@pytest.mark.parametrize("html, expected", [
    ('<p>Hi</p><p>Best regards,</p><p><img src="cid:logo"></p><p>Alice<br>+31 20 123 4567</p>', {"logo"}),
    ('<div class="gmail_signature"><img src="cid:ii_1"> Alice</div>', {"ii_1"}),
    ('<div id="Signature"><img src="CID:%3Clogo2%3E"></div>', {"logo2"}),
    ('<p>Our new product: <img src="cid:product"></p><p>Regards, Alice</p>', set()),
    ('<p><img src="cid:logo"> Hi</p><p>Best regards,</p><p><img src="cid:logo"></p><p>Al<br>+31 20 1234567</p>',
     set()),  # also above the signature: content
    ("<p>no images</p>", set()),
    ("", set()),
])
def test_signature_images(html, expected):
    assert signature_image_ids(html) == frozenset(expected)
