"""Benchmark: time to find the original in each forward of the corpus, and the pass rates.

Runs the 206 crisp cases as text bodies (`extract_inline_forward`) and as whole messages
(`find_original`, text/plain and HTML-only), plus the message/rfc822 corpus files, and prints the
median and p99 time per message. The date cache is cleared before every call (cold-ish numbers).
Usage: .venv/bin/python bench/forward_parse.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import email
import statistics
import sys
import time
from email import policy
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from smtp_logger.understand.forwards import extract_inline_forward, find_original  # noqa: E402
from smtp_logger.understand.forwards.dates import parse_date  # noqa: E402
from tests.test_forward_corpus import (  # noqa: E402
    CORPUS,
    HTML_CLIENTS,
    _as_message,
    _body,
    _cases,
    problems,
)

RFC822_FILES = [
    "cpython-test-email/Lib/test/test_email/data/msg_06.txt",
    "cpython-test-email/Lib/test/test_email/data/msg_11.txt",
    "cpython-test-email/Lib/test/test_email/data/msg_42.txt",
    "cpython-test-email/Lib/test/test_email/data/msg_46.txt",
    "mailgun-flanker/tests/fixtures/messages/enclosed.eml",
    "mailgun-flanker/tests/fixtures/messages/enclosed-endless.eml",
    "mailgun-flanker/tests/fixtures/messages/enclosed-global.eml",
    "sisimai-set-of-emails/maildir/not/is-not-bounce-02.eml",
    "spamscope-mail-parser/tests/mails/mail_test_7",
]


def _timed(call) -> tuple[float, object]:
    parse_date.cache_clear()
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def _p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]


def _report(name: str, samples: list[float], passed: int, total: int) -> None:
    print(f"{name:<14} pass {passed:>3}/{total:<3}  median {statistics.median(samples) * 1000:7.2f} ms"
          f"  p99 {_p99(samples) * 1000:7.2f} ms  ({len(samples)} timed calls)")


FIELDS = ("detected", "from", "to", "cc", "date", "subject", "body", "note")


def _field_failures(found: list[str]) -> set[str]:
    """Which fields a case's problems are about (problem strings start with the field)."""
    failed = set()
    for problem in found:
        if problem.startswith(("no forward found", "detected a forward")):
            failed.update(FIELDS)
        else:
            failed.add(problem.split(" ", 1)[0].split("[", 1)[0].replace("cc_count", "cc"))
    return failed


def _report_fields(mode: str, failures: dict[str, int], total: int) -> None:
    rates = "  ".join(f"{field} {total - failures.get(field, 0)}/{total}" for field in FIELDS)
    print(f"{'':<14} per field: {rates}")


def bench_crisp(mode: str, rounds: int) -> None:
    samples, passed, total = [], 0, 0
    failures: dict[str, int] = {}
    for case in _cases():
        if mode == "message_html" and case["client"] not in HTML_CLIENTS:
            continue
        body = _body(case)
        if mode == "plain":
            call = lambda: extract_inline_forward(body, case["outer_subject"])  # noqa: E731
        else:
            msg = _as_message(case, body, "html" if mode == "message_html" else "plain")
            call = lambda: find_original(msg)  # noqa: E731
        for _ in range(rounds):
            elapsed, got = _timed(call)
            samples.append(elapsed)
        total += 1
        found = problems(case, got)
        passed += not found
        for field in _field_failures(found):
            failures[field] = failures.get(field, 0) + 1
    _report(mode, samples, passed, total)
    _report_fields(mode, failures, total)


def bench_rfc822(rounds: int) -> None:
    samples, found = [], 0
    paths = [CORPUS / relative for relative in RFC822_FILES if (CORPUS / relative).exists()]
    for path in paths:
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        for _ in range(rounds):
            elapsed, got = _timed(lambda: find_original(msg))
            samples.append(elapsed)
        found += got is not None
    if samples:
        _report("rfc822", samples, found, len(paths))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not (CORPUS / "crisp-email-forward-parser" / "expected.json").exists():
        sys.exit(f"corpus not found at {CORPUS} (set SMTP_LOGGER_CORPUS)")
    extract_inline_forward("warm-up", None)
    parse_date("Mon, Nov 23, 2026 at 10:15 AM")  # dateparser's first call loads its language data
    for mode in ("plain", "message_text", "message_html"):
        bench_crisp(mode, args.rounds)
    bench_rfc822(args.rounds)


if __name__ == "__main__":
    main()
