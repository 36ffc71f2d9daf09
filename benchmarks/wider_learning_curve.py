"""WIDER AP per training epoch: the learning curve of one or more training runs on the WIDER val images
present (issue 27: "subset AP per stage").

Every ``epoch<N>.pt`` of each run folder (``train --keep-epoch-weights``) and any extra weights files
(e.g. the stage's starting point) are scored with the official protocol (score >= 0.02, original size,
one thread) on the images under ``--images`` (a subset is scored against the ground truth of the images
present and says so). Scores are cached by the weights file's sha256 in the JSON, so a rerun scores only
the new files.

    python benchmarks/wider_learning_curve.py runs/default-weights/featherface-v2-ultra-stage10 \
        --extra featherface/weights/featherface-v2-ultra.pt --json docs/wider_curve.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

from featherface.evaluation.runner import evaluate_detectors, restrict_to_present
from featherface.evaluation.wider_gt import default_ground_truth_dir, load_wider_ground_truth
from featherface.io.paths import shared_dir
from featherface.models.weights import read_weights
from featherface.peers.factory import our_detector


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _epoch(path: Path) -> int:
    m = re.fullmatch(r"epoch(\d+)\.pt", path.name)
    return int(m.group(1)) if m else 0


def run(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="*", type=Path, help="training output folders with epoch<N>.pt files")
    ap.add_argument("--extra", nargs="*", type=Path, default=[], help="more weights files (e.g. the starting point)")
    ap.add_argument("--images", type=Path, default=shared_dir() / "data" / "widerface" / "val-subset" / "images")
    ap.add_argument("--gt", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=Path("runs/wider_curve.json"))
    args = ap.parse_args(argv)
    files = list(args.extra) + [p for r in args.runs for p in sorted(r.glob("epoch*.pt"), key=_epoch)]
    if not files:
        print("no weights files given or found", file=sys.stderr)
        return 1
    gt, subset = restrict_to_present(load_wider_ground_truth(args.gt or default_ground_truth_dir()), args.images)
    doc = json.loads(args.json.read_text()) if args.json.is_file() else {}
    if subset is not None and doc.get("subset", {}).get("key") not in (None, subset.key):
        print(f"{args.json} holds scores of another image set; give another --json", file=sys.stderr)
        return 1
    doc["subset"] = subset.to_dict() if subset is not None else None
    scores = doc.setdefault("scores", {})
    for path in files:
        key = _sha(path)
        if key in scores:  # scored before: only its labels follow the file's current place
            scores[key].update(file=str(path), run=str(path.parent))
            continue
        weights = read_weights(path)
        meta = weights.get("meta") or {}
        det = our_detector(weights["model"], str(path), score_threshold=0.02, threads=1)
        row = evaluate_detectors({path.name: det}, gt, args.images, progress=True)[path.name]
        row.update(file=str(path), model=weights["model"], epoch=meta.get("epoch"),
                   global_step=meta.get("global_step"), run=str(path.parent))
        scores[key] = row
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=1) + "\n")  # after every file: an interrupted run keeps its work
    print(f"\nWIDER val AP per epoch ({subset.note() if subset else 'full val'}; score >= 0.02, original size)\n")
    print("| weights | model | epoch | easy | medium | hard | hard recall 10-20 px | 20-40 px |\n|---|---|---|---|---|---|---|---|")
    for path in files:
        r = scores[_sha(path)]
        size = {d["bucket"]: d["recall"] for d in r.get("recall_by_size", [])}
        print(f"| {r['file']} | {r['model']} | {r['epoch']} | {r['easy']:.3f} | {r['medium']:.3f} | {r['hard']:.3f} | "
              f"{size.get('10-20 px', float('nan')):.2f} | {size.get('20-40 px', float('nan')):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(run())
