"""Face alignment: the 5-point similarity transform that face-recognition models expect.

Recognition networks (ArcFace and its descendants) are trained on 112x112 crops in which the five
landmarks sit at fixed template positions; a crop aligned any other way costs them accuracy. The
transform is the least-squares *similarity* (rotation, uniform scale, translation — no shear, so
the face is not distorted) from the detected landmarks to the template, solved in closed form
(Umeyama, 1991).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

__all__ = ["ARCFACE_TEMPLATE_112", "BORDERS", "CROP_MARGIN_RANGE", "CROP_SIZE_RANGE", "CropOptions",
           "alignment_template", "similarity_transform", "align_face"]

BORDERS = ("constant", "replicate")
CROP_MARGIN_RANGE = (0.0, 4.0)
# crop sides the crop verb and /v1/crop accept (align_face takes any side from 16): 1024 is already
# 9x the recognition standard
CROP_SIZE_RANGE = (16, 1024)


@dataclass(frozen=True)
class CropOptions:
    """The aligned crop: the one home of the defaults of :func:`align_face`,
    :meth:`Face.align <featherface.types.Face.align>`, ``featherface crop`` (its flags) and the
    service's ``/v1/crop`` (its query options). Checked where used, not here."""

    size: int = 112  # the side of the ArcFace recognition crop, the standard of open recognition models
    margin: float = 0.0  # 0: the standard crop; more shows more around the face (alignment_template)
    border: str = "constant"  # outside the photo: black ("constant") or its edge repeated ("replicate")

    def kwargs(self) -> dict[str, Any]:
        """The keywords of ``align_face(image, landmarks, **...)``."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def replace(self, **changes: Any) -> "CropOptions":
        return dataclasses.replace(self, **changes)

# Landmark positions of the ArcFace / insightface 112x112 recognition crop (left eye, right eye,
# nose tip, left and right mouth corner, as seen in the image). Published with ArcFace
# (Deng et al., 2019; insightface, MIT); the de-facto standard of open recognition models.
ARCFACE_TEMPLATE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)


def alignment_template(size: int = CropOptions.size, margin: float = CropOptions.margin) -> np.ndarray:
    """The five target points for a ``size`` x ``size`` crop.

    ``margin`` widens the view around the face: the template is shrunk towards the crop centre so
    that the ArcFace crop occupies ``1 / (1 + 2 * margin)`` of each side (0 = the standard crop;
    0.25 shows a quarter of the face's width more on each side, e.g. for hair or a face-attribute
    model).
    """
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 16:
        raise ValueError(f"align size must be an integer >= 16, got {size!r}")
    margin = float(margin)
    lo, hi = CROP_MARGIN_RANGE
    if not (lo <= margin <= hi) or margin != margin:
        raise ValueError(f"align margin must be in [{lo:g}, {hi:g}], got {margin}")
    centre = 56.0
    pts = centre + (ARCFACE_TEMPLATE_112 - centre) / (1.0 + 2.0 * margin)
    return pts * (float(size) / 112.0)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 matrix ``M`` of the similarity that best maps ``src`` points onto ``dst`` (least squares).

    ``dst ≈ M[:, :2] @ src + M[:, 2]``; a reflection is never chosen (a mirrored face is not the
    same face)."""
    src = np.asarray(src, dtype=np.float64).reshape(-1, 2)
    dst = np.asarray(dst, dtype=np.float64).reshape(-1, 2)
    if src.shape != dst.shape or len(src) < 2:
        raise ValueError(f"similarity_transform needs two equal sets of >= 2 points, got {src.shape} and {dst.shape}")
    if not (np.isfinite(src).all() and np.isfinite(dst).all()):
        raise ValueError("similarity_transform: landmarks must be finite")
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s0, d0 = src - mu_s, dst - mu_d
    var_s = (s0 ** 2).sum() / len(src)
    if var_s <= 1e-12:
        raise ValueError("similarity_transform: the landmarks coincide (a degenerate face)")
    cov = d0.T @ s0 / len(src)
    u, sig, vt = np.linalg.svd(cov)
    flip = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        flip[1, 1] = -1.0
    rot = u @ flip @ vt
    scale = float((sig * np.diag(flip)).sum() / var_s)
    m = np.empty((2, 3), dtype=np.float64)
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - scale * rot @ mu_s
    return m


def align_face(image: np.ndarray, landmarks: Sequence[Sequence[float]] | np.ndarray, size: int = CropOptions.size,
               margin: float = CropOptions.margin, border: str = CropOptions.border) -> np.ndarray:
    """The aligned ``size`` x ``size`` crop of the face whose five ``landmarks`` (x, y) are given.

    ``border``: ``"constant"`` fills outside the photo with black, ``"replicate"`` repeats its edge.
    Returns a new uint8 array with the image's channels.
    """
    import cv2  # on use: ``featherface --help`` and ``import featherface`` read CropOptions from here

    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3) or image.size == 0:
        raise ValueError("align_face: image must be a non-empty HxW or HxWxC numpy array")
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.shape != (5, 2):
        raise ValueError(f"align_face needs 5 (x, y) landmarks, got an array of shape {pts.shape}")
    modes = dict(zip(BORDERS, (cv2.BORDER_CONSTANT, cv2.BORDER_REPLICATE)))
    if border not in modes:
        raise ValueError(f"align_face: border must be one of {sorted(modes)}, got {border!r}")
    m = similarity_transform(pts, alignment_template(size, margin))
    return cv2.warpAffine(image, m, (int(size), int(size)), flags=cv2.INTER_LINEAR, borderMode=modes[border],
                          borderValue=0)
