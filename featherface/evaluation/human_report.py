"""The human-set evaluation as markdown: a row per detector, the facemask-by-size table, set sizes and rules."""

from __future__ import annotations

from typing import TYPE_CHECKING

from featherface.format import cell

if TYPE_CHECKING:
    from featherface.evaluation.human import HumanEvalResult

__all__ = ["format_markdown"]


def format_markdown(result: "HumanEvalResult") -> str:
    """One markdown table, a row per detector; a facemask-by-size table under it; set sizes and rules."""
    o = result.options
    thr = f"{o.threshold:g}"
    keys = list(result.sets)
    head = ["detector"]
    if "facemask" in keys:
        head += [f"facemask AP@{o.iou:g} (≥{o.min_face:g}px)", f"facemask P@{thr}", f"facemask R@{thr}"]
    if "caltech" in keys:
        sp = o.caltech_split
        head += [f"caltech-{sp} R@{thr}", f"caltech-{sp} unmatched@{thr} (/img)"]
    if "cuhk" in keys:
        head += [f"cuhk found@{thr}", "cuhk NME (box)", "cuhk NME (IOD)"]
    rot = f"cuhk ±{o.cuhk_rotation:g}°"
    if "cuhk_rot" in keys:
        head += [f"{rot} found@{thr}", f"{rot} NME (box)"]
    head.append("ms/img")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for rep in result.reports:
        cells = [rep.name]
        if "facemask" in keys:
            b = rep.sets["facemask"]
            cells += [cell(b.ap, ".4f"), cell(b.precision), cell(b.recall)]
        if "caltech" in keys:
            c = rep.sets["caltech"]
            cells += [cell(c.recall), f"{c.unmatched} ({cell(c.unmatched_per_image, '.2f')})"]
        if "cuhk" in keys:
            k = rep.sets["cuhk"]
            cells += [cell(k.found_rate), cell(k.nme, ".4f"), cell(k.nme_iod, ".4f")]
        if "cuhk_rot" in keys:
            r = rep.sets["cuhk_rot"]
            cells += [cell(r.found_rate), cell(r.nme, ".4f")]
        cells.append(cell(rep.ms_per_image, ".1f"))
        lines.append("| " + " | ".join(cells) + " |")
    if "facemask" in keys and result.reports:
        buckets = [d["bucket"] for d in result.reports[0].sets["facemask"].by_size]
        lines += ["", f"facemask by face size sqrt(w*h) at score {thr} (recall / precision):", "",
                  "| detector | " + " | ".join(f"R {b} | P {b}" for b in buckets) + " |",
                  "|---|" + "---|---|" * len(buckets)]
        for rep in result.reports:
            row = rep.sets["facemask"].by_size
            lines.append(f"| {rep.name} | " + " | ".join(f"{cell(d['recall'])} | {cell(d['precision'])}" for d in row) + " |")
        first = result.reports[0].sets["facemask"]
        counts = ", ".join(f"{d['bucket']}: {d['faces']}" for d in first.by_size)
        lines += ["", f"facemask: {first.images} images, {first.faces} faces >= {o.min_face:g} px counted "
                      f"({counts}), {first.ignored_faces} smaller ignored"]
    elif result.reports:
        lines.append("")
    if "caltech" in keys and result.reports:
        c = result.reports[0].sets["caltech"]
        lines.append(f"caltech ({o.caltech_split} split): {c.images} images, {c.faces} labelled faces; unmatched = "
                     "detections that contain no labelled face (may be unlabelled profile/tiny faces)")
    if "cuhk" in keys and result.reports:
        k = result.reports[0].sets["cuhk"]
        lines.append(f"cuhk: {k.images} faces; found = best detection at IoU >= {o.iou:g}; NME over found faces")
    if "cuhk_rot" in keys and result.reports:
        lines.append(f"{rot}: each CUHK image turned +{o.cuhk_rotation:g}° and -{o.cuhk_rotation:g}° "
                     f"({result.reports[0].sets['cuhk_rot'].images} faces), points turned with it; the face box keeps "
                     "its size around the turned centre")
    if o.limit is not None:
        lines.append(f"--limit {o.limit}: first {o.limit} images of each set only; not comparable with full-set numbers")
    lines.append("ms/img: median detect() time per image over all sets, at the detectors' own score threshold "
                 "(the CLI builds them at 0.02 so that AP sees the whole ranking; decoding not timed)")
    return "\n".join(lines)
