"""featherface.io is the lowest floor: its modules import the standard library, numpy, OpenCV,
featherface.errors and each other, never torch or a module above them (an AST check of the source)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import featherface.io

ALLOWED_THIRD_PARTY = {"numpy", "cv2", "PIL", "matplotlib", "av"}  # PIL: lazily, for PIL inputs; matplotlib: a presence check; av: optional audio copy
ALLOWED_OWN = {"featherface.errors"}


def test_io_imports_nothing_above_it():
    folder = Path(featherface.io.__file__).parent
    bad = []
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top == "featherface":
                    if not (name in ALLOWED_OWN or name.startswith("featherface.io")):
                        bad.append(f"{path.name}: {name}")
                elif top not in sys.stdlib_module_names and top not in ALLOWED_THIRD_PARTY and top != "__future__":
                    bad.append(f"{path.name}: {name}")
    assert not bad, bad
