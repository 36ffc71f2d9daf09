"""Test helper: write a model's state dict in the RetinaFace release layout (biubug6/Pytorch_Retinaface).

The inverse of :func:`featherface.models.retinaface_keys.convert_retinaface_state_dict`, built from
its own tables, so a synthetic "release file" can be made from a random model without ../shared.
"""

from __future__ import annotations

import re

import torch

from featherface.models.backbone import MobileNetV1, retinaface_backbone_key_map
from featherface.models.retinaface_keys import RETINAFACE_HEAD_NAMES, RETINAFACE_SSH_NAMES


def to_release_state_dict(state_dict: dict[str, torch.Tensor], module_prefix: bool = False) -> dict[str, torch.Tensor]:
    """Our ``retinaface-mnet025`` keys -> the release's (``body.*``, ``fpn.output1..3``, ``ssh1..3``, heads)."""
    backbone_inv = {ours: theirs for theirs, ours in retinaface_backbone_key_map(MobileNetV1()).items()}
    ssh_inv = {ours: theirs for theirs, ours in RETINAFACE_SSH_NAMES.items()}
    heads_inv = {ours: theirs for theirs, ours in RETINAFACE_HEAD_NAMES.items()}
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        if key.startswith("backbone."):
            k = key[len("backbone."):]
            new = "body." + backbone_inv.get(k, k)
        elif m := re.fullmatch(r"bifpn\.lateral\.(\d)\.(.+)", key):
            new = f"fpn.output{int(m.group(1)) + 1}.{m.group(2)}"
        elif m := re.fullmatch(r"bifpn\.merge\.(\d)\.(.+)", key):
            new = f"fpn.merge{int(m.group(1)) + 1}.{m.group(2)}"
        elif m := re.fullmatch(r"ssh\.(\d)\.(\w+)\.(.+)", key):
            new = f"ssh{int(m.group(1)) + 1}.{ssh_inv[m.group(2)]}.{m.group(3)}"
        elif m := re.fullmatch(r"head\.heads\.(\d)\.(cls|bbox|ldm)\.(weight|bias)", key):
            new = f"{heads_inv[m.group(2)]}.{m.group(1)}.conv1x1.{m.group(3)}"
        else:
            raise KeyError(f"no release counterpart for {key!r}")
        out[("module." if module_prefix else "") + new] = value.detach().clone()
    return out


def write_release_file(model: torch.nn.Module, path, module_prefix: bool = False):
    """``torch.save`` the model's tensors as a plain release-layout state dict; returns the path."""
    torch.save(to_release_state_dict(model.state_dict(), module_prefix), path)
    return path
