"""Do the landmarks follow head roll, and where in the network is the roll lost? (issue 27, item 3)

Two measurements per network, one run:

* **follow**: the CUHK faces turned +-D degrees about the image centre (``featherface.evaluation.rotated``,
  as ``featherface eval --cuhk-rotation D``); for the found face, the angle of the predicted eye line
  and mouth line against the human one. ``slope`` = mean(predicted * true) / mean(true^2): 1 follows the
  head, 0 draws level points whatever the roll.
* **probe**: is the roll still *in the features*? Caltech WebFaces train-split faces (human eye points,
  never the evaluation sets) are each turned by a random angle in +-30 degrees and scaled so the face
  lands on one pyramid level (24 px on stride 8, 96 px on stride 16, 320 px on stride 32); the feature
  vector at the face centre's cell is read at every stage of ``forward_features`` (backbone, neck,
  after the techniques, head input, and V2 Ultra's head-trunk output) and a ridge regression from it to the eye-line angle is fitted on
  70 % of the faces and scored (R^2) on the rest. A stage whose R^2 is ~0 has lost the roll: no head
  trained on it can draw tilted points.

    python benchmarks/landmark_roll.py                                  # shipped V2 Ultra, V1, RetinaFace
    python benchmarks/landmark_roll.py --detectors featherface-v2-ultra:runs/x/final.pt --faces 300
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

from featherface.data.benchmarks import load_caltech, load_cuhk
from featherface.data.transforms import subtract_mean
from featherface.evaluation.rotated import rotate_face
from featherface.inference.detector import FaceDetector
from featherface.io.images import load_image
from featherface.io.paths import shared_dir
from featherface.ops.iou import iou_matrix
from featherface.peers.retinaface import resolve_retinaface_weights

#: face size (eye distance x 2.5) and canvas per pyramid level: the face on that level's priors
LEVELS = ((24, 8, 160), (96, 16, 320), (320, 32, 640))
#: the stages read by the probe, input to output (``trunk``: the head's shared trunk output, V2 Ultra only)
STAGES = ("backbone", "bifpn", "enhanced", "context", "trunk")


def line_angle(points: np.ndarray, i: int, j: int) -> float:
    """Degrees of the line from point ``i`` to point ``j`` (image axes: y down)."""
    return math.degrees(math.atan2(points[j, 1] - points[i, 1], points[j, 0] - points[i, 0]))


def follow_slope(true: np.ndarray, pred: np.ndarray) -> float:
    """Least-squares slope through the origin of predicted against true angles: 1 follows, 0 ignores."""
    true, pred = np.asarray(true, float), np.asarray(pred, float)
    den = float((true * true).sum())
    return float((true * pred).sum() / den) if den > 0 else float("nan")


def _ridge_fit(x: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    reg = alpha * np.eye(x.shape[1])
    reg[-1, -1] = 0.0  # the bias is not shrunk
    return np.linalg.solve(x.T @ x + reg, x.T @ y)


def ridge_r2(x: np.ndarray, y: np.ndarray, train_fraction: float = 0.7,
             alphas: tuple[float, ...] = (1.0, 10.0, 100.0, 1000.0)) -> float:
    """Held-out R^2 of a ridge regression (features standardised on the training part, the penalty
    chosen by 4-fold cross-validation inside it: a few hundred faces against up to 256 features)."""
    n = len(y)
    k = int(n * train_fraction)
    if k < 10 or n - k < 10:
        return float("nan")
    mu, sd = x[:k].mean(0), x[:k].std(0) + 1e-6
    xs = np.c_[(x - mu) / sd, np.ones(n)]
    folds = np.arange(k) % 4

    def cv_error(alpha: float) -> float:
        err = 0.0
        for f in range(4):
            w = _ridge_fit(xs[:k][folds != f], y[:k][folds != f], alpha)
            err += float(((y[:k][folds == f] - xs[:k][folds == f] @ w) ** 2).sum())
        return err

    w = _ridge_fit(xs[:k], y[:k], min(alphas, key=cv_error))
    resid = y[k:] - xs[k:] @ w
    return float(1.0 - (resid ** 2).mean() / max(y[k:].var(), 1e-12))


def turned_face_sample(image: np.ndarray, eyes: np.ndarray, degrees: float, level: int
                       ) -> tuple[np.ndarray, tuple[int, int], float]:
    """``image`` turned ``degrees`` and scaled so the face (2.5x the eye distance) is ``LEVELS[level]``'s
    size, cut to that level's canvas around the face: (canvas, centre cell (row, col), true eye angle)."""
    size, stride, canvas = LEVELS[level]
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), degrees, 1.0)
    pts = eyes @ m[:, :2].T + m[:, 2]
    scale = size / max(2.5 * float(np.linalg.norm(eyes[1] - eyes[0])), 1.0)
    m = m * scale
    centre = pts.mean(0) * scale
    m[:, 2] += canvas / 2.0 - centre  # the face centre at the canvas centre
    out = cv2.warpAffine(image, m, (canvas, canvas), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    cell = (canvas // 2) // stride
    return out, (cell, cell), line_angle(pts, 0, 1)


def probe_stages(net: torch.nn.Module, faces: list[tuple[np.ndarray, np.ndarray]], seed: int = 0) -> dict[str, list[float]]:
    """Held-out R^2 of the eye angle from each ``forward_features`` stage, per level."""
    rng = np.random.default_rng(seed)
    feats: dict[str, list[list[np.ndarray]]] = {}
    angles: list[list[float]] = [[] for _ in LEVELS]
    net.eval()
    trunk: dict[int, torch.Tensor] = {}
    hooks = []
    for i, head in enumerate(getattr(getattr(net, "head", None), "heads", [])):
        if isinstance(head, torch.nn.Sequential):  # V2 Ultra's shared trunk: also read what the last convs see
            hooks.append(head[-1].register_forward_hook(lambda m, inp, out, i=i: trunk.__setitem__(i, inp[0])))
    with torch.no_grad():
        for image, eyes in faces:
            deg = float(rng.uniform(-30, 30))
            for lv in range(len(LEVELS)):
                canvas, (r, c), angle = turned_face_sample(image, eyes, deg, lv)
                x = torch.from_numpy(subtract_mean(canvas))[None]
                stages = net.forward_features(x)
                if hooks:
                    net.head(stages["context"])
                    stages["trunk"] = [trunk[i] for i in range(len(LEVELS))]
                for stage, levels in stages.items():
                    feats.setdefault(stage, [[] for _ in LEVELS])[lv].append(levels[lv][0, :, r, c].numpy())
                angles[lv].append(angle)
    for h in hooks:
        h.remove()
    return {stage: [ridge_r2(np.stack(per[lv]), np.asarray(angles[lv])) for lv in range(len(LEVELS))]
            for stage, per in feats.items()}


def follow(det: FaceDetector, cuhk: list, degrees: float, iou: float = 0.5) -> dict[str, float]:
    """Eye- and mouth-line slopes over the turned faces found (``featherface eval``'s CUHK rule: the
    best-overlapping detection, IoU >= ``iou`` with the turned face's box)."""
    true_e, pred_e, true_m, pred_m = [], [], [], []
    for ann in cuhk:
        image = load_image(ann.image)
        for d in (degrees, -degrees):
            turned, box, pts = rotate_face(image, ann.box, ann.landmarks, d)
            found = det.detect(turned)
            if len(found) == 0:
                continue
            ov = iou_matrix(np.array([f.box for f in found], np.float64), np.asarray(box, np.float64)[None])[:, 0]
            if ov.max() < iou:
                continue
            face = found[int(ov.argmax())]
            p = np.asarray(face.landmarks, float).reshape(5, 2)
            true_e.append(line_angle(pts, 0, 1))
            pred_e.append(line_angle(p, 0, 1))
            true_m.append(line_angle(pts, 3, 4))
            pred_m.append(line_angle(p, 3, 4))
    return {"faces": len(true_e), "eye_slope": follow_slope(true_e, pred_e), "mouth_slope": follow_slope(true_m, pred_m),
            "mean_abs_true_eye_deg": float(np.mean(np.abs(true_e))) if true_e else float("nan"),
            "mean_abs_pred_eye_deg": float(np.mean(np.abs(pred_e))) if pred_e else float("nan")}


def build(spec: str) -> tuple[str, FaceDetector, torch.nn.Module]:
    """``retinaface``, ``MODEL`` (shipped weights) or ``MODEL:WEIGHTS``: a detector and its torch network
    (the detector's own, so the weights are read once)."""
    if spec == "retinaface":
        det = FaceDetector(model="retinaface-mnet025", weights=str(resolve_retinaface_weights()), threads=2)
    else:
        name, _, weights = spec.partition(":")
        det = FaceDetector(model=name, weights=weights, threads=2) if weights else FaceDetector(model=name, threads=2)
    return spec, det, det.model


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--detectors", default="featherface-v2-ultra,featherface-v1,retinaface")
    ap.add_argument("--data", type=Path, default=None, help="the shared data folder (default ../shared/data)")
    ap.add_argument("--faces", type=int, default=240, help="Caltech train-split faces for the probe (default 240)")
    ap.add_argument("--cuhk", type=int, default=100, help="CUHK images turned both ways (default 100)")
    ap.add_argument("--degrees", type=float, default=20.0)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    data = args.data or shared_dir() / "data"
    torch.set_num_threads(2)
    cuhk = load_cuhk(data / "cuhk-landmarks", limit=args.cuhk)
    faces: list[tuple[np.ndarray, np.ndarray]] = []
    for ann in load_caltech(data / "caltech-webfaces", split="train"):
        if len(faces) >= args.faces:
            break
        image = load_image(ann.image)
        for pts in ann.points:
            if np.linalg.norm(pts[1] - pts[0]) >= 12:  # eyes >= 12 px apart: a roll worth reading
                faces.append((image, np.asarray(pts[:2], np.float64)))
    faces = faces[: args.faces]
    report: dict[str, dict] = {}
    print(f"follow: {len(cuhk)} CUHK images turned +-{args.degrees:g} deg; probe: {len(faces)} Caltech train faces "
          f"turned in +-30 deg, held-out R^2 per level (stride 8 / 16 / 32)")
    print("| network | eye-line slope | mouth-line slope | " + " | ".join(f"R^2 {s}" for s in STAGES) + " |")
    print("|---|---|---|" + "---|" * len(STAGES))
    for spec in [s.strip() for s in args.detectors.split(",") if s.strip()]:
        name, det, net = build(spec)
        f = follow(det, cuhk, args.degrees)
        p = probe_stages(net, faces)
        report[name] = {"follow": f, "probe_r2": p}
        cells = " | ".join("/".join(f"{v:.2f}" for v in p[s]) if s in p else "–" for s in STAGES)
        print(f"| {name} | {f['eye_slope']:.2f} | {f['mouth_slope']:.2f} | {cells} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"degrees": args.degrees, "cuhk_images": len(cuhk), "probe_faces": len(faces),
                                         "networks": report}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
