"""The original message found inside a forward: the one value every forward parser returns.

Owns the `OriginalMessage` shape that the candidate codes against, including classify's verdict
on the original (a forwarded bounce is still a bounce). Plain data, frozen; nothing here parses.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from smtp_logger.understand.addresses import Mailbox


@dataclass(frozen=True)
class OriginalMessage:
    source: str                                  # "attachment" | "inline"
    from_: Mailbox | None                        # Mailbox(name, None) when only a name is shown
    to: list[Mailbox] = field(default_factory=list)
    cc: list[Mailbox] = field(default_factory=list)
    subject: str = ""                            # as sent: own "Re:" kept, forwarder's "Fwd:" removed
    date_raw: str | None = None                  # the date text as shown in the block
    date: datetime | None = None                 # aware when the text had an offset, else naive
    body_text: str = ""
    body_html: str | None = None
    note: str | None = None                      # what the forwarder typed above the forward
    message_id: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    automatic: tuple[str, str] | None = None     # classify's verdict on the original itself

    def with_verdict(self, automatic: tuple[str, str] | None) -> OriginalMessage:
        return replace(self, automatic=automatic)
