"""Executable content in attachments, recognised by its bytes (puremagic, plus our own checks of
the executable headers and script openings) as well as by its name: Windows PE/DOS executables,
Mach-O, ELF, shell/batch/PowerShell/VBScript/JScript scripts, and zip or tar/gzip archives that
hold any of them. Reads only the first bytes of a file (an archive: its directory and the first
bytes of each member), never a whole attachment into memory. Never raises; no database.
"""

from __future__ import annotations

import gzip
import io
import struct
import tarfile
import zipfile
from collections.abc import Callable
from typing import BinaryIO

import puremagic

WINDOWS, MACOS, LINUX, SCRIPT, ARCHIVE = ("windows-executable", "macos-executable", "linux-executable",
                                         "script", "archive")
KINDS = (WINDOWS, MACOS, LINUX, SCRIPT, ARCHIVE)  # base.config.BLOCKABLE_TYPES; ARCHIVE: holding a blocked kind
HEAD = 4096  # bytes looked at
MAX_MEMBERS = 2000  # archive members looked at
MAX_NESTED_BYTES = 8 * 1024 * 1024  # an archive inside an archive is looked into up to this size
MAX_DEPTH = 3

EXTENSIONS = {
    WINDOWS: (".exe", ".dll", ".scr", ".com", ".pif", ".cpl", ".msi", ".msp", ".sys", ".ocx", ".lnk"),
    MACOS: (".dylib", ".pkg", ".mpkg"),
    LINUX: (".elf", ".so", ".appimage", ".run"),
    SCRIPT: (".sh", ".bash", ".zsh", ".csh", ".ksh", ".command", ".bat", ".cmd", ".ps1", ".psm1", ".psd1",
             ".vbs", ".vbe", ".js", ".jse", ".wsf", ".wsh", ".hta", ".applescript", ".scpt"),
}
_MACHO = {b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe"}
_SCRIPT_OPENINGS = (b"#!", b"@echo off", b"@echo on", b"echo off")
_PUREMAGIC_WORDS = {WINDOWS: ("windows executable", "dos executable", "windows|dos executable"),
                    MACOS: ("mach-o",), LINUX: ("elf executable",)}


def by_name(filename: str) -> str | None:
    name = (filename or "").lower().rstrip(" .")
    for kind, extensions in EXTENSIONS.items():
        if name.endswith(extensions):
            return kind
    if ".app/contents/macos/" in name:
        return MACOS
    return None


def _by_header(head: bytes) -> str | None:
    if head[:2] == b"MZ":
        return WINDOWS
    if head[:4] == b"\x7fELF":
        return LINUX
    if head[:4] in _MACHO:
        return MACOS
    if head[:4] == b"\xca\xfe\xba\xbe" and len(head) >= 8 and 0 < struct.unpack(">I", head[4:8])[0] < 30:
        return MACOS  # a universal binary (a Java class file has its version, >= 45, there)
    opening = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:12].lower()
    if opening.startswith(_SCRIPT_OPENINGS):
        return SCRIPT
    return None


def _by_puremagic(head: bytes) -> str | None:
    try:
        matches = puremagic.magic_string(head)
    except Exception:  # noqa: BLE001 - puremagic raises when it knows nothing
        return None
    for match in matches:
        name = (match.name or "").lower()
        for kind, words in _PUREMAGIC_WORDS.items():
            if any(word in name for word in words):
                return kind
    return None


def content_kind(head: bytes) -> str | None:
    """Which executable kind these first bytes open, if any."""
    return _by_header(head) or (_by_puremagic(head) if head[:2] in (b"MZ", b"\x7fE") else None)


def _is_zip(head: bytes) -> bool:
    return head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")


def _is_tar_or_gzip(head: bytes) -> bool:
    return head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00" \
        or head[257:262] == b"ustar"


def _member_verdict(name: str, head: bytes, opener: Callable[[], BinaryIO], size: int,
                    blocked: frozenset[str], depth: int) -> str | None:
    kind = by_name(name) or content_kind(head)
    if kind in blocked:
        return kind
    if depth < MAX_DEPTH and (_is_zip(head) or _is_tar_or_gzip(head)) and size <= MAX_NESTED_BYTES:
        return _archive_verdict(lambda: io.BytesIO(opener().read(MAX_NESTED_BYTES)), head, blocked, depth + 1)
    return None


def _zip_verdict(open_file: Callable[[], BinaryIO], blocked: frozenset[str], depth: int) -> str | None:
    with open_file() as f, zipfile.ZipFile(f) as archive:
        for info in archive.infolist()[:MAX_MEMBERS]:
            if info.is_dir():
                continue
            try:
                with archive.open(info) as member:
                    head = member.read(HEAD)
            except (RuntimeError, NotImplementedError, zipfile.BadZipFile, OSError, EOFError):
                head = b""  # encrypted or an unknown compression: judged by its name
            found = _member_verdict(info.filename, head, lambda info=info: archive.open(info),
                                    info.file_size, blocked, depth)
            if found:
                return found
    return None


def _tar_verdict(open_file: Callable[[], BinaryIO], blocked: frozenset[str], depth: int) -> str | None:
    try:
        with open_file() as f, tarfile.open(fileobj=f, mode="r|*") as archive:
            for count, member in enumerate(archive):
                if count >= MAX_MEMBERS:
                    break
                if not member.isfile():
                    continue
                data = archive.extractfile(member)
                head = data.read(HEAD) if data else b""
                kind = by_name(member.name) or content_kind(head)
                if kind in blocked:
                    return kind
        return None
    except tarfile.ReadError:
        pass
    with open_file() as f:  # a gzip of one file, not a tar
        try:
            head = gzip.GzipFile(fileobj=f).read(HEAD)
        except (OSError, EOFError):
            head = b""
    kind = content_kind(head)
    return kind if kind in blocked else None


def _archive_verdict(open_file: Callable[[], BinaryIO], head: bytes, blocked: frozenset[str],
                     depth: int) -> str | None:
    """ARCHIVE when the archive holds a blocked kind (with ARCHIVE itself blocked), else None."""
    if ARCHIVE not in blocked:
        return None
    try:
        found = _zip_verdict(open_file, blocked, depth) if _is_zip(head) else _tar_verdict(open_file, blocked, depth)
    except Exception:  # noqa: BLE001 - a damaged archive is not proof of anything: stored as it is
        return None
    return ARCHIVE if found else None


def blocked_kind(filename: str, open_file: Callable[[], BinaryIO], blocked: frozenset[str]) -> str | None:
    """The blocked kind of an attachment (its name and its first bytes, or an archive's members),
    or None when it may be stored. `open_file()` opens the decoded content from its start."""
    if not blocked:
        return None
    try:
        with open_file() as f:
            head = f.read(HEAD)
    except OSError:
        return None
    kind = by_name(filename) or content_kind(head)
    if kind in blocked:
        return kind
    if _is_zip(head) or _is_tar_or_gzip(head):
        return _archive_verdict(open_file, head, blocked, 1)
    return None
