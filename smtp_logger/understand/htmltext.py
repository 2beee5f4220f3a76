"""HTML mail bodies as plain text, for parsers that read text (forwards, replies).

Owns the one call into inscriptis (strict CSS profile: no invented indentation, `<br>`/`<div>` as
line breaks, links shown as their text). Never raises: unparseable HTML gives "".
"""

from __future__ import annotations

from inscriptis import get_text
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.model.config import ParserConfig

_CONFIG = ParserConfig(css=CSS_PROFILES["strict"], display_links=False, display_images=False)


def html_to_text(html: str) -> str:
    """Visible text of an HTML body, one line per block/line break, trailing spaces removed."""
    if not html or not isinstance(html, str):
        return ""
    try:
        text = get_text(html, _CONFIG)
    except Exception:  # lxml/inscriptis raise assorted errors on broken markup
        return ""
    return "\n".join(line.rstrip() for line in text.split("\n"))
