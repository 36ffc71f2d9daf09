"""Load a script of benchmarks/ or tools/ as a module, so its functions can be tested (scripts are not a package)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]


def load_script(path: Path | str) -> ModuleType:
    """Execute the script's top level (``main()`` runs only under ``__main__``) and return the module."""
    path = REPO / path
    spec = importlib.util.spec_from_file_location(f"script_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
