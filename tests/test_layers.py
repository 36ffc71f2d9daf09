"""Imports point down: the lower floors never import the exporter, even lazily inside a function."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "featherface"
LOWER_FLOORS = ("inference", "peers", "training", "data", "evaluation", "ops", "models", "io")


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


@pytest.mark.parametrize("floor", LOWER_FLOORS)
def test_lower_floors_do_not_import_the_exporter(floor):
    folder = PACKAGE / floor
    if not folder.is_dir():
        pytest.skip(f"featherface/{floor} does not exist")
    offenders = sorted(
        f"{p.relative_to(PACKAGE.parent)}: {m}"
        for p in folder.rglob("*.py")
        for m in imported_modules(p)
        if m == "featherface.export" or m.startswith("featherface.export.")
    )
    assert not offenders, offenders


def test_import_featherface_loads_no_optional_extra_and_no_exporter():
    """The backends import onnxruntime / onnx on use only, and the exporter is wired in lazily."""
    code = ("import sys, featherface, featherface.inference.backends, featherface.peers.base; "
            "print(sorted(m for m in ('onnxruntime', 'onnx', 'featherface.export') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
