"""Corpus tests for reply-text extraction (third-party reply corpora, read in place).

Turns the reply-text assertions of the upstream corpora (crisp reply and forward parsers, zapier,
mailgun talon) into checks on ``reply_text`` / ``reply_text_from_html``, prints pass rates per
corpus and per language/client, and pins the exact pass count per corpus. Never copies corpus files.
"""

from __future__ import annotations

import email
import json
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest


def corpus_root() -> Path:
    override = os.environ.get("SMTP_LOGGER_CORPUS")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "shared" / "corpus"


Check = Callable[[str], bool]


@dataclass
class Case:
    """One fixture: its input, the function kind to run, and the reply-text checks on the output."""

    case_id: str
    group: str
    kind: str  # "text" or "html"
    body: str
    checks: list[tuple[str, Check]] = field(default_factory=list)


def _equals(want: str) -> Check:
    return lambda got: got == want


def _contains(want: str) -> Check:
    return lambda got: want in got


def _not_contains(want: str) -> Check:
    return lambda got: want not in got


def _searches(pattern: str, flags: int = 0) -> Check:
    return lambda got: re.search(pattern, got, flags) is not None


def _not_searches(pattern: str) -> Check:
    return lambda got: re.search(pattern, got, re.M) is None


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _equals_squashed(want: str) -> Check:
    return lambda got: _squash(got) == _squash(want)


# ---------------------------------------------------------------- crisp-email-reply-parser

_CRISP_LANGUAGES = {
    "french": "fr", "fr": "fr", "german": "de", "danish": "da", "italian": "it", "finnish": "fi",
    "norwegian": "no", "portuguese": "pt", "russian": "ru",
}
# Fixtures whose quote header language is only visible in the text (numbered upstream names).
_CRISP_HEADER_LANGUAGES = [
    (r"^\s*(De|Envoy|Objet) ?:", "fr"), (r"^(Van|Verzonden):|schreef", "nl"),
    (r"^(Da|Inviato):|ha scritto", "it"), (r"napisa", "pl"), (r"schrieb|^Von:", "de"),
]


def _crisp_group(name: str, body: str) -> str:
    for token in name.split("_"):
        if token in _CRISP_LANGUAGES:
            return _CRISP_LANGUAGES[token]
    for pattern, lang in _CRISP_HEADER_LANGUAGES:
        if re.search(pattern, body, re.M):
            return lang
    return "en"


def _crisp_checks(spec: dict, body: str, common: str) -> list[tuple[str, Check]]:
    checks: list[tuple[str, Check]] = []
    for key in ("first_fragment_trimmed", "first_fragment", "visible_text", "visible_text_trimmed"):
        if key in spec:
            want = common if spec[key] == "$COMMON_FIRST_FRAGMENT" else spec[key]
            checks.append((key, _equals(want.strip())))
    regexes = spec.get("fragment_regex", {})
    for pattern in _as_list(regexes.get("0", [])):
        checks.append((f"fragment 0 ~ {pattern}", _searches(pattern)))
    for pattern in _as_list(spec.get("fragment_regex_trimmed_multiline", {}).get("0", [])):
        checks.append((f"fragment 0 ~m {pattern}", _searches(pattern, re.M)))
    hidden = spec.get("fragments_hidden") or []
    for index, pattern in regexes.items():
        if int(index) > 0 and int(index) < len(hidden) and hidden[int(index)]:
            for one in _as_list(pattern):
                checks.append((f"hidden fragment {index} !~ {one}", _not_searches(one)))
    if spec.get("fragment_count") == 1:
        checks.append(("single visible fragment = whole body", _equals(body.strip())))
    return checks


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def crisp_cases(root: Path) -> list[Case]:
    base = root / "crisp-email-reply-parser"
    spec = json.loads((base / "expected.json").read_text("utf-8"))
    common = spec["constants"]["COMMON_FIRST_FRAGMENT"]
    cases = []
    for name, case_spec in sorted(spec["cases"].items()):
        body = (base / "test" / "fixtures" / f"{name}.txt").read_bytes().decode("utf-8")
        checks = _crisp_checks(case_spec, body, common)
        if checks:
            cases.append(Case(name, _crisp_group(name, body), "text", body, checks))
    return cases


# ---------------------------------------------------------------- zapier-email-reply-parser

_ZAPIER_CLIENTS = ("gmail", "iphone", "blackberry")


def _zapier_group(name: str, body: str) -> str:
    lowered = name.lower()
    for client in _ZAPIER_CLIENTS:
        if client in lowered:
            return client
    if re.search(r"^\W*From:\W*\s.*\n\W*Sent:", body, re.M):
        return "outlook"
    return "other"


def _zapier_checks(spec: dict, body: str) -> list[tuple[str, Check]]:
    checks: list[tuple[str, Check]] = []
    if "reply_equals" in spec:
        checks.append(("reply_equals", _equals(spec["reply_equals"].strip())))
    if "reply_stripped_equals" in spec:
        checks.append(("reply_stripped_equals", _equals(spec["reply_stripped_equals"])))
    for want in spec.get("reply_contains", []):
        checks.append((f"contains {want!r}", _contains(want)))
    for want in spec.get("reply_not_contains", []):
        checks.append((f"not contains {want!r}", _not_contains(want)))
    if "max_parse_seconds" in spec:
        checks.append(("parses", lambda got: isinstance(got, str)))
    quoted = spec.get("fragments_quoted") or []
    if not (quoted and quoted[0]):  # fragment 0 is new text unless upstream flags it as a quote
        wants = spec.get("fragment_contains", {}).get("0", [])
        checks.extend((f"fragment 0 text {w!r}", _contains(w)) for w in wants)
    start = spec.get("fragment_regex_match_at_start", {}).get("0")
    if start:
        checks.append((f"starts ~ {start}", lambda got, p=start: re.match(p, got) is not None))
    if spec.get("fragment_count") == 1:
        checks.append(("single visible fragment = whole body", _equals(body.strip())))
    return checks


def zapier_cases(root: Path) -> list[Case]:
    base = root / "zapier-email-reply-parser"
    spec = json.loads((base / "expected.json").read_text("utf-8"))
    cases = []
    for name, case_spec in sorted(spec["cases"].items()):
        raw = (base / "test" / "emails" / f"{name}.txt").read_bytes()
        body = raw.decode("utf-8")
        checks = _zapier_checks(case_spec, body)
        if checks:
            cases.append(Case(name, _zapier_group(name, body), "text", body, checks))
    return cases


# ---------------------------------------------------------------- mailgun-talon


def first_plain_part(raw: bytes) -> str:
    message = email.message_from_bytes(raw)
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True) or b""
            return payload.decode(part.get_content_charset() or "utf-8", errors="replace")
    return ""


_TRAILING_SIGNATURE = re.compile(r"\n(-- ?\n.*|Sent from my \w+)\s*\Z", re.S)


def _without_signature(expected: str) -> str:
    """Talon's plain expectations keep the signature; our contract removes it ("-- " block, "Sent from my …")."""
    return _TRAILING_SIGNATURE.sub("", expected).strip()


def _talon_plain(base: Path, path: str, spec: dict) -> Case:
    raw = (base / path).read_bytes()
    whole_file = spec.get("input", "").startswith("whole raw file")
    body = raw.decode("utf-8", errors="replace") if whole_file else first_plain_part(raw)
    checks: list[tuple[str, Check]] = []
    if "reply_stripped_equals" in spec:
        want = _without_signature(spec["reply_stripped_equals"])
        checks.append(("reply_stripped_equals (signature removed)", _equals(want)))
    if spec.get("reply_nonempty"):
        checks.append(("nonempty", lambda got: bool(got)))
    for want in spec.get("reply_not_contains", []):
        checks.append((f"not contains {want!r}", _not_contains(want)))
    return Case(path, Path(path).stem, "text", body, checks)


def _talon_html(base: Path, path: str, spec: dict, html_to_text) -> Case:
    body = (base / path).read_bytes().decode("utf-8", errors="replace")
    if "reply_text_without_whitespace_equals" in spec:
        want = spec["reply_text_without_whitespace_equals"]
    else:
        want = html_to_text(spec["reply_html_without_whitespace_equals"])
    check = ("text without whitespace", _equals_squashed(want))
    return Case(path, "html/" + Path(path).stem, "html", body, [check])


def _talon_signature(base: Path, path: str, spec: dict) -> Case:
    body = (base / path).read_bytes().decode("utf-8")
    check = ("text without signature", _equals(spec["text_stripped_equals"]))
    return Case(path, "signature/" + Path(path).stem.replace("_body", ""), "text", body, [check])


def talon_cases(root: Path, html_to_text) -> list[Case]:
    base = root / "mailgun-talon"
    spec = json.loads((base / "expected.json").read_text("utf-8"))
    builders = {
        "plain_reply": lambda p, s: _talon_plain(base, p, s),
        "html_reply": lambda p, s: _talon_html(base, p, s, html_to_text),
        "signature": lambda p, s: _talon_signature(base, p, s),
    }
    return [builders[s["kind"]](p, s) for p, s in sorted(spec["cases"].items()) if s["kind"] in builders]


# ---------------------------------------------------- crisp-email-forward-parser (message above)


def forward_message_cases(root: Path) -> list[Case]:
    """Inline forwards: the text the forwarder typed above the forward is the reply text.

    Only cases that assert `message` and are forwards (`null` = nothing typed, so '').
    """
    base = root / "crisp-email-forward-parser"
    spec = json.loads((base / "expected.json").read_text("utf-8"))
    cases = []
    for case in spec["cases"]:
        expected = case["expected"]
        if not expected.get("forwarded") or "message" not in expected:
            continue
        body = (base / case["body_file"]).read_bytes().decode("utf-8")
        group = f"{case['client']}/{case['language'] or '-'}"
        check = ("message above the forward", _equals(expected["message"] or ""))
        cases.append(Case(case["id"], group, "text", body, [check]))
    return cases


# ---------------------------------------------------------------- running


def failed_checks(case: Case, text_fn, html_fn) -> list[str]:
    got = (html_fn if case.kind == "html" else text_fn)(case.body)
    return [name for name, check in case.checks if not check(got)]


def score(title: str, cases: list[Case], text_fn, html_fn) -> tuple[int, dict[str, list[str]]]:
    per_group: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    failures: dict[str, list[str]] = {}
    for case in cases:
        failed = failed_checks(case, text_fn, html_fn)
        per_group[case.group][1] += 1
        if failed:
            failures[case.case_id] = failed
        else:
            per_group[case.group][0] += 1
    passed = len(cases) - len(failures)
    print(f"\n{title}: {passed}/{len(cases)} passed ({100 * passed / max(len(cases), 1):.0f}%)")
    for group, (ok, total) in sorted(per_group.items()):
        print(f"  {group:32} {ok}/{total}")
    for case_id, failed in failures.items():
        print(f"  FAIL {case_id}: {'; '.join(failed)}")
    return passed, failures


@pytest.fixture(scope="module")
def root() -> Path:
    return corpus_root()


def _need(root: Path, name: str) -> None:
    if not (root / name / "expected.json").is_file():
        pytest.skip(f"corpus {name} not found under {root} (set SMTP_LOGGER_CORPUS)")


def _ours():
    from smtp_logger.understand.replytext import html_to_text, reply_text, reply_text_from_html

    return reply_text, reply_text_from_html, html_to_text


def test_crisp_reply_corpus(root):
    _need(root, "crisp-email-reply-parser")
    text_fn, html_fn, _ = _ours()
    passed, _ = score("crisp-email-reply-parser", crisp_cases(root), text_fn, html_fn)
    assert passed == 70


def test_zapier_reply_corpus(root):
    _need(root, "zapier-email-reply-parser")
    text_fn, html_fn, _ = _ours()
    passed, _ = score("zapier-email-reply-parser", zapier_cases(root), text_fn, html_fn)
    assert passed == 17


def test_talon_reply_corpus(root):
    _need(root, "mailgun-talon")
    text_fn, html_fn, html_to_text = _ours()
    passed, _ = score("mailgun-talon", talon_cases(root, html_to_text), text_fn, html_fn)
    assert passed == 27


def test_crisp_forward_message_corpus(root):
    _need(root, "crisp-email-forward-parser")
    text_fn, html_fn, _ = _ours()
    cases = forward_message_cases(root)
    passed, _ = score("crisp-email-forward-parser (message above forward)", cases, text_fn, html_fn)
    assert passed == 175


def test_lines_passed_over_as_prose_never_start_a_marker(root):
    """The quote stripper keeps a line without trying each marker when `may_be_marker` says it
    cannot start one. Over every body of every reply corpus, and our own hand-written markers,
    no such line starts a quote, an attribution, a history block or a footer."""
    from smtp_logger.understand.replytext import _lines, _unindent, html_to_text, quotes

    from .test_replytext import ATTRIBUTIONS

    cases = []
    for name, load in (("crisp-email-reply-parser", crisp_cases), ("zapier-email-reply-parser", zapier_cases),
                       ("crisp-email-forward-parser", forward_message_cases)):
        if (root / name / "expected.json").is_file():
            cases += load(root)
    if (root / "mailgun-talon" / "expected.json").is_file():
        cases += talon_cases(root, html_to_text)
    if not cases:
        pytest.skip(f"no reply corpus found under {root} (set SMTP_LOGGER_CORPUS)")
    bodies = [case.body if case.kind == "text" else _unindent(html_to_text(case.body)) for case in cases]
    bodies += [f"Thanks!\n\n{line}\n> quoted" for line in ATTRIBUTIONS.values()]
    passed_over = markers = 0
    for body in bodies:
        lines = _lines(body)
        for i, line in enumerate(lines):
            if quotes.may_be_marker(line):
                continue
            passed_over += 1
            found = (quotes._is_quoted(line), quotes.attribution_end(lines, i) is not None,
                     quotes.starts_history(lines, i), quotes.starts_footer(line))
            assert not any(found), (line, found)
        markers += sum(quotes.attribution_end(lines, i) is not None or quotes.starts_history(lines, i)
                       for i in range(len(lines)))
    print(f"{len(bodies)} bodies: {passed_over} lines passed over as prose, {markers} markers found")
    assert passed_over > 1000 and markers > 100  # the check had real lines of both kinds to look at
