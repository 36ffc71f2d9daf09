"""Precision-recall plot of a WIDER FACE evaluation (matplotlib, imported only when called)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from featherface.errors import FeatherFaceError

__all__ = ["plot_pr_curves"]

_COLORS = {"easy": "tab:green", "medium": "tab:orange", "hard": "tab:red"}


def plot_pr_curves(result: dict[str, Any], path: str | os.PathLike[str], title: str | None = None) -> Path:
    """Draw the PR curve of every setting of ``result`` (from ``evaluate``) into ``path``, AP in the legend.

    Uses matplotlib's object API with the Agg canvas (no pyplot, no global backend switch), so it
    works headless and does not disturb a caller's own figures. Thresholds where no prediction
    passes (precision undefined) are not drawn.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise FeatherFaceError("plotting needs matplotlib: pip install 'featherface[plot]'") from exc
    curves = result.get("curves") or {}
    if not curves:
        raise FeatherFaceError("nothing to plot: the result has no precision-recall curves")
    fig = Figure(figsize=(6.0, 4.5), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for setting, c in curves.items():
        valid = np.asarray(c["proposals"]) > 0
        rec = np.asarray(c["recall"])[valid]
        prec = np.asarray(c["precision"])[valid]
        ap = result.get(setting, float("nan"))
        ax.plot(rec, prec, lw=2.0, color=_COLORS.get(setting), label=f"{setting} (AP {ap:.3f})")
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.grid(True, alpha=0.3)
    ax.set_title(title or "WIDER FACE val precision-recall")
    ax.legend(loc="lower left")
    fig.tight_layout()
    out = Path(path)
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    return out
