"""Finding the customer's original message inside a forward (pure functions over text/messages).

Public API: `find_original` (whole message: message/rfc822 attachment first, then the inline
block of the text or HTML body), `extract_inline_forward` (a text body), `strip_forward_prefixes`,
`normalize_subject` and the `OriginalMessage` value. No I/O, no database, never raises on junk.
"""

from smtp_logger.understand.addresses import Mailbox, parse_mailbox, parse_mailbox_list
from smtp_logger.understand.forwards.attached import find_original
from smtp_logger.understand.forwards.dates import parse_date
from smtp_logger.understand.forwards.inline import extract_inline_forward
from smtp_logger.understand.forwards.model import OriginalMessage
from smtp_logger.understand.forwards.subjects import normalize_subject, strip_forward_prefixes

__all__ = [
    "Mailbox", "OriginalMessage", "extract_inline_forward", "find_original", "normalize_subject",
    "parse_date", "parse_mailbox", "parse_mailbox_list", "strip_forward_prefixes",
]
