"""structlog set-up: JSON lines when stderr is not a terminal (production), readable text when
it is. Events carry ids, codes and counts only: never message bodies, subjects or tokens."""

from __future__ import annotations

import logging
import sys

import structlog


def configure(fmt: str = "auto", level: str = "info") -> None:
    json_logs = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer = structlog.processors.JSONRenderer() if json_logs else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper(), logging.INFO)),
        # One write() a line (PrintLogger's print() makes two, on Python's unbuffered stderr):
        # worker processes and the server share stderr and never glue their lines together.
        logger_factory=structlog.WriteLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's chatty per-command log
