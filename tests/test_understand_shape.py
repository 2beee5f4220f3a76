"""The shape of understand/ and decide/ (issue 12): no private name imported from another module,
modules <= 400 lines, functions <= 60 lines, package docstrings that say what a package holds and
may import, and one owner of the bounce / auto-reply rules. Reads the source; runs nothing."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "smtp_logger"
PACKAGES = [ROOT / "understand", ROOT / "decide"]
SOURCES = sorted(p for package in PACKAGES for p in package.rglob("*.py"))
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text("utf-8"), str(path))


def module_aliases(module: ast.Module) -> set[str]:
    """Names bound to project modules (`from smtp_logger.understand import mime`, `import x as y`)."""
    names = set()
    for node in ast.walk(module):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("smtp_logger"):
            names |= {a.asname or a.name for a in node.names if (ROOT.parent / (node.module.replace(".", "/"))
                                                                 / a.name).with_suffix(".py").exists()}
        elif isinstance(node, ast.Import):
            names |= {a.asname or a.name for a in node.names if a.name.startswith("smtp_logger")}
    return names


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_name_from_another_module(path):
    module = tree(path)
    aliases = module_aliases(module)
    found = []
    for node in ast.walk(module):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("smtp_logger"):
            found += [f"from {node.module} import {a.name}" for a in node.names if a.name.startswith("_")]
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
              and node.attr.startswith("_") and not node.attr.startswith("__")):
            found.append(f"{node.value.id}.{node.attr}")
    assert found == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_and_functions_are_short(path):
    source = path.read_text("utf-8")
    assert len(source.splitlines()) <= MAX_MODULE_LINES
    long = [f"{node.name}: {node.end_lineno - node.lineno + 1} lines" for node in ast.walk(tree(path))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert long == []


@pytest.mark.parametrize("path", sorted((ROOT / "understand").rglob("__init__.py")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_each_understand_package_says_what_it_holds_and_may_import(path):
    doc = ast.get_docstring(tree(path), clean=False)
    assert doc, "no package docstring"
    assert 2 <= len(doc.strip().splitlines()) <= 3
    assert "import" in doc.lower()


def test_only_classify_knows_what_a_mail_system_sender_is():
    """The bounce / auto-reply rules live in classify/ alone; forwards/ and the rest ask it."""
    words = ("mailer-daemon", "postmaster", "auto-submitted", "multipart/report")
    writers = {ROOT / "decide" / "noticetext.py"}  # writes Auto-Submitted on our own notices; reads nothing
    outside = [f"{p.relative_to(ROOT)}: {w}" for p in SOURCES if "classify" not in p.parts and p not in writers
               for w in words if w in p.read_text("utf-8").lower()]
    assert outside == []
