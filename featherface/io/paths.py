"""Where the project's shared folder is: the models, data sets and weights that are never part of
the repository (peer detectors' files, RetinaFace's release weights, WIDER FACE, photos).

One place decides it: ``$FEATHERFACE_SHARED_DIR`` when set, else ``shared/`` beside the source
checkout (``<checkout>/../shared``). The narrower overrides (``FEATHERFACE_PEERS_DIR``,
``FEATHERFACE_RETINAFACE_WEIGHTS``, ``FEATHERFACE_CALIBRATION``) are read by the modules that own
them and win over this one.
"""

from __future__ import annotations

import os
from pathlib import Path

SHARED_ENV = "FEATHERFACE_SHARED_DIR"


def source_checkout() -> Path:
    """The folder that holds the ``featherface`` package (the repository root of a source checkout)."""
    return Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    """``$FEATHERFACE_SHARED_DIR``, else ``<source checkout>/../shared`` (which may not exist)."""
    env = os.environ.get(SHARED_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    return source_checkout().parent / "shared"


def find_shared(*parts: str) -> Path | None:
    """``shared_dir() / parts`` when it exists, else ``None``.

    Without ``$FEATHERFACE_SHARED_DIR`` two more places are tried, in this order: ``../shared``
    beside the working directory (an installed package run from inside a checkout) and
    ``shared/`` inside the checkout.
    """
    bases = [shared_dir()]
    if not os.environ.get(SHARED_ENV, "").strip():
        bases += [Path.cwd().parent / "shared", source_checkout() / "shared"]
    for base in bases:
        cand = base.joinpath(*parts)
        if cand.exists():
            return cand
    return None
