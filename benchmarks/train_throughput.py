"""Training throughput (images/s) of FeatherFace models: forward + MultiBoxLoss + backward + SGD step.

Synthetic tensors with realistic targets (1-12 faces per image, WIDER-like log-uniform sizes of
8-320 px, landmarks inside the boxes, ~80% of faces with landmarks), so matching and hard-negative
mining cost what they cost on real data; no disk or augmentation in the loop. Every model runs
with the same batch, input size, threads, device and precision, one after the other, and the
table reports the V2/V1 ratio.

    python benchmarks/train_throughput.py                      # 640x640, batch 8, both models
    python benchmarks/train_throughput.py --device cuda --amp --batch-size 32 --steps 50
"""

from __future__ import annotations

import argparse
import math
import platform
import time

import torch

from featherface.models import create_model
from featherface.training.loss import MultiBoxLoss


def synthetic_batch(batch: int, size: int, gen: torch.Generator) -> tuple[torch.Tensor, list[dict[str, torch.Tensor]]]:
    """Mean-subtracted-looking images and per-image targets (normalised x1y1x2y2 + 5 landmarks)."""
    images = torch.randn(batch, 3, size, size, generator=gen) * 60.0
    targets = []
    for _ in range(batch):
        n = int(torch.randint(1, 13, (1,), generator=gen))
        side = torch.exp(torch.empty(n).uniform_(math.log(8), math.log(320), generator=gen)) / size
        w = side.clamp(max=0.9)
        h = (side * torch.empty(n).uniform_(1.0, 1.3, generator=gen)).clamp(max=0.95)
        x1 = torch.rand(n, generator=gen) * (1 - w)
        y1 = torch.rand(n, generator=gen) * (1 - h)
        boxes = torch.stack([x1, y1, x1 + w, y1 + h], 1)
        rel = torch.tensor([[0.3, 0.4], [0.7, 0.4], [0.5, 0.6], [0.35, 0.8], [0.65, 0.8]])
        lms = (boxes[:, None, :2] + rel[None] * (boxes[:, None, 2:] - boxes[:, None, :2])).reshape(n, 10)
        has = torch.rand(n, generator=gen) < 0.8
        lms[~has] = -1.0
        targets.append({"boxes": boxes, "landmarks": lms, "has_landmarks": has})
    return images, targets


def measure(name: str, args: argparse.Namespace, device: torch.device) -> dict[str, float]:
    torch.manual_seed(0)
    model = create_model(name).to(device).train()
    crit = MultiBoxLoss.for_model(model)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=5e-4)
    use_amp = bool(args.amp and device.type == "cuda")
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    gen = torch.Generator().manual_seed(1)
    batches = [synthetic_batch(args.batch_size, args.img_size, gen) for _ in range(min(4, args.steps + args.warmup))]
    batches = [(im.to(device), [{k: v.to(device) for k, v in t.items()} for t in tg]) for im, tg in batches]

    def step(i: int) -> None:
        images, targets = batches[i % len(batches)]
        with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
            out = model(images)
        loss = crit(out, targets, image_size=(args.img_size, args.img_size))
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss.total).backward()
        scaler.step(opt)
        scaler.update()

    for i in range(args.warmup):
        step(i)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for i in range(args.steps):
        step(i)
    if device.type == "cuda":
        torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / args.steps
    return {"params": sum(p.numel() for p in model.parameters()), "s_per_step": dt,
            "images_per_s": args.batch_size / dt}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["featherface-v1", "featherface-v2-ultra"])
    ap.add_argument("--img-size", type=int, default=640)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--steps", type=int, default=5, help="timed steps per model")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps per model")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave torch's default)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--amp", action="store_true", help="float16 autocast (CUDA only)")
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    rows = {name: measure(name, args, device) for name in args.models}
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{platform.processor() or platform.machine()} CPU"
    print(f"\nTraining throughput, {args.img_size}x{args.img_size}, batch {args.batch_size}, {where}, "
          f"{torch.get_num_threads()} threads, amp={'on' if args.amp and device.type == 'cuda' else 'off'}, "
          f"{args.steps} timed steps after {args.warmup} warm-up, torch {torch.__version__}\n")
    print("| model | params | s/step | images/s |")
    print("|---|---:|---:|---:|")
    for name, r in rows.items():
        print(f"| {name} | {r['params']:,} | {r['s_per_step']:.3f} | {r['images_per_s']:.2f} |")
    if "featherface-v1" in rows and "featherface-v2-ultra" in rows:
        ratio = rows["featherface-v2-ultra"]["images_per_s"] / rows["featherface-v1"]["images_per_s"]
        print(f"\nV2 Ultra / V1 training throughput: {ratio:.2f}x")


if __name__ == "__main__":
    main()
