"""Average the weights of fine-tuned runs of one lineage (a "model soup").

Why: a fine-tune on a new domain (WIDER crowds) gains there and loses a little on the photos it
was trained on before. Runs that share a starting point sit in one basin of the loss, so a weighted
mean of their tensors usually keeps most of both; it costs no training, only an evaluation of each
mix. Float tensors are averaged; integer buffers (BatchNorm's ``num_batches_tracked``) are taken
from the first file. Files of different architectures are refused, naming both.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from featherface.errors import WeightsError
from featherface.models.weights import atomic_torch_save, file_sha256, read_weights, state_dict_sha256

__all__ = ["average_weights", "save_average"]


def _mix(paths: Sequence[str | os.PathLike], mix: Sequence[float] | None) -> list[float]:
    if mix is None:
        return [1.0 / len(paths)] * len(paths)
    if len(mix) != len(paths):
        raise ValueError(f"--mix: {len(mix)} weights for {len(paths)} files; give one per file")
    if any(not (w >= 0) for w in mix) or sum(mix) <= 0:
        raise ValueError(f"--mix: weights must be >= 0 with a positive sum, got {list(mix)}")
    total = float(sum(mix))
    return [float(w) / total for w in mix]


def average_weights(paths: Sequence[str | os.PathLike], mix: Sequence[float] | None = None) -> dict[str, Any]:
    """The weights dict whose tensors are the ``mix``-weighted mean of those in ``paths``.

    ``mix`` defaults to equal shares and is normalised to sum to 1. The result records its parts
    (file, sha256, share) in ``meta["average_of"]`` and carries a fresh checksum.
    """
    if len(paths) < 2:
        raise ValueError("average_weights: give at least two weights files")
    shares = _mix(paths, mix)
    objs = [read_weights(p) for p in paths]
    first, first_path = objs[0], Path(paths[0])
    for obj, p in zip(objs[1:], paths[1:]):
        if obj["model"] != first["model"] or obj["config"] != first["config"]:
            raise WeightsError(f"{p}: a different architecture from {first_path} "
                               f"({obj['model']} vs {first['model']}); only one lineage can be averaged")
        if obj["state_dict"].keys() != first["state_dict"].keys():
            raise WeightsError(f"{p}: its tensors are not those of {first_path}")
    sd: dict[str, torch.Tensor] = {}
    for key, ref in first["state_dict"].items():
        if ref.is_floating_point():
            acc = sum(share * obj["state_dict"][key].double() for share, obj in zip(shares, objs))
            sd[key] = acc.to(ref.dtype).contiguous()
        else:
            sd[key] = ref.clone()
    parts = [{"file": str(p), "sha256": file_sha256(p), "share": round(s, 6)} for p, s in zip(paths, shares)]
    return {**{k: v for k, v in first.items() if k not in ("state_dict", "sha256", "meta")},
            "state_dict": sd, "sha256": state_dict_sha256(sd),
            "meta": {"source": "featherface average_weights", "average_of": parts}}


def save_average(paths: Sequence[str | os.PathLike], output: str | os.PathLike,
                 mix: Sequence[float] | None = None) -> Path:
    """:func:`average_weights` written (atomically) to ``output``, which must not be one of ``paths``."""
    out = Path(output)
    if any(out.resolve() == Path(p).resolve() for p in paths):
        raise ValueError(f"{out}: the output is one of the inputs; name a new file")
    atomic_torch_save(average_weights(paths, mix), out)
    return out
