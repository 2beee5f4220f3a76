"""The forwarder's own override in the note typed above a forward: a first line
`Contact: <address>`, `Contact: Name <address>` or a bare address (Dutch: `Contactpersoon:`)
names the contact the forwarded email is to be logged on. Only the note counts (what the
forwarder wrote, never text inside the forwarded original). Pure; None when there is none.
"""

from __future__ import annotations

import re

from smtp_logger.understand.addresses import Mailbox, parse_mailbox

LABELS = ("contact", "contactpersoon")
_LINE = re.compile(rf"^\s*(?:{'|'.join(LABELS)})\s*:\s*(?P<who>.+?)\s*$", re.IGNORECASE)
MAX_LINE = 500


def named_contact(note: str | None) -> Mailbox | None:
    """The contact the note's first non-blank line names, with an address; else None."""
    if not isinstance(note, str):
        return None
    first = next((line for line in note.replace("\r", "\n").split("\n") if line.strip()), "")
    match = _LINE.match(first) if len(first) <= MAX_LINE else None
    if match is None:
        return None
    box = parse_mailbox(match.group("who"))
    return box if box is not None and box.address else None
