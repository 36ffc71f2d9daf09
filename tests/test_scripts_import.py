"""Every script in benchmarks/ and tools/ imports: a name moved in the package breaks them here,
not in the middle of a long measurement (false_faces.py once failed that way)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scripts import REPO, load_script

SCRIPTS = sorted([*(REPO / "benchmarks").glob("*.py"), *(REPO / "tools").glob("*.py")])


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_script_imports(path: Path) -> None:
    load_script(path)  # top level only: main() runs under __main__
