"""Precision-recall pictures: a WIDER FACE evaluation's settings, and every detector on a human box set.

Both use matplotlib's object API with the Agg canvas (no pyplot, no global backend switch), so they
work headless and do not disturb a caller's own figures; one figure layout serves both.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from featherface.errors import FeatherFaceError
from featherface.format import cell

if TYPE_CHECKING:
    from featherface.evaluation.human import HumanEvalResult

__all__ = ["plot_box_pr", "plot_pr_curves"]

_COLORS = {"easy": "tab:green", "medium": "tab:orange", "hard": "tab:red"}


def _pr_axes() -> tuple[Any, Any]:
    """A fresh (figure, axes) for a precision-recall picture."""
    try:  # matplotlib is an optional extra (featherface[plot]): imported on use
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise FeatherFaceError("plotting needs matplotlib: pip install 'featherface[plot]'") from exc
    fig = Figure(figsize=(6.0, 4.5), dpi=120)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot(1, 1, 1)


def _save_pr(fig: Any, ax: Any, title: str, path: str | os.PathLike[str]) -> Path:
    """Unit axes, labels, grid, ``title`` and the legend; written to ``path`` (its folder made)."""
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.grid(True, alpha=0.3)
    ax.set_title(title)
    ax.legend(loc="lower left")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    return out


def plot_pr_curves(result: dict[str, Any], path: str | os.PathLike[str], title: str | None = None) -> Path:
    """Draw the PR curve of every setting of ``result`` (from ``evaluate``) into ``path``, AP in the legend.

    Thresholds where no prediction passes (precision undefined) are not drawn.
    """
    fig, ax = _pr_axes()
    curves = result.get("curves") or {}
    if not curves:
        raise FeatherFaceError("nothing to plot: the result has no precision-recall curves")
    for setting, c in curves.items():
        valid = np.asarray(c["proposals"]) > 0
        rec = np.asarray(c["recall"])[valid]
        prec = np.asarray(c["precision"])[valid]
        ap = result.get(setting, float("nan"))
        ax.plot(rec, prec, lw=2.0, color=_COLORS.get(setting), label=f"{setting} (AP {ap:.3f})")
    return _save_pr(fig, ax, title or "WIDER FACE val precision-recall", path)


def plot_box_pr(result: "HumanEvalResult", path: str | os.PathLike[str], set_name: str = "facemask",
                title: str | None = None) -> Path:
    """Precision-recall curve of every detector on a box set, AP in the legend, the operating point dotted."""
    fig, ax = _pr_axes()
    reps = [r for r in result.reports if set_name in r.sets]
    if not reps:
        raise FeatherFaceError(f"nothing to plot: no detector was evaluated on the {set_name} set")
    for r in reps:
        b = r.sets[set_name]  # a BoxSetResult
        rec, prec = np.asarray(b.curve.get("recall", [])), np.asarray(b.curve.get("precision", []))
        (line,) = ax.plot(rec, prec, lw=2.0, label=f"{r.name} (AP {cell(b.ap)})")
        if b.recall is not None and b.precision is not None:
            ax.plot([b.recall], [b.precision], "o", color=line.get_color(), ms=5)
    o = result.options
    return _save_pr(fig, ax, title or f"{set_name}: faces >= {o.min_face:g} px, IoU {o.iou:g} "
                                      f"(dots: score {o.threshold:g})", path)
