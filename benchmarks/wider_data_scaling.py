"""Is V2 Ultra's WIDER score limited by the number of WIDER photos it trains on? (issue 27: what limits it)

From weights that never saw WIDER (``--init``: the stage-8 files shipped at 95bc7ee / 4cfe67b), one recipe
(``--config``: stage 12, native-scale WIDER crops beside the Caltech/photos labels) is run with the first
N photos of a seeded shuffle of ``--wider-labels`` for each N in ``--sizes`` (nested: the 50 are among the
100). Each photo is repeated ``repeat * total / N`` times, so every run sees the same number of WIDER crops
and the same steps: only the number of distinct photos changes (the starting weights are scored too, as the
row before any WIDER photo). Each run is then scored

* on the WIDER val subset (official protocol, ``featherface eval --images``: easy / medium / hard), and
* on the train-subset photos, slice by slice of the nested order (photos 1-50, 51-100, 101-200 for
  ``--sizes 50 100 200``): AP at IoU 0.5 on every human box of at least ``--min-face`` px, as
  ``benchmarks/wider_fit.py``. The photos differ in difficulty, so seen and unseen are compared on the
  same slice: slice 51-100 is unseen by the 50-photo runs and seen by the 100-photo runs.

A slice found much better once trained on says the network memorises photos (short of photos); if the val
AP also climbs with N, more WIDER photos (the full train set has 12,880, 64x the subset) would help -- an
extrapolation, stated as one. Flat val AP with N, and seen slices not much above unseen ones, say the
number of photos is not what limits it.
Runs resume (``--resume auto``) and finished runs are not redone, so the command can be repeated.

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

import numpy as np
from tqdm import tqdm

from featherface.data.labels import load_annotations
from featherface.evaluation.human_boxes import score_box_set
from featherface.io.images import load_image
from featherface.io.paths import shared_dir
from featherface.peers.factory import build_detectors
from featherface.training.config import TrainConfig

ANY_SCORE = 0.02
SIZE_EDGES = (20.0, 40.0, 80.0)


def label_blocks(path: Path) -> list[list[str]]:
    """A RetinaFace-layout label file as one block of lines per image (its ``# path`` line first)."""
    blocks: list[list[str]] = []
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            blocks.append([line])
        elif line.strip() and blocks:
            blocks[-1].append(line)
    return blocks


def shuffled_indices(count: int, seed: int = 0) -> list[int]:
    """The seeded order every subset and slice is cut from."""
    order = list(range(count))
    random.Random(seed).shuffle(order)
    return order


def slices(sizes: list[int], total: int) -> list[tuple[int, int]]:
    """Consecutive ranges ``(lo, hi]`` of the shuffled order between the sizes, up to ``total``."""
    edges = sorted({0, total, *(n for n in sizes if 0 < n < total)})
    return list(zip(edges[:-1], edges[1:]))


def nested_subsets(blocks: list[list[str]], sizes: list[int], seed: int = 0) -> dict[int, list[list[str]]]:
    """The first N blocks of one seeded shuffle for each N, so a smaller set lies inside every larger one."""
    order = shuffled_indices(len(blocks), seed)
    out = {}
    for n in sizes:
        if not 0 < n <= len(blocks):
            raise SystemExit(f"--sizes: {n} is not between 1 and the {len(blocks)} labelled photos")
        out[n] = [blocks[i] for i in sorted(order[:n])]
    return out


def run_config(base: TrainConfig, labels: Path, n: int, total: int, seed: int, init: Path, epochs: int,
               out: Path) -> tuple[TrainConfig, list[str]]:
    """The base recipe with the WIDER source narrowed to ``labels`` (N photos, repeat scaled by total / N);
    sources whose label file is missing are dropped and named."""
    d = base.to_dict()
    sources, dropped = [], []
    for src in d.get("extra_sources") or []:
        if "widerface" in str(src.get("image_root", "")):
            src = {**src, "label_file": str(labels), "repeat": float(src.get("repeat", 1.0)) * total / n}
        elif not Path(src["label_file"]).is_file():
            dropped.append(src["label_file"])
            continue
        sources.append(src)
    d.update(extra_sources=sources, seed=seed, init_weights=str(init), epochs=epochs, output_dir=str(out),
             keep_epoch_weights=False)
    return TrainConfig.from_dict(d), dropped


def fit_aps(spec: str, parts: dict[str, list[tuple[Path, np.ndarray]]], min_face: float,
            threads: int) -> dict[str, float]:
    """AP at IoU 0.5 over each part's human boxes (``wider_fit.py``'s rule)."""
    dets, skipped = build_detectors([spec], score_threshold=ANY_SCORE, threads=threads)
    if skipped:
        raise SystemExit(f"{spec}: {skipped[0]}")
    det = next(iter(dets.values()))
    out = {}
    for name, images in parts.items():
        found = [list(det.detect(load_image(p))) for p, _ in tqdm(images, desc=f"fit {name}", unit="img", leave=False)]
        out[name] = round(score_box_set(found, [b for _, b in images], threshold=ANY_SCORE, min_face=min_face,
                                        size_edges=SIZE_EDGES).ap, 4)
    return out


def wider_val(spec: str, out: Path, images: Path, threads: int) -> dict[str, float]:
    """``featherface eval --images`` once per weights file (its JSON kept, so a rerun does not redo it)."""
    if not out.is_file():
        subprocess.run([sys.executable, "-m", "featherface", "eval", "--images", str(images), "--detectors", spec,
                        "--threads", str(threads), "--json", str(out)], check=True)
    w = next(iter(json.loads(out.read_text())["detectors"].values()))
    return {k: w[k] for k in ("easy", "medium", "hard")}


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
    blocks = label_blocks(args.wider_labels)
    subsets = nested_subsets(blocks, args.sizes)
    order = shuffled_indices(len(blocks))
    human = {a.path: np.asarray(a.boxes, np.float64).reshape(-1, 4)
             for a in load_annotations(wider / "train-subset" / "label.txt", layout="retinaface")}
    train_images = wider / "train-subset" / "images"
    parts = {}
    for lo, hi in slices(args.sizes, len(blocks)):
        names = [blocks[i][0][1:].strip() for i in order[lo:hi]]
        parts[f"{lo + 1}-{hi}"] = [(train_images / p, human[p]) for p in names if p in human]
    val_images = wider / "val-subset" / "images"
    base = TrainConfig.from_yaml(args.config)
    start = f"{args.model}:{args.init}"
    rows = [{"photos": None, "seed": None, **wider_val(start, args.out / "start-wider.json", val_images, args.threads),
             "fit": fit_aps(start, parts, args.min_face, args.threads), "dropped_sources": []}]
    print(json.dumps(rows[0]), flush=True)
    for n in args.sizes:
        labels = args.out / f"labels_wider_{n}.txt"
        labels.parent.mkdir(parents=True, exist_ok=True)
        labels.write_text("\n".join(line for b in subsets[n] for line in b) + "\n")
        for seed in args.seeds:
            run_dir = args.out / f"n{n}-seed{seed}"
            cfg, dropped = run_config(base, labels, n, len(blocks), seed, args.init, args.epochs, run_dir)
            final = run_dir / "final.pt"
            if not final.is_file():
                run_dir.mkdir(parents=True, exist_ok=True)
                (run_dir / "recipe.yaml").write_text(cfg.to_yaml())
                subprocess.run([sys.executable, "-m", "featherface", "train", "-c", str(run_dir / "recipe.yaml"),
                                "--resume", "auto", "--no-progress"], check=True)
            spec = f"{args.model}:{final}"
            rows.append({"photos": n, "seed": seed, **wider_val(spec, run_dir / "wider.json", val_images, args.threads),
                         "fit": fit_aps(spec, parts, args.min_face, args.threads), "dropped_sources": dropped})
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
