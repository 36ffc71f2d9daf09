"""Names a package exports on first use (PEP 562), so importing the package stays cheap (floor 0).

``featherface.data``, ``.inference``, ``.export``, ``.ops`` and ``.training`` re-export names whose
homes need torch, OpenCV or onnx; :func:`lazy_exports` gives each one ``__getattr__`` and
``__dir__`` that import a name's home module only when the name is first asked for.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable, Mapping

__all__ = ["lazy_exports"]


def lazy_exports(package: str, homes: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: ``homes`` maps each exported name to its module."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(home), name)

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(homes))

    return __getattr__, __dir__
