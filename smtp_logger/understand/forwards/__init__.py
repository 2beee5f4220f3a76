"""forwards: the customer's original inside a forward (an enclosed message/rfc822 first, then the inline block of
the text or HTML body), subject prefixes and deal tags, the note's "Contact:" line, `OriginalMessage`; pure,
never raises on junk. Imports understand's mime, classify (is the original machine-made?), addresses, htmltext."""

from smtp_logger.understand.addresses import Mailbox, parse_mailbox, parse_mailbox_list
from smtp_logger.understand.forwards.attached import find_original, read_original
from smtp_logger.understand.forwards.dates import parse_date
from smtp_logger.understand.forwards.inline import extract_inline_forward
from smtp_logger.understand.forwards.model import OriginalMessage
from smtp_logger.understand.forwards.note import named_contact
from smtp_logger.understand.forwards.subjects import deal_tags, normalize_subject, strip_forward_prefixes

__all__ = [
    "Mailbox", "OriginalMessage", "deal_tags", "extract_inline_forward", "find_original", "named_contact",
    "normalize_subject",
    "parse_date", "parse_mailbox", "parse_mailbox_list", "read_original", "strip_forward_prefixes",
]
