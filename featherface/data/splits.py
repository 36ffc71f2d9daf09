"""Deterministic hold-out splits by a hash of each image's path.

One function, shared by the auto-labeller (which writes ``<stem>_train.txt`` / ``<stem>_val.txt``)
and by the evaluation on human labels (which must evaluate on exactly the images training did not
see). The split is stable when images are added or removed and independent of file order: an
image is in the hold-out when ``holdout_fraction(path, seed) < fraction``.

Paths are the label file's paths, i.e. relative to the labelling root with ``/`` separators; e.g.
``featherface autolabel ... --root ../shared/data --val-fraction 0.1`` keyed the Caltech images as
``caltech-webfaces/images/picNNNNN.jpg``.
"""

from __future__ import annotations

import hashlib

__all__ = ["holdout_fraction", "in_holdout"]


def holdout_fraction(path: str, seed: int = 0) -> float:
    """A number in ``[0, 1]`` fixed by ``seed`` and ``path``: the first 32 bits of
    ``sha256(f"{seed}:{path}")`` over ``0xFFFFFFFF``."""
    return int(hashlib.sha256(f"{seed}:{path}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def in_holdout(path: str, fraction: float, seed: int = 0) -> bool:
    """Whether ``path`` falls in a hold-out of ``fraction`` of the images (``seed`` picks the split)."""
    return holdout_fraction(path, seed) < fraction
