"""Is a distilled student's landmark error in its head or in its features? (issue 11's probe)

On training photos (the label file's, at 320 px), the priors where RetinaFace-mnet0.25 is confident
(face probability >= 0.5) give the teacher's encoded landmark offsets as targets. The student's own
head error against them is compared with heads fitted afresh, on the first 70 % of the photos and
scored on the rest, over the same features:

* a ridge regression (a linear 1x1 head) on the head trunk's output and on the context features;
* a ridge regression on the 3x3 neighbourhood of the context features (a linear 3x3 head);
* a one-hidden-layer MLP on that neighbourhood (a 3x3 conv + ReLU + 1x1 head), widths 16-128.

When no fresh head beats the trained one, the features hold the error back, not the head.

    python benchmarks/landmark_probe.py [--model featherface-v2-ultra] [--weights PATH] [--images 400]
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from featherface import FaceDetector
from featherface.io.images import read_image
from featherface.io.paths import shared_dir
from featherface.models.weights import model_from_weights
from featherface.peers.retinaface import resolve_retinaface_weights


def collect(student: FaceDetector, teacher: torch.nn.Module, files: list[Path]) -> dict[str, np.ndarray]:
    """Per confident teacher prior: the features, the teacher's and the student's landmark offsets,
    the (level, anchor) group and the photo index."""
    net = student.model.eval()
    rows: dict[str, list[np.ndarray]] = {k: [] for k in ("trunk", "ctx", "ctx3", "t", "s", "group", "image")}
    with torch.no_grad():
        for i, f in enumerate(files):
            batch, _ = student.preprocess([read_image(f)], 320)
            x = torch.from_numpy(batch)
            t_out, s_out = teacher(x), net(x)
            ctx = net.forward_features(x)["context"]
            p_t = torch.softmax(t_out["cls"], -1)[0, :, 1]
            start = 0
            for lvl, c in enumerate(ctx):
                _, ch, h, w = c.shape
                head = net.head.heads[lvl]
                trunk = head[0](c) if isinstance(head, torch.nn.Sequential) else c
                c3 = F.unfold(c, 3, padding=1).reshape(1, ch * 9, h, w)
                conf = p_t[start:start + h * w * 2].reshape(h, w, 2)
                for a in range(2):
                    m = conf[..., a] >= 0.5
                    if not m.any():
                        continue
                    idx = (torch.arange(h * w).reshape(h, w) * 2 + a)[m] + start
                    rows["t"].append(t_out["ldm"][0, idx].numpy())
                    rows["s"].append(s_out["ldm"][0, idx].numpy())
                    for name, feat in (("trunk", trunk), ("ctx", c), ("ctx3", c3)):
                        rows[name].append(feat[0].permute(1, 2, 0)[m].numpy())
                    rows["group"].append(np.full(int(m.sum()), lvl * 2 + a))
                    rows["image"].append(np.full(int(m.sum()), i))
                start += h * w * 2
    return {k: np.concatenate(v) for k, v in rows.items()}


def ridge_error(x: np.ndarray, t: np.ndarray, group: np.ndarray, train: np.ndarray) -> float:
    x = np.hstack([x, np.ones((len(x), 1))])
    pred = np.zeros_like(t)
    for g in np.unique(group):
        tr, te = (group == g) & train, (group == g) & ~train
        if not tr.any() or not te.any():
            continue
        a = x[tr]
        w = np.linalg.solve(a.T @ a + 1e-2 * len(a) * np.eye(a.shape[1]), a.T @ t[tr])
        pred[te] = x[te] @ w
    return float(np.abs(pred - t)[~train].mean())


def mlp_error(x: np.ndarray, t: np.ndarray, group: np.ndarray, train: np.ndarray, hidden: int) -> float:
    torch.manual_seed(0)
    xt, tt, gt, tr = torch.tensor(x), torch.tensor(t), torch.tensor(group), torch.tensor(train)
    groups = [int(g) for g in np.unique(group)]
    mlps = {g: torch.nn.Sequential(torch.nn.Linear(x.shape[1], hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10))
            for g in groups}
    opt = torch.optim.Adam([p for m in mlps.values() for p in m.parameters()], 1e-3, weight_decay=1e-4)
    for _ in range(300):
        opt.zero_grad()
        loss = sum(F.smooth_l1_loss(mlps[g](xt[tr & (gt == g)]), tt[tr & (gt == g)], reduction="sum")
                   for g in groups if (tr & (gt == g)).any())
        (loss / tr.sum()).backward()  # type: ignore[union-attr]
        opt.step()
    with torch.no_grad():
        pred = torch.zeros_like(tt)
        for g in groups:
            pred[gt == g] = mlps[g](xt[gt == g])
    return float((pred - tt)[~tr].abs().mean())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="featherface-v2-ultra")
    ap.add_argument("--weights", default="default")
    ap.add_argument("--labels", type=Path, default=Path("runs/default-weights/labels_train.txt"))
    ap.add_argument("--images", type=int, default=400)
    args = ap.parse_args(argv)
    data = shared_dir() / "data"
    if not args.labels.is_file():
        print(f"needs {args.labels} (tools/make_default_weights.sh writes it)", file=sys.stderr)
        return 1
    torch.set_num_threads(2)
    files = sorted(line[2:].strip() for line in args.labels.read_text().splitlines() if line.startswith("# "))
    random.Random(1).shuffle(files)
    files = files[:args.images]
    student = FaceDetector(args.model, weights=args.weights, backend="torch")
    teacher = model_from_weights(resolve_retinaface_weights(None)).eval()
    d = collect(student, teacher, [data / f for f in files])
    train = d["image"] < int(0.7 * len(files))
    print(f"{args.model}: {len(d['t'])} confident teacher priors on {len(files)} photos; mean |offset error| "
          f"against the teacher, held-out photos:")
    print(f"  trained head: {np.abs(d['s'] - d['t'])[~train].mean():.3f}")
    for name in ("trunk", "ctx", "ctx3"):
        print(f"  linear head on {name} ({d[name].shape[1]} features): {ridge_error(d[name], d['t'], d['group'], train):.3f}")
    for hidden in (16, 32, 64, 128):
        print(f"  MLP head on ctx3, {hidden} hidden: {mlp_error(d['ctx3'], d['t'], d['group'], train, hidden):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
