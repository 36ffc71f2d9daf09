"""Is V2 Ultra's WIDER score limited by the number of WIDER photos it trains on? (issue 27: what limits it)

From weights that never saw WIDER (``--init``: the stage-8 files shipped at 95bc7ee / 4cfe67b), one recipe
(``--config``: stage 12, native-scale WIDER crops beside the Caltech/photos labels) is run with the first
N photos of a seeded shuffle of ``--wider-labels`` for each N in ``--sizes`` (nested: the 50 are among the
100). Each photo is repeated ``repeat * total / N`` times, so every run sees the same number of WIDER crops
and the same steps: only the number of distinct photos changes (the starting weights are scored too, as the
row before any WIDER photo). Each run is then scored

* on the WIDER val subset (official protocol, scored as ``featherface eval --images`` does: easy / medium /
  hard), and
* on the train-subset photos, slice by slice of the nested order (photos 1-50, 51-100, 101-200 for
  ``--sizes 50 100 200``): AP at IoU 0.5 on every human box of at least ``--min-face`` px, as
  ``benchmarks/wider_fit.py``. The photos differ in difficulty, so seen and unseen are compared on the
  same slice: slice 51-100 is unseen by the 50-photo runs and seen by the 100-photo runs.

A slice found much better once trained on says the network memorises photos (short of photos); if the val
AP also climbs with N, more WIDER photos (the full train set has 12,880, 64x the subset) would help -- an
extrapolation, stated as one. Flat val AP with N, and seen slices not much above unseen ones, say the
number of photos is not what limits it.
Training runs resume (``--resume auto``) and finished ones are not redone (only scored again), so the command
can be repeated.

    git show 95bc7ee:featherface/weights/featherface-v2-ultra.pt > runs/wider-scaling/v2-ultra-stage8.pt
    git show 4cfe67b:featherface/weights/featherface-v1.pt > runs/wider-scaling/v1-stage8.pt
    python benchmarks/wider_data_scaling.py --sizes 50 100 200 --seeds 0 1 --json docs/wider_data_scaling.json
    python benchmarks/wider_data_scaling.py --model featherface-v1 --init runs/wider-scaling/v1-stage8.pt \
        --config configs/default-weights-v1-stage12.yaml --out runs/wider-scaling-v1 --sizes 50 200 --seeds 0 \
        --json docs/wider_data_scaling_v1.json 1
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from featherface.data.labels import ImageAnnotation, load_annotations, write_retinaface_labels
from featherface.evaluation.human_boxes import score_box_set
from featherface.evaluation.runner import WIDER_SCORE_THRESHOLD, evaluate_detectors, restrict_to_present
from featherface.evaluation.wider_gt import default_ground_truth_dir, load_wider_ground_truth
from featherface.io.images import load_image
from featherface.io.paths import shared_dir
from featherface.peers.factory import build_detectors
from featherface.training.config import TrainConfig

SIZE_EDGES = (20.0, 40.0, 80.0)


def shuffled_indices(count: int, seed: int = 0) -> list[int]:
    """The seeded order every subset and slice is cut from."""
    order = list(range(count))
    random.Random(seed).shuffle(order)
    return order


def slices(sizes: list[int], total: int) -> list[tuple[int, int]]:
    """Consecutive ranges ``(lo, hi]`` of the shuffled order between the sizes, up to ``total``."""
    edges = sorted({0, total, *(n for n in sizes if 0 < n < total)})
    return list(zip(edges[:-1], edges[1:]))


def nested_subsets(photos: list[ImageAnnotation], sizes: list[int], seed: int = 0) -> dict[int, list[ImageAnnotation]]:
    """The first N photos of one seeded shuffle for each N (in file order), so a smaller set lies inside every
    larger one."""
    order = shuffled_indices(len(photos), seed)
    out = {}
    for n in sizes:
        if not 0 < n <= len(photos):
            raise SystemExit(f"--sizes: {n} is not between 1 and the {len(photos)} labelled photos")
        out[n] = [photos[i] for i in sorted(order[:n])]
    return out


def run_config(base: TrainConfig, wider_labels: Path, labels: Path, n: int, total: int, seed: int, init: Path,
               epochs: int, out: Path) -> tuple[TrainConfig, list[str]]:
    """The base recipe with its ``wider_labels`` source narrowed to ``labels`` (N photos, repeat scaled by
    total / N); sources whose label file is missing are dropped and named."""
    d = base.to_dict()
    sources, dropped, narrowed = [], [], False
    for src in d.get("extra_sources") or []:
        if Path(src["label_file"]) == wider_labels:
            src = {**src, "label_file": str(labels), "repeat": float(src.get("repeat", 1.0)) * total / n}
            narrowed = True
        elif not Path(src["label_file"]).is_file():
            dropped.append(src["label_file"])
            continue
        sources.append(src)
    if not narrowed:  # every run would train on the same photos and the table would say nothing
        raise SystemExit(f"the recipe has no extra source reading {wider_labels}")
    d.update(extra_sources=sources, seed=seed, init_weights=str(init), epochs=epochs, output_dir=str(out),
             keep_epoch_weights=False)
    return TrainConfig.from_dict(d), dropped


def score(spec: str, gt: Any, val_images: Path, parts: dict[str, list[tuple[Path, np.ndarray]]],
          min_face: float, threads: int) -> dict[str, Any]:
    """One detector: the WIDER val subset by the official protocol (``featherface eval --images``'s scoring)
    and AP at IoU 0.5 over each train part's human boxes (``wider_fit.py``'s rule)."""
    dets, skipped = build_detectors([spec], score_threshold=WIDER_SCORE_THRESHOLD, threads=threads)
    if skipped:
        raise SystemExit(f"{spec}: {skipped[0]}")
    val = next(iter(evaluate_detectors(dets, gt, val_images, progress=True).values()))
    det = next(iter(dets.values()))
    fit = {}
    for name, images in parts.items():
        found = [list(det.detect(load_image(p))) for p, _ in tqdm(images, desc=f"fit {name}", unit="img", leave=False)]
        fit[name] = round(score_box_set(found, [b for _, b in images], threshold=WIDER_SCORE_THRESHOLD,
                                        min_face=min_face, size_edges=SIZE_EDGES).ap, 4)
    return {**{k: val[k] for k in ("easy", "medium", "hard")}, "fit": fit}


def main(argv: list[str] | None = None) -> int:
    wider = shared_dir() / "data" / "widerface"
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", type=Path, default=Path("configs/default-weights-v2-ultra-stage12.yaml"))
    ap.add_argument("--init", type=Path, default=Path("runs/wider-scaling/v2-ultra-stage8.pt"))
    ap.add_argument("--model", default="featherface-v2-ultra", help="registry name the weights are scored as")
    ap.add_argument("--wider-labels", type=Path, default=Path("runs/default-weights/labels_wider_train.txt"))
    ap.add_argument("--sizes", type=int, nargs="+", default=[50, 200])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--min-face", type=float, default=10.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("runs/wider-scaling"))
    ap.add_argument("--json", type=Path, default=Path("runs/wider-scaling/result.json"))
    args = ap.parse_args(argv)
    for p in (args.config, args.init, args.wider_labels, wider / "train-subset" / "label.txt"):
        if not p.is_file():
            print(f"{p}: not found (see this script's header)", file=sys.stderr)
            return 1
    args.out.mkdir(parents=True, exist_ok=True)
    photos = load_annotations(args.wider_labels, layout="retinaface")
    subsets = nested_subsets(photos, args.sizes)
    order = shuffled_indices(len(photos))
    human = {a.path: np.asarray(a.boxes, np.float64).reshape(-1, 4)
             for a in load_annotations(wider / "train-subset" / "label.txt", layout="retinaface")}
    train_images = wider / "train-subset" / "images"
    parts = {}
    for lo, hi in slices(args.sizes, len(photos)):
        names = [photos[i].path for i in order[lo:hi]]
        parts[f"{lo + 1}-{hi}"] = [(train_images / p, human[p]) for p in names if p in human]
    val_images = wider / "val-subset" / "images"
    gt, _ = restrict_to_present(load_wider_ground_truth(default_ground_truth_dir()), val_images)
    base = TrainConfig.from_yaml(args.config)
    rows = [{"photos": None, "seed": None, **score(f"{args.model}:{args.init}", gt, val_images, parts, args.min_face,
                                                   args.threads), "dropped_sources": []}]
    print(json.dumps(rows[0]), flush=True)
    for n in args.sizes:
        labels = write_retinaface_labels(args.out / f"labels_wider_{n}.txt", subsets[n])
        for seed in args.seeds:
            run_dir = args.out / f"n{n}-seed{seed}"
            cfg, dropped = run_config(base, args.wider_labels, labels, n, len(photos), seed, args.init, args.epochs,
                                      run_dir)
            final = run_dir / "final.pt"
            if not final.is_file():
                run_dir.mkdir(parents=True, exist_ok=True)
                (run_dir / "recipe.yaml").write_text(cfg.to_yaml())
                subprocess.run([sys.executable, "-m", "featherface", "train", "-c", str(run_dir / "recipe.yaml"),
                                "--resume", "auto", "--no-progress"], check=True)
            rows.append({"photos": n, "seed": seed, **score(f"{args.model}:{final}", gt, val_images, parts,
                                                            args.min_face, args.threads), "dropped_sources": dropped})
            print(json.dumps(rows[-1]), flush=True)
    names = list(parts)
    print("\nWIDER val subset (official protocol) and AP on train-subset slices (* = trained on by that run):\n")
    print("| WIDER photos | seed | easy | medium | hard | " + " | ".join(f"train {k}" for k in names) + " |")
    print("|---|---|---|---|---|" + "---|" * len(names))
    for r in rows:
        n = r["photos"] or 0  # the starting weights have seen none
        cells = " | ".join(f"{r['fit'][k]:.3f}{'*' if int(k.split('-')[1]) <= n else ''}" for k in names)
        label = "start (no WIDER)" if r["photos"] is None else str(r["photos"])
        print(f"| {label} | {'' if r['seed'] is None else r['seed']} | {r['easy']:.3f} | {r['medium']:.3f} | "
              f"{r['hard']:.3f} | {cells} |")
    for d in sorted({d for r in rows for d in r["dropped_sources"]}):
        print(f"dropped from the recipe (label file not found): {d}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"config": str(args.config), "init": str(args.init), "epochs": args.epochs,
                                     "min_face": args.min_face, "runs": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
