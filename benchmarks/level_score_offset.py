"""Is V2 Ultra's WIDER-hard AP a ranking problem between pyramid levels? (issue 27: what limits it)

V2 Ultra finds most small faces only at low scores (10-20 px faces: 0.66 found at any score, 0.14 at
>= 0.5, RetinaFace 0.44). If that were only calibration, raising the face logit of the stride-8 level
(where small faces are found) by a constant would lift them above other levels' false faces and raise
hard AP. This writes copies of a weights file with an offset added to each level's face-logit bias
(``--offsets`` "b8,b16,b32", one copy each) and scores them beside the file on the WIDER val subset
(official protocol, one ``featherface eval --images`` run). A diagnosis, not a shipped change.

    python benchmarks/level_score_offset.py --offsets 0.5,0,0 1,0,0 2,0,0 1,0.5,0 --json runs/level_offset.json
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from featherface.io.paths import shared_dir
from featherface.models.shipped import verify_builtin
from featherface.models.weights import atomic_torch_save, read_weights, state_dict_sha256


def with_level_offsets(obj: dict, offsets: list[float]) -> dict:
    """A copy of a weights dict whose level-``i`` face logits (class 1 of every anchor) gain ``offsets[i]``."""
    sd = {k: v.clone() for k, v in obj["state_dict"].items()}
    for i, b in enumerate(offsets):
        keys = [k for k in sd if k.startswith(f"head.heads.{i}.") and k.endswith("cls.bias")]
        if len(keys) != 1:
            raise SystemExit(f"level {i}: expected one class-bias tensor, found {keys}")
        sd[keys[0]][1::2] += b  # channels (anchor a, class k) at a * 2 + k: the face logits are the odd ones
    return {**obj, "state_dict": sd, "sha256": state_dict_sha256(sd)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="featherface-v2-ultra")
    ap.add_argument("--weights", type=Path, default=None, help="default: the shipped file of --model")
    ap.add_argument("--offsets", nargs="+", default=["0.5,0,0", "1,0,0", "2,0,0", "1,0.5,0"])
    ap.add_argument("--out", type=Path, default=Path("runs/level-offset"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=Path("runs/level_offset.json"))
    args = ap.parse_args(argv)
    weights = args.weights or verify_builtin(args.model)
    obj = read_weights(weights)
    args.out.mkdir(parents=True, exist_ok=True)
    specs = [f"{args.model}:{weights}"]
    for text in args.offsets:
        offsets = [float(v) for v in text.split(",")]
        path = args.out / f"offset-{text.replace(',', '_')}.pt"
        atomic_torch_save(with_level_offsets(obj, offsets), path)
        specs.append(f"{args.model}:{path}")
    images = shared_dir() / "data" / "widerface" / "val-subset" / "images"
    return subprocess.run([sys.executable, "-m", "featherface", "eval", "--images", str(images), "--detectors",
                           ",".join(specs), "--threads", str(args.threads), "--json", str(args.json)]).returncode


if __name__ == "__main__":
    sys.exit(main())
