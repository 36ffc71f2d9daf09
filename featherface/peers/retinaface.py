"""RetinaFace-mnet0.25 as a detector: the package's own implementation of the published network
(``create_model("retinaface-mnet025")``) with the authors' WIDER-trained weights read by path.

The weights are not shipped (they are other authors' release file); the default location is
``$FEATHERFACE_RETINAFACE_WEIGHTS`` or ``../shared/weights/retinaface_mnet025_Final.pth``.
"""

from __future__ import annotations

import os
from pathlib import Path

from featherface.inference.detector import FaceDetector
from featherface.inference.options import DetectorOptions
from featherface.peers.base import PeerUnavailableError, peers_dir

RETINAFACE_ENV = "FEATHERFACE_RETINAFACE_WEIGHTS"
RETINAFACE_FILE = "retinaface_mnet025_Final.pth"
RETINAFACE_MODEL = "retinaface-mnet025"


def default_retinaface_weights() -> Path:
    """Where the RetinaFace-mnet0.25 release file is looked for when no path is given."""
    env = os.environ.get(RETINAFACE_ENV)
    if env:
        return Path(env).expanduser()
    return peers_dir().parent / "weights" / RETINAFACE_FILE


def resolve_retinaface_weights(path: str | os.PathLike | None = None) -> Path:
    """``path`` or the default file; :class:`PeerUnavailableError` naming the file when absent."""
    p = Path(path).expanduser() if path else default_retinaface_weights()
    if not p.is_file():
        hint = "" if path else f" (set {RETINAFACE_ENV} or pass retinaface:PATH)"
        raise PeerUnavailableError(f"retinaface: weights file {p} not found{hint}")
    return p


def build_retinaface(path: str | os.PathLike | None = None, score_threshold: float = DetectorOptions.score_threshold,
                     nms_threshold: float = DetectorOptions.nms_threshold, name: str = "retinaface", **kwargs):
    """A :class:`~featherface.inference.detector.FaceDetector` running RetinaFace-mnet0.25.

    ``path`` is the release file (or a FeatherFace weights file of ``retinaface-mnet025``);
    ``None`` looks in the default place (:func:`default_retinaface_weights`). Other ``kwargs``
    (``input_size``, ``threads``, ``device``, ``backend``...) go to the detector. Raises
    :class:`PeerUnavailableError` when the file is missing, :class:`~featherface.errors.WeightsError`
    when it is not RetinaFace-mnet0.25 weights.
    """
    det = FaceDetector(RETINAFACE_MODEL, weights=resolve_retinaface_weights(path),
                       score_threshold=score_threshold, nms_threshold=nms_threshold, **kwargs)
    det.name = name
    det.gives_landmarks = True  # type: ignore[attr-defined]  # read by featherface.tools.compare.run.describe_detector
    return det
