"""The FeatherFace detector network, assembled from the blocks in this package.

Pipeline (V2 Ultra)::

    image -> MobileNetV1-0.25 -> backbone CBAM -> BiFPN -> BiFPN CBAM (x repeats)
          -> [feature reuse -> progressive enhancement -> multi-scale weighting -> dynamic sharing]
          -> SSH (grouped) -> channel shuffle -> heads -> {bbox, cls, ldm} per prior

Every architectural choice is a field of :class:`FeatherFaceConfig`, so V1, V2 Ultra and every
ablation in between are the same class with different arguments.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import nn

from featherface.models.backbone import MobileNetV1
from featherface.models.bifpn import BiFPN
from featherface.models.cbam import SharedCBAMManager
from featherface.models.fpn import FPN
from featherface.models.heads import SharedMultiHead
from featherface.models.shuffle import ChannelShuffle
from featherface.models.ssh import SSH
from featherface.models.techniques import (
    AttentionMultiplication,
    DynamicWeightSharing,
    MultiScaleImportance,
    ProgressiveEnhancement,
    SmartFeatureReuse,
)


@dataclass
class FeatherFaceConfig:
    """All architecture choices. Defaults are V2 Ultra's."""

    width_mult: float = 0.25
    cbam_reduction: int = 32
    backbone_cbam: bool = True
    share_cbam: bool = True
    neck: str = "bifpn"  # "bifpn" (FeatherFace) | "fpn" (RetinaFace's top-down FPN; fpn_layers etc. unused)
    fpn_channels: int = 32
    fpn_layers: int = 2
    fpn_conv: str = "separable"  # "separable" | "full"
    fpn_lateral_groups: int = 4
    bifpn_cbam: bool = True
    spatial_norm: bool = False  # per-map normalisation before the spatial-attention sigmoid (issue 17's fix; ablated)
    ssh_groups: int = 4
    shuffle_groups: int = 4
    head_mid_channels: int = 16
    head_share_levels: bool = False
    num_anchors: int = 2
    # the five V2 Ultra techniques
    feature_reuse: bool = True
    attention_multiplication: bool = True
    attention_repeats: int = 3
    # each repeat as F + CBAM(F) = F * (1 + attention) instead of F * attention (issue 17's second fix;
    # ablated): masks in [0, 1] multiplied three times shrink the features at every position they
    # do not favour (1/64 at a 0.5 gate), the failure "attention residual learning" (Wang et al.
    # 2017, Residual Attention Network) was made for
    attention_residual: bool = False
    progressive_enhancement: bool = True
    multiscale_weighting: bool = True
    dynamic_sharing: bool = True
    dynamic_threshold: float = 0.5
    # anchors the heads are trained for (used by the detector / export metadata)
    min_sizes: tuple[tuple[int, ...], ...] = ((16, 32), (64, 128), (256, 512))
    steps: tuple[int, ...] = (8, 16, 32)
    variances: tuple[float, float] = (0.1, 0.2)
    # input normalisation: BGR image minus this mean, no scaling (RetinaFace convention)
    bgr_mean: tuple[float, float, float] = (104.0, 117.0, 123.0)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FeatherFaceConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise TypeError(f"unknown FeatherFace config fields: {sorted(unknown)}")
        kw = dict(d)
        for key in ("min_sizes",):
            if key in kw:
                kw[key] = tuple(tuple(int(v) for v in m) for m in kw[key])
        for key in ("steps", "variances", "bgr_mean"):
            if key in kw:
                kw[key] = tuple(kw[key])
        return cls(**kw)

    @property
    def techniques(self) -> dict[str, bool]:
        return {
            "feature_reuse": self.feature_reuse,
            "attention_multiplication": self.attention_multiplication,
            "progressive_enhancement": self.progressive_enhancement,
            "multiscale_weighting": self.multiscale_weighting,
            "dynamic_sharing": self.dynamic_sharing,
        }


class FeatherFace(nn.Module):
    """FeatherFace detector network.

    ``forward(x)`` takes a ``(B, 3, H, W)`` float tensor (BGR minus :attr:`FeatherFaceConfig.bgr_mean`)
    and returns ``{"bbox": (B, N, 4), "cls": (B, N, 2) logits, "ldm": (B, N, 10)}`` with ``N`` the
    number of priors for that size (16,800 at 640x640). ``forward_features`` exposes the
    intermediate pyramids (timm's feature-extractor idea) for inspection and for other heads.
    """

    def __init__(self, config: FeatherFaceConfig | None = None, name: str = "featherface-custom"):
        super().__init__()
        cfg = config or FeatherFaceConfig()
        self.config = cfg
        self.name = name
        self.backbone = MobileNetV1(cfg.width_mult)
        in_ch = self.backbone.out_channels
        c = cfg.fpn_channels
        self.backbone_cbam = (
            SharedCBAMManager(in_ch, cfg.cbam_reduction, share=cfg.share_cbam, spatial_norm=cfg.spatial_norm)
            if cfg.backbone_cbam else None
        )
        if cfg.neck == "bifpn":
            self.bifpn: nn.Module = BiFPN(in_ch, c, cfg.fpn_layers, cfg.fpn_conv, cfg.fpn_lateral_groups)
        elif cfg.neck == "fpn":
            self.bifpn = FPN(in_ch, c)
        else:
            raise ValueError(f"neck must be 'bifpn' or 'fpn', got {cfg.neck!r}")
        self.bifpn_cbam = (
            SharedCBAMManager((c,) * len(in_ch), cfg.cbam_reduction, share=cfg.share_cbam, spatial_norm=cfg.spatial_norm)
            if cfg.bifpn_cbam else None
        )
        need_attention = cfg.feature_reuse or cfg.attention_multiplication
        if need_attention and self.bifpn_cbam is None:
            raise ValueError("feature_reuse and attention_multiplication re-use the BiFPN CBAM: set bifpn_cbam=True")
        self.attention_mult = (
            AttentionMultiplication(cfg.attention_repeats if cfg.attention_multiplication else 1,
                                    residual=cfg.attention_residual)
            if self.bifpn_cbam is not None else None
        )
        self.feature_reuse = SmartFeatureReuse() if cfg.feature_reuse else None
        self.progressive = ProgressiveEnhancement() if cfg.progressive_enhancement else None
        self.multiscale = MultiScaleImportance() if cfg.multiscale_weighting else None
        self.dynamic_sharing = DynamicWeightSharing(c, cfg.dynamic_threshold) if cfg.dynamic_sharing else None
        self.ssh = nn.ModuleList(SSH(c, c, groups=cfg.ssh_groups) for _ in in_ch)
        self.shuffle = ChannelShuffle(cfg.shuffle_groups)
        self.head = SharedMultiHead(c, cfg.head_mid_channels, len(in_ch), cfg.num_anchors, cfg.head_share_levels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He (fan-in) init for convs, so signals neither vanish nor explode through the ~40 layers
        even before BatchNorm statistics exist (PyTorch's default conv init shrinks them ~1e6-fold,
        which would make an untrained model's ablations numerically indistinguishable); small normal
        init for the task convs."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="leaky_relu", a=0.1)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for lvl in self.head.modules():
            if hasattr(lvl, "cls") and hasattr(lvl, "ldm"):
                for conv in (lvl.cls, lvl.bbox, lvl.ldm):
                    nn.init.normal_(conv.weight, std=0.01)
                    nn.init.zeros_(conv.bias)

    def forward_features(self, x: torch.Tensor) -> dict[str, list[torch.Tensor]]:
        """Return every pyramid stage: ``backbone``, ``bifpn``, ``enhanced`` (after the techniques), ``context`` (after SSH+shuffle)."""
        feats = self.backbone(x)
        out: dict[str, list[torch.Tensor]] = {"backbone": feats}
        if self.backbone_cbam is not None:
            feats = self.backbone_cbam(feats)
        feats = self.bifpn(feats)
        out["bifpn"] = feats
        if self.bifpn_cbam is not None and self.attention_mult is not None:
            feats = self.attention_mult(feats, self.bifpn_cbam)
        if self.feature_reuse is not None and self.bifpn_cbam is not None:
            feats = self.feature_reuse(feats, self.bifpn_cbam.block(1))
        if self.progressive is not None:
            feats = self.progressive(feats)
        if self.multiscale is not None:
            feats = self.multiscale(feats)
        if self.dynamic_sharing is not None:
            feats = self.dynamic_sharing(feats)
        out["enhanced"] = feats
        out["context"] = [self.shuffle(ssh(f)) for ssh, f in zip(self.ssh, feats)]
        return out

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.head(self.forward_features(x)["context"])

    def module_groups(self) -> dict[str, list[nn.Module]]:
        """Sub-modules by the design sheet's blocks (for the parameter table of ``featherface info``)."""
        techniques = [m for m in (self.feature_reuse, self.attention_mult, self.progressive,
                                  self.multiscale, self.dynamic_sharing) if m is not None]
        return {
            "backbone": [self.backbone],
            "backbone_cbam": [self.backbone_cbam] if self.backbone_cbam is not None else [],
            "bifpn": [self.bifpn],
            "bifpn_cbam": [self.bifpn_cbam] if self.bifpn_cbam is not None else [],
            "techniques": techniques,
            "ssh": [self.ssh],
            "shuffle": [self.shuffle],
            "heads": [self.head],
        }
