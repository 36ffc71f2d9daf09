"""Key mapping from the RetinaFace-mnet0.25 release (biubug6/Pytorch_Retinaface layout) to ours.

The release is a plain state dict (``body.*``, ``fpn.*``, ``ssh1..3.*``, ``ClassHead/BboxHead/
LandmarkHead.{0,1,2}.conv1x1.*``); :func:`convert_retinaface_state_dict` renames every key and
refuses a file with any key it does not know or lacking any it needs, so a partial or foreign
file never loads silently.
"""

from __future__ import annotations

import re
from functools import lru_cache

import torch

from featherface.models.backbone import MobileNetV1, retinaface_backbone_key_map

RETINAFACE_SSH_NAMES = {"conv3X3": "conv3", "conv5X5_1": "conv5_1", "conv5X5_2": "conv5_2", "conv7X7_2": "conv7_2", "conv7x7_3": "conv7_3"}
RETINAFACE_HEAD_NAMES = {"ClassHead": "cls", "BboxHead": "bbox", "LandmarkHead": "ldm"}


def looks_like_retinaface(state_dict: dict) -> bool:
    """True for a plain state dict in the RetinaFace release layout (``body.`` + ``ClassHead.``)."""
    keys = [k[7:] if isinstance(k, str) and k.startswith("module.") else k for k in state_dict]
    return any(isinstance(k, str) and k.startswith("body.") for k in keys) and \
        any(isinstance(k, str) and k.startswith("ClassHead.") for k in keys)


def _rename(key: str, backbone_map: dict[str, str]) -> str | None:
    if key.startswith("body."):
        k = key[5:]
        return "backbone." + backbone_map.get(k, k)
    m = re.fullmatch(r"fpn\.output([123])\.(.+)", key)
    if m:
        return f"bifpn.lateral.{int(m.group(1)) - 1}.{m.group(2)}"
    m = re.fullmatch(r"fpn\.merge([12])\.(.+)", key)
    if m:
        return f"bifpn.merge.{int(m.group(1)) - 1}.{m.group(2)}"
    m = re.fullmatch(r"ssh([123])\.(\w+)\.(.+)", key)
    if m and m.group(2) in RETINAFACE_SSH_NAMES:
        return f"ssh.{int(m.group(1)) - 1}.{RETINAFACE_SSH_NAMES[m.group(2)]}.{m.group(3)}"
    m = re.fullmatch(r"(ClassHead|BboxHead|LandmarkHead)\.([012])\.conv1x1\.(weight|bias)", key)
    if m:
        return f"head.heads.{m.group(2)}.{RETINAFACE_HEAD_NAMES[m.group(1)]}.{m.group(3)}"
    return None


def convert_retinaface_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a RetinaFace-release state dict to the keys of ``create_model("retinaface-mnet025")``.

    Raises ``KeyError`` naming the first key that has no counterpart.
    """
    backbone_map = retinaface_backbone_key_map(MobileNetV1())
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        k = key[7:] if key.startswith("module.") else key
        new = _rename(k, backbone_map)
        if new is None:
            raise KeyError(f"unknown RetinaFace key {key!r}")
        out[new] = value
    expected = _expected_shapes()
    missing = [k for k in expected if k not in out]
    if missing:
        raise KeyError(f"{len(missing)} tensor(s) missing, e.g. {missing[0]!r}")
    for k, v in out.items():
        if k not in expected:
            raise KeyError(f"key {k!r} has no place in RetinaFace-mnet0.25")
        if tuple(v.shape) != expected[k]:
            raise KeyError(f"{k!r} has shape {tuple(v.shape)}, expected {expected[k]}")
    return out


@lru_cache(maxsize=1)
def _expected_shapes() -> dict[str, tuple[int, ...]]:
    """Names and shapes of ``create_model("retinaface-mnet025")``'s state dict."""
    from featherface.models.registry import create_model  # here: the registry imports this module (via weights)

    return {k: tuple(v.shape) for k, v in create_model("retinaface-mnet025").state_dict().items()}
