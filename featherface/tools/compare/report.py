"""The comparison as markdown: one row per detector (speed, faces, agreement), and the WIDER AP table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from featherface.format import DASH, cell

if TYPE_CHECKING:
    from featherface.tools.compare.run import ComparisonResult


def format_markdown(result: "ComparisonResult") -> str:
    """The comparison as a GitHub-markdown table (one row per detector) plus a legend line."""
    head = ("| detector | input | landmarks | faces | ms/img median | ms/img p90 | "
            f"precision vs {result.reference} | recall vs {result.reference} | landmark NME vs {result.reference} |")
    lines = [head, "|" + "---|" * 9]
    for r in result.runs:
        a = result.agreements.get(r.name)
        if r.name == result.reference:
            prec = rec = "(reference)"
            nme = "(reference)"
        else:
            prec = cell(a.precision if a else None, ".3f")
            rec = cell(a.recall if a else None, ".3f")
            nme = cell(a.landmark_nme if a else None, ".3f")
        lines.append(
            f"| {r.name} | {r.input} | {'yes' if r.landmarks else 'no'} | {r.faces_found} | "
            f"{cell(r.latency(50), '.1f')} | {cell(r.latency(90), '.1f')} | {prec} | {rec} | {nme} |"
        )
    lines.append("")
    lines.append(
        f"{len(result.images)} images; latency = per-image median of {result.repeats} timed runs after a warm-up, "
        f"then median / 90th percentile over images. Agreement: one-to-one greedy matching at IoU >= "
        f"{result.iou_threshold:g}; landmark NME = mean point distance / sqrt(reference box area)."
    )
    return "\n".join(lines)


def format_wider_markdown(scores: Mapping[str, Mapping[str, Any]]) -> str:
    """WIDER AP table, one row per detector (the output of :func:`~featherface.tools.compare.wider.evaluate_on_wider`)."""
    lines = ["| detector | easy AP | medium AP | hard AP | images | s/img |", "|---|---|---|---|---|---|"]
    partial = False
    for name, s in scores.items():
        partial = partial or bool(s.get("partial"))
        n = int(s.get("images", 0)) or 1
        lines.append(
            f"| {name} | {cell(s.get('easy'), '.4f')} | {cell(s.get('medium'), '.4f')} | {cell(s.get('hard'), '.4f')} | "
            f"{s.get('images', DASH)} | {cell(s.get('seconds', 0.0) / n, '.3f')} |"
        )
    if partial:
        lines.append("")
        lines.append("Partial run (a subset of WIDER val): not comparable with published numbers.")
    return "\n".join(lines)
