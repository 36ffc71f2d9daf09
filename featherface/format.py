"""Numbers in reports: one rule for rounding a JSON value and one for a table cell (floor 0).

Shared by the human-set evaluation, the detector comparison and the benchmark tables, so a missing
value reads the same everywhere: ``None`` in JSON, a dash in markdown.
"""

from __future__ import annotations

import math

__all__ = ["DASH", "cell", "ratio", "rounded"]

#: what a markdown cell shows for a missing value
DASH = "–"


def rounded(v: float | None, nd: int = 4) -> float | None:
    """``v`` rounded to ``nd`` places for JSON; ``None``, NaN and infinities become ``None``."""
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else round(float(v), nd)


def cell(v: float | None, spec: str = ".3f", missing: str = DASH) -> str:
    """A table cell: ``v`` formatted with ``spec``, or ``missing`` (a dash) when there is none."""
    return missing if v is None else format(v, spec)


def ratio(a: float, b: float) -> float | None:
    """``a / b``, or ``None`` when ``b`` is 0 (a rate over nothing is undefined, not 0)."""
    return float(a) / float(b) if b else None
