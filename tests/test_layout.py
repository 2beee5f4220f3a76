"""The house rules that keep the code readable, checked on the real tree: the layers hold (and a
wrong import breaks `lint-imports`), SQL lives only in store/, modules stay small, no private
name crosses a module, and the rules' CHECKS give exactly the reason codes in SPEC.md's order."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from smtp_logger.decide import reasons, rules

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "smtp_logger"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
MIGRATIONS = PACKAGE / "store" / "migrations"
SQL_BUILDERS = {"select", "insert", "update", "delete", "text"}  # sqlalchemy's, called by name
SQL_RUNNERS = {"execute", "scalars", "scalar"}  # called on a session or connection
MAX_MODULE_LINES = 400


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if MIGRATIONS not in p.parents)


def _lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, capture_output=True, text=True,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, timeout=120)


@pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed (pip install -e .[test])")
def test_the_layers_hold_and_a_wrong_import_breaks_them(tmp_path):
    assert _lint(REPO).returncode == 0, _lint(REPO).stdout[-2000:]
    copy = tmp_path / "repo"
    shutil.copytree(PACKAGE, copy / "smtp_logger", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", copy / "pyproject.toml")
    rules_copy = copy / "smtp_logger" / "decide" / "rules.py"
    rules_copy.write_text(rules_copy.read_text() + "\nfrom smtp_logger.store import models  # noqa\n")
    broken = _lint(copy)
    assert broken.returncode != 0
    assert "smtp_logger.decide.rules -> smtp_logger.store.models" in broken.stdout


def _sql_calls(tree: ast.AST) -> list[int]:
    """Lines that build or run SQL: select(...), text(...), x.execute(...), session.get(...)."""
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in SQL_BUILDERS \
                or isinstance(func, ast.Attribute) and func.attr in SQL_RUNNERS \
                or isinstance(func, ast.Attribute) and func.attr == "get" \
                and isinstance(func.value, ast.Name) and func.value.id == "session":
            lines.append(node.lineno)
    return lines


def test_no_sql_outside_the_store():
    offenders = []
    for path in _modules():
        if PACKAGE / "store" in path.parents:
            continue
        source = path.read_text()
        lines = source.splitlines()
        offenders += [f"{path.relative_to(REPO)}:{n}: {lines[n - 1].strip()}" for n in sorted(set(_sql_calls(ast.parse(source))))]
    assert not offenders, "SQL outside smtp_logger/store/:\n" + "\n".join(offenders)


def test_modules_stay_small():
    big = [f"{p.relative_to(REPO)}: {n} lines" for p in _modules()
           if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES]
    assert not big, "split these along a line the data flow draws:\n" + "\n".join(big)


def test_no_private_name_is_imported_from_another_module():
    found = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("smtp_logger"):
                found += [f"{path.relative_to(REPO)}: {node.module}.{alias.name}"
                          for alias in node.names if alias.name.startswith("_") and alias.name != "__version__"]
    assert not found, "make these public or move them:\n" + "\n".join(found)


def test_every_package_says_what_it_holds():
    silent = [str(p.relative_to(REPO)) for p in PACKAGE.rglob("__init__.py")
              if MIGRATIONS not in p.parents and not ast.get_docstring(ast.parse(p.read_text()))]
    assert not silent, "packages without a docstring: " + ", ".join(silent)


def test_the_checks_give_the_reason_codes_in_precedence_order():
    given = [reason for check in rules.CHECKS for reason in check.reasons]
    assert given == list(reasons.NOT_LOGGED)
    assert set(given) <= set(reasons.EXPLANATIONS)
    assert reasons.HELD_REASONS <= set(given)
