"""Which inline images of an HTML body belong to its signature block: the `cid:` images inside a
client's signature container (Gmail's gmail_signature, Outlook's #Signature, Thunderbird's
moz-signature), or placed after the point where replytext finds the signature of the new text.
An image also referenced above that point is content, not a logo. Pure: no I/O; never raises.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

import lxml.html
from lxml import etree

from smtp_logger.understand.htmltext import html_to_text
from smtp_logger.understand.replytext.html import strip_html_quotes
from smtp_logger.understand.replytext.signature import signature_start

_CONTAINERS = (
    "ancestor-or-self::*[contains(concat(' ', normalize-space(@class), ' '), ' gmail_signature ')"
    " or contains(concat(' ', normalize-space(@class), ' '), ' moz-signature ')"
    " or contains(concat(' ', normalize-space(@class), ' '), ' signature ')"
    " or @id='Signature' or @id='signature' or @id='ms-outlook-mobile-signature']"
)
_TOKEN = re.compile(r"SMTPLOGGERCID(\d+)X")
MAX_HTML_CHARS = 2_000_000


def _cid(src: str) -> str | None:
    src = (src or "").strip()
    if not src.lower().startswith("cid:"):
        return None
    return unquote(src[4:]).strip("<> ") or None


def signature_image_ids(html: str | None) -> frozenset[str]:
    """The Content-IDs (without <>) referenced only from the signature block of `html`."""
    if not html or "cid:" not in html[:MAX_HTML_CHARS].lower():
        return frozenset()
    try:
        return _signature_ids(html[:MAX_HTML_CHARS])
    except (etree.ParserError, ValueError, TypeError):
        return frozenset()


def _signature_ids(html: str) -> frozenset[str]:
    root = lxml.html.document_fromstring(strip_html_quotes(html) or "<p></p>")
    cids: list[str] = []
    in_container: set[int] = set()
    for image in root.xpath("//img[@src]"):
        cid = _cid(image.get("src"))
        if cid is None:
            continue
        if image.xpath(_CONTAINERS):
            in_container.add(len(cids))
        token = f" SMTPLOGGERCID{len(cids)}X "
        cids.append(cid)
        tail = image.tail
        image.clear()
        image.tag, image.text, image.tail = "span", token, tail
    if not cids:
        return frozenset()
    positions = _token_lines(html_to_text(lxml.html.tostring(root, encoding="unicode")))
    lines, where = positions
    cut = signature_start(lines)
    body, signature = set(), set()
    for index, cid in enumerate(cids):
        line = where.get(index, -1)
        if index in in_container or (cut is not None and line >= cut):
            signature.add(cid)
        else:
            body.add(cid)
    return frozenset(signature - body)


def _token_lines(text: str) -> tuple[list[str], dict[int, int]]:
    """The text's lines without the image tokens, and for each token the line it stands on (an
    image alone on its line belongs to the line above it)."""
    kept: list[str] = []
    where: dict[int, int] = {}
    for raw in text.splitlines():
        tokens = [int(n) for n in _TOKEN.findall(raw)]
        line = _TOKEN.sub("", raw).strip()
        if tokens and not line:
            for token in tokens:
                where[token] = len(kept) - 1
            continue
        for token in tokens:
            where[token] = len(kept)
        kept.append(line)
    return kept, where
