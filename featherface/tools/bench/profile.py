"""Time of each top-level block of a FeatherFace network, with the torch profiler."""

from __future__ import annotations

from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile, record_function


def profiled_blocks(model: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """The blocks timed: each direct child, each level of a ``ModuleList`` (the SSH levels) on its
    own; the BiFPN CBAM is left out (it is called from inside the attention techniques)."""
    targets: list[tuple[str, torch.nn.Module]] = []
    for name, child in model.named_children():
        if name == "bifpn_cbam":
            continue
        if isinstance(child, torch.nn.ModuleList):
            targets += [(f"{name}.{i}", c) for i, c in enumerate(child)]
        else:
            targets.append((name, child))
    return targets


def _add_ranges(targets: list[tuple[str, torch.nn.Module]]) -> list[Any]:
    """Forward hooks opening a ``block::NAME`` profiler range around each target; returns the handles."""
    ranges: dict[int, Any] = {}
    handles = []
    for name, mod in targets:
        def pre(m: Any, inp: Any, name: str = name) -> None:
            r = record_function(f"block::{name}")
            r.__enter__()
            ranges.setdefault(id(m), []).append(r)

        def post(m: Any, inp: Any, out: Any) -> None:
            ranges[id(m)].pop().__exit__(None, None, None)

        handles += [mod.register_forward_pre_hook(pre), mod.register_forward_hook(post)]
    return handles


def _block_rows(prof: Any, repeats: int) -> list[dict[str, Any]]:
    """ms per image and share of each block, the per-level rows (``ssh.0``...) merged into one (``ssh``)."""
    merged: dict[str, float] = {}
    for ev in prof.key_averages():
        if ev.key.startswith("block::"):
            block = ev.key[7:].split(".")[0]
            merged[block] = merged.get(block, 0.0) + ev.cpu_time_total / 1e3 / repeats
    total = sum(merged.values()) or 1.0
    return sorted(({"block": k, "ms": v, "share": v / total} for k, v in merged.items()), key=lambda r: -r["ms"])


def profile_blocks(model: torch.nn.Module, size: int = 640, threads: int = 1, repeats: int = 5,
                   channels_last: bool = False) -> list[dict[str, Any]]:
    """Time of each top-level block of a FeatherFace network with the torch profiler.

    Each direct child (and each SSH level) is wrapped in a ``record_function`` range via forward
    hooks; shared modules called from inside another block (the BiFPN CBAM inside the attention
    techniques) count towards the caller. Returns rows sorted by time: block, ms per image, share.
    """
    prev = torch.get_num_threads()
    torch.set_num_threads(threads)
    model = model.eval()
    handles = _add_ranges(profiled_blocks(model))
    x = torch.randn(1, 3, size, size) * 50
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    try:
        with torch.inference_mode():
            for _ in range(2):
                model(x)
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                for _ in range(repeats):
                    model(x)
    finally:
        for h in handles:
            h.remove()
        torch.set_num_threads(prev)
    return _block_rows(prof, repeats)
