"""Model summaries: per-block parameter table against the design sheet, size and FLOPs."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

# The design sheet's per-block figures for V2 Ultra (featherface-v2-ultra-architecture.md).
SEED_V2_ULTRA: dict[str, float] = {
    "backbone": 213_000,
    "backbone_cbam": 1_200,
    "bifpn": 18_400,
    "bifpn_cbam": 1_200,
    "techniques": 8_000,
    "ssh": 12_300,
    "shuffle": 0,
    "heads": 11_500,
}
SEED_V2_ULTRA_TOTAL = 244_483
SEED_V1_TOTAL = 487_000  # the sheet's "49.8% reduction" puts V1 at ~244,483 / 0.502
GROUP_LABELS = {
    "backbone": "MobileNetV1-0.25 backbone",
    "backbone_cbam": "Backbone CBAM",
    "bifpn": "BiFPN (lateral + layers)",
    "bifpn_cbam": "BiFPN CBAM",
    "techniques": "V2 Ultra techniques",
    "ssh": "SSH context",
    "shuffle": "Channel shuffle",
    "heads": "Heads",
}


@dataclass
class ParamRow:
    group: str
    label: str
    params: int
    seed: float | None


def parameter_table(model: nn.Module) -> list[ParamRow]:
    """Parameters per design-sheet block; a tensor shared by two blocks is counted once (first block)."""
    seen: set[int] = set()
    rows = []
    is_v2 = getattr(model, "name", "").startswith("featherface-v2")
    for group, modules in model.module_groups().items():  # type: ignore[operator]
        n = 0
        for m in modules:
            for p in m.parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    n += p.numel()
        rows.append(ParamRow(group, GROUP_LABELS.get(group, group), n, SEED_V2_ULTRA.get(group) if is_v2 else None))
    return rows


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_flops(model: nn.Module, height: int = 640, width: int = 640) -> int:
    """FLOPs of one forward pass (``torch.utils.flop_counter``; a multiply-add counts as 2 FLOPs).

    Only matmul/conv-like ops are counted (what the counter knows); elementwise ops are excluded.
    """
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    x = torch.zeros(1, 3, height, width)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    model.train(was_training)
    return int(counter.get_total_flops())


def format_info(model: nn.Module, height: int = 640, width: int = 640, flops: bool = True) -> str:
    """The text printed by ``featherface info``."""
    rows = parameter_table(model)
    total = count_parameters(model)
    lines = [f"model: {getattr(model, 'name', type(model).__name__)}", ""]
    lines.append(f"| {'block':<32} | {'measured':>9} | {'design sheet':>12} |")
    lines.append(f"|{'-' * 34}|{'-' * 11}|{'-' * 14}|")
    seed_sum = 0.0
    for r in rows:
        seed = "" if r.seed is None else f"{r.seed:,.0f}"
        seed_sum += r.seed or 0
        lines.append(f"| {r.label:<32} | {r.params:>9,} | {seed:>12} |")
    lines.append(f"| {'total':<32} | {total:>9,} | {'' if not seed_sum else f'{SEED_V2_ULTRA_TOTAL:,}':>12} |")
    lines.append("")
    if seed_sum:
        lines.append(
            f"The sheet's per-block figures add up to {seed_sum:,.0f}, not its stated total {SEED_V2_ULTRA_TOTAL:,}: "
            "they cannot all hold at once. We build to the total budget (235,000-250,000) and treat the "
            "blocks as guides: the backbone is fixed at 213,072, CBAM on 64/128/256 channels with reduction 32 "
            "costs ~5.5K even with a shared spatial conv, so the BiFPN (grouped laterals), SSH and heads are "
            "made smaller than the sheet says to stay within budget."
        )
        lines.append("")
    size_mb = sum(p.numel() * p.element_size() for p in model.parameters()) / 1e6
    lines.append(f"parameters: {total:,}   fp32 size: {size_mb:.2f} MB (weights only)")
    if flops:
        f = count_flops(model, height, width)
        lines.append(f"GFLOPs at {width}x{height}: {f / 1e9:.3f} (= {f / 2e9:.3f} GMACs; convs and matmuls only)")
    techs = getattr(getattr(model, "config", None), "techniques", None)
    if techs is not None:
        lines.append("techniques: " + ", ".join(f"{k}={'on' if v else 'off'}" for k, v in techs.items()))
    return "\n".join(lines)
