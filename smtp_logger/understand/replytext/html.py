"""Quoted-history removal for HTML replies, before text conversion: drops blockquotes and the
clients' quote containers (gmail_quote, moz-cite-prefix, yahoo_quoted), and cuts the document at
the first history marker (divRplyFwdMsg, OLK_SRC_BODY_SECTION, appendonsend, an <hr> or Outlook's
border-top div followed by a header block). Works on a parsed copy; never fetches anything or runs scripts.
"""

from __future__ import annotations

import re

import lxml.html
from lxml import etree

from smtp_logger.understand.replytext.patterns import HEADER_LABEL_SET
from smtp_logger.understand.replytext.quotes import header_label

_DROP_XPATH = (
    "//blockquote"
    " | //*[contains(concat(' ', normalize-space(@class), ' '), ' gmail_quote ')]"
    " | //*[contains(concat(' ', normalize-space(@class), ' '), ' gmail_attr ')]"
    " | //*[contains(concat(' ', normalize-space(@class), ' '), ' moz-cite-prefix ')]"
    " | //*[contains(concat(' ', normalize-space(@class), ' '), ' yahoo_quoted ')]"
)
_CUT_XPATH = (
    "//*[@id='divRplyFwdMsg' or @id='OLK_SRC_BODY_SECTION' or @id='appendonsend'"
    " or @id='mail-editor-reference-message-container'] | //hr"
    " | //div[contains(translate(@style, 'BORDERTOP', 'bordertop'), 'border-top')]"
)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_BORDER_TOP_HEADER = re.compile(r"^\W*(from|de|von|van|da|fra|från|od|от)\W*\s*:", re.I)


def strip_html_quotes(html: str) -> str:
    """Return the HTML with quoted history removed (serialized), or '' for an empty document."""
    if not html or not html.strip():
        return ""
    try:
        root = lxml.html.document_fromstring(_XML_DECLARATION.sub("", html, count=1))
    except (etree.ParserError, ValueError):
        return html
    for element in root.xpath(_DROP_XPATH):
        _remove(element)
    cut = _first_cut_point(root)
    if cut is not None:
        _cut_from(cut)
    return lxml.html.tostring(root, encoding="unicode")


def _first_cut_point(root):
    for element in root.xpath(_CUT_XPATH):
        if element.tag == "div" and not element.get("id"):
            if not _BORDER_TOP_HEADER.match(element.text_content().strip()):
                continue
        if element.tag == "hr" and not _header_follows(element):
            continue  # a rule inside the new text or its signature, not a history separator
        return element
    return None


def _header_follows(element) -> bool:
    """Does the text right after this element start like a mail header ('From:', 'Date:' …)?"""
    following = "".join(element.xpath("following::text()[position() <= 12]"))[:400]
    first = next((line for line in following.splitlines() if line.strip()), "")
    return header_label(first.strip()) in HEADER_LABEL_SET


def _remove(element) -> None:
    """Remove an element but keep the text that follows it (its tail)."""
    parent = element.getparent()
    if parent is None:
        return
    tail = element.tail
    previous = element.getprevious()
    parent.remove(element)
    if tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail


def _cut_from(element) -> None:
    """Remove the element and everything after it in document order."""
    node = element
    while node is not None and node.tag not in ("body", "html"):
        parent = node.getparent()
        if parent is None:
            break
        for sibling in list(node.itersiblings()):
            parent.remove(sibling)
        node.tail = None
        node = parent
    if element.getparent() is not None:
        element.getparent().remove(element)
