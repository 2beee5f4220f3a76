"""Free space for the spool: below min_free_bytes in data_dir, MAIL FROM is answered
`452 4.3.1` and EHLO's SIZE shrinks to what still fits above the reserve; a spool write that
runs out of space (ENOSPC, EDQUOT) is answered `452 4.3.1`, not 451. Asks the file system
(statvfs, a few microseconds), never the database; writes nothing.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from smtp_logger.intake import replies

NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


def free_bytes(path: Path) -> int:
    """Bytes an unprivileged writer may still use on the file system holding `path`."""
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


def is_out_of_space(exc: BaseException | None) -> bool:
    """Whether an error (or what caused it) is the file system being full."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in NO_SPACE:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def reply_for_spool_error(exc: BaseException) -> str:
    return replies.ERR_NO_SPACE if is_out_of_space(exc) else replies.ERR_TEMP_LOCAL


class DiskSpace:
    """The free-space rules for one data_dir."""

    def __init__(self, data_path: Path, min_free_bytes: int):
        self.path, self.reserve = Path(data_path), max(0, int(min_free_bytes))

    def fits(self) -> int:
        """Bytes a message may still take without going below the reserve (0: none)."""
        try:
            return max(0, free_bytes(self.path) - self.reserve)
        except OSError:  # cannot tell: the write itself will say
            return 1 << 62

    def low(self) -> bool:
        return self.reserve > 0 and self.fits() == 0

    def mail_refusal(self, mail_options: list[str]) -> str | None:
        """452 4.3.1 for MAIL FROM when the reserve is reached, or when the declared SIZE does
        not fit in what is left above it; else None."""
        fits = self.fits()
        if self.reserve and fits == 0:
            return replies.ERR_NO_SPACE
        declared = next((option[5:] for option in mail_options if option.upper().startswith("SIZE=")), "")
        if declared.isdigit() and int(declared) > fits:
            return replies.ERR_NO_SPACE
        return None

    def advertised_size(self, limit: int) -> int:
        """EHLO's SIZE: the configured limit, or less when less fits (at least 1: SIZE 0 would
        announce no limit at all)."""
        return max(1, min(limit, self.fits()))
